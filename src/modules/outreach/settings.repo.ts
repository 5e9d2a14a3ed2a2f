import type { Executor } from '../../db/client.js';

export function findSettings(db: Executor, tenantId: string) {
  return db.selectFrom('outreach_settings').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
}

export function putSettings(db: Executor, row: { tenant_id: string; frequency_cap: string | null; quiet_hours: string | null; default_time_zone: string; updated_at: Date }) {
  return db
    .insertInto('outreach_settings')
    .values(row)
    .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ frequency_cap: row.frequency_cap, quiet_hours: row.quiet_hours, default_time_zone: row.default_time_zone, updated_at: row.updated_at }))
    .returningAll()
    .executeTakeFirstOrThrow();
}
