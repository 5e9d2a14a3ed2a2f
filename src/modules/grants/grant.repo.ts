import { type Selectable, sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { GrantStatus, GrantTable } from './grant.tables.js';

export type GrantRow = Selectable<GrantTable>;

export interface Visibility {
  tenantId: string;
  productCodes: readonly string[] | null;
}

export function findGrant(db: Executor, v: Visibility, grantId: string, options: { forUpdate?: boolean } = {}) {
  let q = db.selectFrom('reward_grant').selectAll().where('tenant_id', '=', v.tenantId).where('grant_id', '=', grantId);
  if (v.productCodes) q = q.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  if (options.forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

export function findGrantBySource(db: Executor, tenantId: string, source: string, sourceId: string, rewardId: string) {
  return db
    .selectFrom('reward_grant')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('source', '=', source)
    .where('source_id', '=', sourceId)
    .where('reward_id', '=', rewardId)
    .executeTakeFirst();
}

export async function listGrants(
  db: Executor,
  v: Visibility,
  f: { rewardId?: string; campaignId?: string; userId?: string; status?: GrantStatus; from?: Date | null; to?: Date | null },
  page: { limit: number; offset: number },
) {
  let q = db.selectFrom('reward_grant').where('tenant_id', '=', v.tenantId);
  if (v.productCodes) q = q.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  if (f.rewardId) q = q.where('reward_id', '=', f.rewardId);
  if (f.campaignId) q = q.where('campaign_id', '=', f.campaignId);
  if (f.userId) q = q.where('user_id', '=', f.userId);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.from) q = q.where('created_at', '>=', f.from);
  if (f.to) q = q.where('created_at', '<', f.to);
  const [rows, total] = await Promise.all([
    q.selectAll().orderBy('created_at', 'desc').orderBy('grant_id', 'desc').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

export function readCounter(db: Executor, k: { tenantId: string; rewardId: string; userId: string; periodKey: string }) {
  return db
    .selectFrom('reward_user_counter')
    .select(['granted', 'last_granted_at'])
    .where('tenant_id', '=', k.tenantId)
    .where('reward_id', '=', k.rewardId)
    .where('user_id', '=', k.userId)
    .where('period_key', '=', k.periodKey)
    .executeTakeFirst();
}

/** A revoked grant stops counting against the user's limit. */
export async function uncount(db: Executor, k: { tenantId: string; rewardId: string; userId: string; periodKey: string }, quantity: number) {
  await sql`update reward_user_counter set granted = greatest(granted - ${quantity}, 0)
            where tenant_id = ${k.tenantId} and reward_id = ${k.rewardId} and user_id = ${k.userId} and period_key = ${k.periodKey}`.execute(db);
}

/** Moves a grant to `to` only from one of `from`: one conditional UPDATE. */
export function transitionGrant(
  db: Executor,
  tenantId: string,
  grantId: string,
  from: readonly GrantStatus[],
  changes: Partial<Pick<GrantRow, 'status' | 'used_at' | 'revoked_at' | 'revoke_reason' | 'updated_at'>>,
) {
  return db
    .updateTable('reward_grant')
    .set(changes)
    .where('tenant_id', '=', tenantId)
    .where('grant_id', '=', grantId)
    .where('status', 'in', from)
    .returningAll()
    .executeTakeFirst();
}

export function setDelivery(
  db: Executor,
  tenantId: string,
  grantId: string,
  changes: Partial<Pick<GrantRow, 'status' | 'delivery_status' | 'delivery_attempts' | 'delivery_last_error' | 'delivered_at' | 'updated_at'>>,
  onlyIfStatus?: readonly GrantStatus[],
) {
  let q = db.updateTable('reward_grant').set(changes).where('tenant_id', '=', tenantId).where('grant_id', '=', grantId);
  if (onlyIfStatus) q = q.where('status', 'in', onlyIfStatus);
  return q.returningAll().executeTakeFirst();
}

/** The grant's payload replaced (a COUPON grant's issued coupons, written in the grant's transaction). */
export function setPayload(db: Executor, tenantId: string, grantId: string, payload: Record<string, unknown>) {
  return db
    .updateTable('reward_grant')
    .set({ payload: JSON.stringify(payload) })
    .where('tenant_id', '=', tenantId)
    .where('grant_id', '=', grantId)
    .returningAll()
    .executeTakeFirstOrThrow();
}
