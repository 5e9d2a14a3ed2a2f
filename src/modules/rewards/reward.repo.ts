import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Executor } from '../../db/client.js';
import { constraintName, escapeLike, isCheckViolation, isForeignKeyViolation } from '../../db/errors.js';
import { invalidRequest } from '../../platform/errors.js';
import { rewardErrors } from './reward.errors.js';
import type { RewardTable } from './reward.tables.js';

export type RewardRow = Selectable<RewardTable>;

export interface Visibility {
  tenantId: string;
  productCodes: readonly string[] | null;
}

function translate(err: unknown, productCode: string | undefined): never {
  if (isCheckViolation(err) && constraintName(err) === 'reward_validity_order') throw invalidRequest('valid_until', 'must be after valid_from');
  if (isForeignKeyViolation(err)) throw rewardErrors.unknownProductCode(productCode);
  throw err;
}

export async function insertReward(db: Executor, row: Insertable<RewardTable>): Promise<RewardRow> {
  try {
    return await db.insertInto('reward').values(row).returningAll().executeTakeFirstOrThrow();
  } catch (err) {
    translate(err, row.product_code);
  }
}

export function findReward(db: Executor, v: Visibility, rewardId: string, options: { forUpdate?: boolean } = {}) {
  let q = db.selectFrom('reward').selectAll().where('tenant_id', '=', v.tenantId).where('reward_id', '=', rewardId).where('deleted_at', 'is', null);
  if (v.productCodes) q = q.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  if (options.forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function listRewards(
  db: Executor,
  v: Visibility,
  filter: { rewardType?: string | undefined; campaignId?: string | undefined; productCode?: string | undefined; name?: string | undefined },
  page: { limit: number; offset: number },
) {
  let q = db.selectFrom('reward').where('tenant_id', '=', v.tenantId).where('deleted_at', 'is', null);
  if (v.productCodes) q = q.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  if (filter.rewardType) q = q.where('reward_type', '=', filter.rewardType as RewardRow['reward_type']);
  if (filter.campaignId) q = q.where('campaign_id', '=', filter.campaignId);
  if (filter.productCode) q = q.where('product_code', '=', filter.productCode);
  if (filter.name) q = q.where('reward_name', 'ilike', `%${escapeLike(filter.name)}%`);
  const [rows, total] = await Promise.all([
    q.selectAll().orderBy('created_at', 'desc').orderBy('reward_id', 'desc').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

export async function updateReward(db: Executor, tenantId: string, rewardId: string, changes: Updateable<RewardTable>) {
  try {
    return await db
      .updateTable('reward')
      .set((eb) => ({ ...changes, version: eb('version', '+', 1) }))
      .where('tenant_id', '=', tenantId)
      .where('reward_id', '=', rewardId)
      .where('deleted_at', 'is', null)
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (err) {
    translate(err, changes.product_code);
  }
}

export function softDeleteReward(db: Executor, v: Visibility, rewardId: string, at: Date) {
  let q = db
    .updateTable('reward')
    .set({ deleted_at: at, updated_at: at })
    .where('tenant_id', '=', v.tenantId)
    .where('reward_id', '=', rewardId)
    .where('deleted_at', 'is', null);
  if (v.productCodes) q = q.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  return q.returning('reward_id').executeTakeFirst();
}
