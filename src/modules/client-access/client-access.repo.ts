import { sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { PublishableKeyTable, UserTokenKeyTable } from './client-access.tables.js';

const on = (exec: Executor) => exec;

export type PublishableKeyRow = PublishableKeyTable;
export type TokenKeyRow = UserTokenKeyTable;

export async function insertPublishableKey(exec: Executor, row: PublishableKeyTable): Promise<PublishableKeyRow> {
  return on(exec).insertInto('publishable_key').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function listPublishableKeys(exec: Executor, tenantId: string, productCode: string): Promise<PublishableKeyRow[]> {
  return on(exec)
    .selectFrom('publishable_key')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('product_code', '=', productCode)
    .orderBy('created_at', 'desc')
    .orderBy('key_id', 'desc')
    .limit(500)
    .execute();
}

/** Revokes an active key; undefined when the app has no such key (a revoked one stays revoked at its first time). */
export async function revokePublishableKey(exec: Executor, tenantId: string, productCode: string, keyId: string, now: Date): Promise<PublishableKeyRow | undefined> {
  return on(exec)
    .updateTable('publishable_key')
    .set({ revoked_at: sql<Date>`coalesce(revoked_at, ${now})` })
    .where('tenant_id', '=', tenantId)
    .where('product_code', '=', productCode)
    .where('key_id', '=', keyId)
    .returningAll()
    .executeTakeFirst();
}

export async function findPublishableKeyByHash(exec: Executor, keyHash: string): Promise<PublishableKeyRow | undefined> {
  return on(exec).selectFrom('publishable_key').selectAll().where('key_hash', '=', keyHash).executeTakeFirst();
}

/** Whether any active publishable key (of any tenant) allows this origin: the CORS preflight's question. */
export async function originRegistered(exec: Executor, origin: string): Promise<boolean> {
  const row = await on(exec)
    .selectFrom('publishable_key')
    .select(sql<number>`1`.as('one'))
    .where('revoked_at', 'is', null)
    .where(sql<boolean>`${origin} = any(allowed_origins)`)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export async function insertTokenKey(exec: Executor, row: UserTokenKeyTable): Promise<TokenKeyRow> {
  return on(exec).insertInto('user_token_key').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function listTokenKeys(exec: Executor, tenantId: string, productCode: string): Promise<TokenKeyRow[]> {
  return on(exec)
    .selectFrom('user_token_key')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('product_code', '=', productCode)
    .orderBy('created_at', 'desc')
    .orderBy('kid', 'desc')
    .limit(500)
    .execute();
}

export async function revokeTokenKey(exec: Executor, tenantId: string, productCode: string, kid: string, now: Date): Promise<TokenKeyRow | undefined> {
  return on(exec)
    .updateTable('user_token_key')
    .set({ revoked_at: sql<Date>`coalesce(revoked_at, ${now})` })
    .where('tenant_id', '=', tenantId)
    .where('product_code', '=', productCode)
    .where('kid', '=', kid)
    .returningAll()
    .executeTakeFirst();
}

export async function findTokenKey(exec: Executor, tenantId: string, productCode: string, kid: string): Promise<TokenKeyRow | undefined> {
  return on(exec)
    .selectFrom('user_token_key')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('product_code', '=', productCode)
    .where('kid', '=', kid)
    .executeTakeFirst();
}
