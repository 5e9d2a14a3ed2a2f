import type { Selectable } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { MediaTable, MediaTables } from './media.tables.js';

// The tables are declared beside the module (media.tables.ts); `withTables` adds them to the executor's types.
const on = (exec: Executor) => exec.withTables<Pick<MediaTables, keyof MediaTables>>();

export type MediaRow = Selectable<MediaTable>;
export type MediaInfo = Omit<MediaRow, 'data'>;

/** Stores the image unless it is there (same bytes, same id) and records the tenant as an owner. */
export async function saveMedia(exec: Executor, row: MediaRow, tenantId: string): Promise<void> {
  await on(exec).insertInto('media').values(row).onConflict((oc) => oc.column('media_id').doNothing()).execute();
  await on(exec)
    .insertInto('media_owner')
    .values({ tenant_id: tenantId, media_id: row.media_id, created_at: row.created_at })
    .onConflict((oc) => oc.columns(['tenant_id', 'media_id']).doNothing())
    .execute();
}

export function findMedia(exec: Executor, mediaId: string): Promise<MediaRow | undefined> {
  return on(exec).selectFrom('media').selectAll().where('media_id', '=', mediaId).executeTakeFirst();
}

/** A page of the tenant's uploads, newest first, and how many there are. */
export async function listMedia(exec: Executor, tenantId: string, limit: number, offset: number): Promise<{ rows: (MediaInfo & { uploaded_at: Date })[]; total: number }> {
  const rows = await on(exec)
    .selectFrom('media_owner as o')
    .innerJoin('media as m', 'm.media_id', 'o.media_id')
    .select(['m.media_id', 'm.content_type', 'm.ext', 'm.width', 'm.height', 'm.bytes', 'm.created_at', 'o.created_at as uploaded_at'])
    .where('o.tenant_id', '=', tenantId)
    .orderBy('o.created_at', 'desc')
    .orderBy('o.media_id')
    .limit(limit)
    .offset(offset)
    .execute();
  const count = await on(exec).selectFrom('media_owner').select((eb) => eb.fn.countAll<string>().as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
  return { rows, total: Number(count.n) };
}
