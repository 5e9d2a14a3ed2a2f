/** The outreach API's shapes as the generated types spell them, and the small helpers the pages share. */
import { computed } from 'vue';
import type { paths } from '../../api';
import { session } from '../../session';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
export type Template = Json<paths['/v1/outreach/templates/{template_id}']['get']['responses'][200]>;
export type TemplateContent = paths['/v1/outreach/templates']['post']['requestBody']['content']['application/json']['content'];
export type Preview = Json<paths['/v1/outreach/templates/preview']['post']['responses'][200]>;
export type OutreachCampaign = Json<paths['/v1/outreach/campaigns/{campaign_id}']['get']['responses'][200]>;
export type CampaignBody = paths['/v1/outreach/campaigns']['post']['requestBody']['content']['application/json'];
export type Run = Json<paths['/v1/outreach/runs/{run_id}']['get']['responses'][200]>;
export type Stats = Run['stats'];
export type CampaignStats = Json<paths['/v1/outreach/campaigns/{campaign_id}/stats']['get']['responses'][200]>;
export type OutreachRecord = Json<paths['/v1/outreach/records/{record_id}']['get']['responses'][200]>;

export type Channel = Template['channel'];
export const CHANNELS: Channel[] = ['sms', 'email', 'push_notification', 'webhook'];
export const CAMPAIGN_STATUSES = ['draft', 'scheduled', 'active', 'paused', 'completed', 'archived'] as const;
export const RUN_STATUSES = ['resolving', 'sending', 'paused', 'cancelled', 'completed'] as const;
export const RECORD_STATUSES = ['pending', 'held', 'sending', 'deferred', 'sent', 'delivered', 'failed', 'opened', 'clicked', 'skipped', 'cancelled', 'would_send'] as const;

type Tag = 'default' | 'info' | 'success' | 'warning' | 'error';
const TAGS: Record<string, Tag> = {
  draft: 'default',
  scheduled: 'info',
  active: 'success',
  resolving: 'info',
  sending: 'success',
  paused: 'warning',
  completed: 'default',
  cancelled: 'error',
  archived: 'error',
  delivered: 'success',
  sent: 'success',
  opened: 'success',
  clicked: 'success',
  would_send: 'info',
  failed: 'error',
  skipped: 'warning',
  deferred: 'warning',
  held: 'info',
};
export const tagOf = (status: string): Tag => TAGS[status] ?? 'default';

/** The fields of each channel's content, in the order the form shows them. */
export const CONTENT_FIELDS: Record<Channel, { key: string; multiline: boolean }[]> = {
  sms: [{ key: 'text', multiline: true }],
  email: [
    { key: 'subject', multiline: false },
    { key: 'html', multiline: true },
    { key: 'text', multiline: true },
  ],
  push_notification: [
    { key: 'title', multiline: false },
    { key: 'body', multiline: true },
  ],
  webhook: [{ key: 'json', multiline: true }],
};

/** Form texts of a content (webhook JSON as text). */
export function contentToForm(channel: Channel, content: unknown): Record<string, string> {
  const c = (content ?? {}) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const f of CONTENT_FIELDS[channel]) {
    const v = c[f.key];
    out[f.key] = f.key === 'json' ? (v === undefined ? '' : JSON.stringify(v, null, 2)) : typeof v === 'string' ? v : '';
  }
  return out;
}

/** The API's content from the form texts; a webhook body that is not JSON throws `bad_json`. */
export function formToContent(channel: Channel, form: Record<string, string>): TemplateContent {
  if (channel === 'webhook') {
    try {
      return { json: JSON.parse(form.json || 'null') as unknown };
    } catch {
      throw new Error('bad_json');
    }
  }
  const out: Record<string, string> = {};
  for (const f of CONTENT_FIELDS[channel]) out[f.key] = form[f.key] ?? '';
  return out as TemplateContent;
}

/** A percentage of a rate (0..1), or a dash when the API has none. */
export const percent = (rate: number | null | undefined) => (rate === null || rate === undefined ? '—' : `${(rate * 100).toFixed(1)}%`);

/** Whether the signed-in operator may change things (viewers read only; the API refuses them anyway). */
export const canWrite = computed(() => session.operator?.role === 'admin' || session.operator?.role === 'operator');
export const isAdmin = computed(() => session.operator?.role === 'admin');

/** Share (0-100) of a run's planned messages that are settled (no longer pending, deferred, held or sending). */
export function settled(r: Run): number {
  if (!r.planned) return r.status === 'completed' || r.status === 'cancelled' ? 100 : 0;
  return Math.max(0, Math.min(100, Math.round(((r.planned - r.stats.remaining) / r.planned) * 100)));
}

/** Seconds as "1 h 2 min 3 s". */
export function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [h ? `${h} h` : '', m ? `${m} min` : '', `${s} s`].filter(Boolean).join(' ');
}
