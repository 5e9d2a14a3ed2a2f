import { type Insertable, type Selectable, sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { ReferralRefundTable } from './referral.tables.js';
import type { RewardRow } from './referral.repo.js';

/** Refunds of referral orders and the users' debts (what reversed rewards could not take back). */

export type RefundRow = Selectable<ReferralRefundTable>;

export function findRefundByOrder(exec: Executor, orderId: string): Promise<RefundRow | undefined> {
  return exec.selectFrom('referral_refund').selectAll().where('order_id', '=', orderId).executeTakeFirst();
}

export function findRefund(exec: Executor, outRefundNo: string): Promise<RefundRow | undefined> {
  return exec.selectFrom('referral_refund').selectAll().where('out_refund_no', '=', outRefundNo).executeTakeFirst();
}

/** The refund of an order once (one per order and per out_refund_no): undefined when there is one. */
export function insertRefund(exec: Executor, row: Insertable<ReferralRefundTable>): Promise<RefundRow | undefined> {
  return exec.insertInto('referral_refund').values(row).onConflict((oc) => oc.doNothing()).returningAll().executeTakeFirst();
}

/** The provider's refund id, once known (the answer to the request or the notice, whichever first). */
export async function setRefundId(exec: Executor, outRefundNo: string, refundId: string): Promise<void> {
  await exec.updateTable('referral_refund').set({ refund_id: refundId }).where('out_refund_no', '=', outRefundNo).where('refund_id', 'is', null).execute();
}

/** requested -> succeeded in one conditional statement: of parallel notices exactly one gets the row. */
export function succeedRefund(exec: Executor, outRefundNo: string, refundId: string, now: Date): Promise<RefundRow | undefined> {
  return exec
    .updateTable('referral_refund')
    .set({ status: 'succeeded', refund_id: sql<string>`coalesce(refund_id, ${refundId})`, settled_at: now })
    .where('out_refund_no', '=', outRefundNo)
    .where('status', '=', 'requested')
    .returningAll()
    .executeTakeFirst();
}

/** paid -> refunded (status and pay_status); an order that was not paid keeps its status. */
export async function markRefunded(exec: Executor, orderId: string, now: Date): Promise<void> {
  await exec
    .updateTable('referral_order')
    .set({ status: sql<'refunded'>`case when status = 'paid' then 'refunded' else status end`, pay_status: 'refunded', updated_at: now })
    .where('order_id', '=', orderId)
    .execute();
}

/** The order's settled rewards -> reversed, in one statement (answers those it reversed). */
export function reverseRewards(exec: Executor, orderId: string, now: Date): Promise<RewardRow[]> {
  return exec
    .updateTable('referral_reward')
    .set({ status: 'reversed', reversed_at: now })
    .where('order_id', '=', orderId)
    .where('status', '=', 'settled')
    .returningAll()
    .execute();
}

export async function setReversal(exec: Executor, rewardId: string, clawedBack: number, debt: number): Promise<void> {
  await exec.updateTable('referral_reward').set({ clawed_back: clawedBack, debt }).where('reward_id', '=', rewardId).execute();
}

export async function setRewardDebtPaid(exec: Executor, rewardId: string, debtPaid: number): Promise<void> {
  await exec.updateTable('referral_reward').set({ debt_paid: debtPaid }).where('reward_id', '=', rewardId).execute();
}

/** More debt for the user, in one statement. */
export async function addDebt(exec: Executor, tenantId: string, userId: string, amount: number, now: Date): Promise<void> {
  await exec
    .insertInto('referral_debt')
    .values({ tenant_id: tenantId, user_id: userId, amount, incurred: amount, paid: 0, updated_at: now })
    .onConflict((oc) =>
      oc.columns(['tenant_id', 'user_id']).doUpdateSet({
        amount: sql<number>`referral_debt.amount + excluded.amount`,
        incurred: sql<number>`referral_debt.incurred + excluded.incurred`,
        updated_at: now,
      }),
    )
    .execute();
}

/**
 * Pays up to `available` of the user's debt in one statement (the row lock of the update orders
 * racing payers; every SET reads the row as it was): answers what it paid, 0 without a debt.
 */
export async function payDebt(exec: Executor, tenantId: string, userId: string, available: number, now: Date): Promise<number> {
  const row = await exec
    .updateTable('referral_debt')
    .set({
      amount: sql<number>`amount - least(amount, ${available}::int8)`,
      paid: sql<number>`paid + least(amount, ${available}::int8)`,
      last_paid: sql<number>`least(amount, ${available}::int8)`,
      updated_at: now,
    })
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('amount', '>', 0)
    .returning('last_paid')
    .executeTakeFirst();
  return row ? Number(row.last_paid) : 0;
}

export async function findDebt(exec: Executor, tenantId: string, userId: string): Promise<number> {
  const row = await exec.selectFrom('referral_debt').select('amount').where('tenant_id', '=', tenantId).where('user_id', '=', userId).executeTakeFirst();
  return row ? Number(row.amount) : 0;
}
