import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Executor } from '../../db/client.js';
import { escapeLike, isUniqueViolation } from '../../db/errors.js';
import { tenantErrors } from './tenant.errors.js';
import type { ApiKeyTable, TenantTable, TenantType } from './tenant.tables.js';

export type TenantRow = Selectable<TenantTable>;
export type ApiKeyRow = Selectable<ApiKeyTable>;

export async function insertTenant(db: Executor, row: Insertable<TenantTable>): Promise<TenantRow> {
  try {
    return await db.insertInto('tenant').values(row).returningAll().executeTakeFirstOrThrow();
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw tenantErrors.alreadyExists(row.tenant_id);
    }
    throw err;
  }
}

export function findTenant(db: Executor, tenantId: string): Promise<TenantRow | undefined> {
  return db.selectFrom('tenant').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
}

export function updateTenant(db: Executor, tenantId: string, changes: Updateable<TenantTable>): Promise<TenantRow | undefined> {
  return db.updateTable('tenant').set(changes).where('tenant_id', '=', tenantId).returningAll().executeTakeFirst();
}

/** `search`: the id or the name contains it (case-insensitive; % and _ match themselves). */
export async function listTenants(db: Executor, page: { limit: number; offset: number }, tenantType?: TenantType, search?: string) {
  let query = db.selectFrom('tenant');
  if (tenantType) query = query.where('tenant_type', '=', tenantType);
  if (search) {
    const pattern = `%${escapeLike(search)}%`;
    query = query.where((eb) => eb.or([eb('tenant_id', 'ilike', pattern), eb('name', 'ilike', pattern)]));
  }
  const [rows, total] = await Promise.all([
    query.selectAll().orderBy('created_at', 'desc').orderBy('tenant_id').limit(page.limit).offset(page.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

export async function insertApiKey(db: Executor, row: ApiKeyRow): Promise<ApiKeyRow> {
  return db.insertInto('api_key').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findApiKeyByPrefix(db: Executor, prefix: string): Promise<ApiKeyRow | undefined> {
  return db.selectFrom('api_key').selectAll().where('prefix', '=', prefix).executeTakeFirst();
}

export async function listApiKeys(
  db: Executor,
  tenantId: string,
  options: { limit: number; offset: number; includeRevoked: boolean },
) {
  let query = db.selectFrom('api_key').where('tenant_id', '=', tenantId);
  if (!options.includeRevoked) query = query.where('revoked_at', 'is', null);
  const [rows, total] = await Promise.all([
    query.selectAll().orderBy('created_at', 'desc').orderBy('key_id', 'desc').limit(options.limit).offset(options.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

/** Revokes once: a second revoke leaves the first revoked_at in place. */
export async function revokeApiKey(db: Executor, tenantId: string, keyId: string, at: Date): Promise<ApiKeyRow | undefined> {
  await db
    .updateTable('api_key')
    .set({ revoked_at: at })
    .where('tenant_id', '=', tenantId)
    .where('key_id', '=', keyId)
    .where('revoked_at', 'is', null)
    .execute();
  return db.selectFrom('api_key').selectAll().where('tenant_id', '=', tenantId).where('key_id', '=', keyId).executeTakeFirst();
}

/** Notes use at most once a minute per key, so busy keys do not write on every request. */
export async function touchApiKey(db: Executor, tenantId: string, keyId: string, at: Date): Promise<void> {
  await db
    .updateTable('api_key')
    .set({ last_used_at: at })
    .where('tenant_id', '=', tenantId)
    .where('key_id', '=', keyId)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', new Date(at.getTime() - 60_000))]))
    .execute();
}
