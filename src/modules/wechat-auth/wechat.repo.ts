import type { Executor } from '../../db/client.js';
import type { WechatAppTable, WechatAuthTables } from './wechat.tables.js';

// The table is declared here (wechat.tables.ts); `withTables` adds it to the executor's types
// without every other module's DB type having to know it.
const on = (exec: Executor) => exec.withTables<Pick<WechatAuthTables, 'wechat_app'>>();

export type WechatAppRow = WechatAppTable;

/** Creates or replaces a tenant's app (one statement: a concurrent PUT of the same app is last-writer-wins). */
export async function upsertApp(exec: Executor, row: WechatAppTable): Promise<WechatAppRow> {
  return on(exec)
    .insertInto('wechat_app')
    .values(row)
    .onConflict((oc) => oc.columns(['tenant_id', 'app_id']).doUpdateSet({ name: row.name, secret_sealed: row.secret_sealed, updated_at: row.updated_at }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findApp(exec: Executor, tenantId: string, appId: string): Promise<WechatAppRow | undefined> {
  return on(exec).selectFrom('wechat_app').selectAll().where('tenant_id', '=', tenantId).where('app_id', '=', appId).executeTakeFirst();
}

/** Up to `limit` apps of the tenant (the sign-in uses the only one when the request names none). */
export async function listApps(exec: Executor, tenantId: string, limit: number): Promise<WechatAppRow[]> {
  return on(exec).selectFrom('wechat_app').selectAll().where('tenant_id', '=', tenantId).orderBy('app_id').limit(limit).execute();
}
