import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { OutreachProviderTable } from './outreach.tables.js';

export type ProviderRow = Selectable<OutreachProviderTable>;

export function insertProvider(db: Executor, row: Insertable<OutreachProviderTable>): Promise<ProviderRow> {
  return db.insertInto('outreach_provider').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findProvider(db: Executor, tenantId: string, providerId: string): Promise<ProviderRow | undefined> {
  return db
    .selectFrom('outreach_provider')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('provider_id', '=', providerId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

/** A provider by id alone (callback endpoints name the provider, not the tenant). */
export function findProviderById(db: Executor, providerId: string): Promise<ProviderRow | undefined> {
  return db.selectFrom('outreach_provider').selectAll().where('provider_id', '=', providerId).where('deleted_at', 'is', null).executeTakeFirst();
}

export function findDefaultProvider(db: Executor, tenantId: string, channel: string): Promise<ProviderRow | undefined> {
  return db
    .selectFrom('outreach_provider')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('channel', '=', channel)
    .where('is_default', '=', true)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

export function listProviders(db: Executor, tenantId: string) {
  return db
    .selectFrom('outreach_provider')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('deleted_at', 'is', null)
    .orderBy('created_at', 'desc')
    .execute();
}

export function updateProvider(db: Executor, tenantId: string, providerId: string, change: Updateable<OutreachProviderTable>) {
  return db
    .updateTable('outreach_provider')
    .set(change)
    .where('tenant_id', '=', tenantId)
    .where('provider_id', '=', providerId)
    .where('deleted_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/** Clears the channel's default (before another provider becomes it). */
export async function clearDefault(db: Executor, tenantId: string, channel: string): Promise<void> {
  await db
    .updateTable('outreach_provider')
    .set({ is_default: false })
    .where('tenant_id', '=', tenantId)
    .where('channel', '=', channel)
    .where('is_default', '=', true)
    .execute();
}
