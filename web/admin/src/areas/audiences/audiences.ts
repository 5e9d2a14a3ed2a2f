/** The audience shapes the audience pages share. */
import type { paths } from '../../api';

export type Audience = paths['/v1/audiences/{audience_id}']['get']['responses'][200]['content']['application/json'];
export type AudienceType = Audience['audience_type'];
export const AUDIENCE_TYPES: AudienceType[] = ['TAG', 'SEGMENT', 'LIST'];
export type Preview = paths['/v1/audiences/{audience_id}/preview']['get']['responses'][200]['content']['application/json'];
export type PreviewRow = Preview['customers'][number];
export type MembersReport = paths['/v1/audiences/{audience_id}/members/import']['post']['responses'][200]['content']['application/json'];

/** A preview row's tags and attributes in one short line. */
export function summary(row: { tags: string[] | null; attributes: Record<string, unknown> | null }): string {
  const attributes = Object.entries(row.attributes ?? {})
    .slice(0, 4)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return [...(row.tags ?? []).map((tag) => `#${tag}`), ...attributes].join('  ') || '—';
}
