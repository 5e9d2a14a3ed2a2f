import { type Insertable, type Selectable, sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import { isUniqueViolation } from '../../db/errors.js';
import { referralErrors } from './referral.errors.js';
import type { ReferralCampaignTable, ReferralOrderTable, ReferralRewardTable } from './referral.tables.js';

export type SettingsRow = Selectable<ReferralCampaignTable>;
export type OrderRow = Selectable<ReferralOrderTable>;
export type RewardRow = Selectable<ReferralRewardTable>;

/** Creates or replaces the referral settings of a campaign (version + 1 on each change). */
export async function upsertSettings(exec: Executor, row: Insertable<ReferralCampaignTable>): Promise<SettingsRow> {
  const { tenant_id: _t, campaign_id: _c, created_at: _a, ...changes } = row;
  return exec
    .insertInto('referral_campaign')
    .values(row)
    .onConflict((oc) => oc.columns(['tenant_id', 'campaign_id']).doUpdateSet({ ...changes, version: sql<number>`referral_campaign.version + 1` }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findSettings(exec: Executor, tenantId: string, campaignId: string): Promise<SettingsRow | undefined> {
  return exec.selectFrom('referral_campaign').selectAll().where('tenant_id', '=', tenantId).where('campaign_id', '=', campaignId).executeTakeFirst();
}

/** Keyless routes: the settings (and so the tenant) of a campaign named by id only. */
export function findSettingsByCampaign(exec: Executor, campaignId: string): Promise<SettingsRow | undefined> {
  return exec.selectFrom('referral_campaign').selectAll().where('campaign_id', '=', campaignId).executeTakeFirst();
}

/** Inserts the order unless the phone already signed up for the campaign (undefined then). */
export function insertOrder(exec: Executor, row: Insertable<ReferralOrderTable>): Promise<OrderRow | undefined> {
  return exec
    .insertInto('referral_order')
    .values(row)
    .onConflict((oc) => oc.columns(['campaign_id', 'phone']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export function findOrderByPhone(exec: Executor, campaignId: string, phone: string): Promise<OrderRow | undefined> {
  return exec.selectFrom('referral_order').selectAll().where('campaign_id', '=', campaignId).where('phone', '=', phone).executeTakeFirst();
}

export function findOrder(exec: Executor, orderId: string, options: { forUpdate?: boolean } = {}): Promise<OrderRow | undefined> {
  let q = exec.selectFrom('referral_order').selectAll().where('order_id', '=', orderId);
  if (options.forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

/** pending + unpaid -> paying (a payment was started); answers the order when it is pending. */
export function markPaying(exec: Executor, orderId: string, now: Date): Promise<OrderRow | undefined> {
  return exec
    .updateTable('referral_order')
    .set({ pay_status: sql<'paying'>`case when pay_status = 'unpaid' then 'paying' else pay_status end`, updated_at: now })
    .where('order_id', '=', orderId)
    .where('status', '=', 'pending')
    .returningAll()
    .executeTakeFirst();
}

/**
 * pending -> paid in one conditional statement: of parallel callbacks for the same order exactly
 * one gets the row back. 409 trade_no_reused when the provider's trade_no paid another order.
 */
export async function markPaid(exec: Executor, orderId: string, tradeNo: string, amount: number, paidAt: Date, now: Date): Promise<OrderRow | undefined> {
  try {
    return await exec
      .updateTable('referral_order')
      .set({ status: 'paid', pay_status: 'paid', trade_no: tradeNo, paid_at: paidAt, updated_at: now })
      .where('order_id', '=', orderId)
      .where('status', '=', 'pending')
      .where('amount', '=', amount)
      .returningAll()
      .executeTakeFirst();
  } catch (err) {
    if (isUniqueViolation(err)) throw referralErrors.tradeNoReused(tradeNo);
    throw err;
  }
}

/** Flags an order for an operator (a callback whose amount did not match, for example). */
export async function flagOrder(exec: Executor, orderId: string, reason: string, now: Date): Promise<void> {
  await exec.updateTable('referral_order').set({ flagged: true, flag_reason: reason, updated_at: now }).where('order_id', '=', orderId).execute();
}

/** The phone of a paid order of the campaign (a share link's u_id is the referrer's order id): one primary-key lookup. */
export async function findPaidOrderPhone(exec: Executor, campaignId: string, orderId: string): Promise<string | undefined> {
  const row = await exec.selectFrom('referral_order').select('phone').where('order_id', '=', orderId).where('campaign_id', '=', campaignId).where('status', '=', 'paid').executeTakeFirst();
  return row?.phone;
}

/** The referrer of the referrer: the paid order of the same campaign whose phone or order id is `userId`. */
export function findReferrerOf(exec: Executor, tenantId: string, campaignId: string, userId: string): Promise<{ referrer_id: string | null } | undefined> {
  return exec
    .selectFrom('referral_order')
    .select('referrer_id')
    .where('tenant_id', '=', tenantId)
    .where('campaign_id', '=', campaignId)
    .where('status', '=', 'paid')
    .where((eb) => eb.or([eb('phone', '=', userId), eb('order_id', '=', userId)]))
    .executeTakeFirst();
}

/** The reward of (order, level) once: undefined when it already exists. */
export function insertReward(exec: Executor, row: Insertable<ReferralRewardTable>): Promise<RewardRow | undefined> {
  return exec
    .insertInto('referral_reward')
    .values(row)
    .onConflict((oc) => oc.columns(['order_id', 'level']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function setRewardEntry(exec: Executor, rewardId: string, entryId: string): Promise<void> {
  await exec.updateTable('referral_reward').set({ ledger_entry_id: entryId }).where('reward_id', '=', rewardId).execute();
}

/** One more view of (campaign, channel, referrer), in one statement. */
export async function countView(exec: Executor, row: { tenant_id: string; campaign_id: string; channel: string; referrer_id: string }): Promise<void> {
  await exec
    .insertInto('referral_view')
    .values({ ...row, views: 1 })
    .onConflict((oc) => oc.columns(['campaign_id', 'channel', 'referrer_id']).doUpdateSet({ views: sql<number>`referral_view.views + 1` }))
    .execute();
}

/** Views, orders and paid orders of a campaign by channel ('' = no c_id). */
export async function funnel(exec: Executor, tenantId: string, campaignId: string) {
  const views = await exec
    .selectFrom('referral_view')
    .select(['channel', sql<number>`sum(views)::int8`.as('n')])
    .where('tenant_id', '=', tenantId)
    .where('campaign_id', '=', campaignId)
    .groupBy('channel')
    .execute();
  const orders = await exec
    .selectFrom('referral_order')
    .select([
      sql<string>`coalesce(channel, '')`.as('channel'),
      sql<number>`count(*)::int8`.as('n'),
      sql<number>`count(*) filter (where status in ('paid', 'refunded'))::int8`.as('paid'),
    ])
    .where('tenant_id', '=', tenantId)
    .where('campaign_id', '=', campaignId)
    .groupBy(sql`coalesce(channel, '')`)
    .execute();
  return { views, orders };
}

export async function listRewards(exec: Executor, tenantId: string, userId: string, campaignId: string | undefined, page: { limit: number; offset: number }) {
  let base = exec.selectFrom('referral_reward').where('tenant_id', '=', tenantId).where('user_id', '=', userId);
  if (campaignId !== undefined) base = base.where('campaign_id', '=', campaignId);
  const rows = await base.selectAll().orderBy('created_at', 'desc').orderBy('reward_id', 'desc').limit(page.limit).offset(page.offset).execute();
  const { total } = await base.select(sql<number>`count(*)::int8`.as('total')).executeTakeFirstOrThrow();
  return { rows, total: Number(total) };
}

/** The user's settled referral rewards in total (fen). */
export async function totalRewards(exec: Executor, tenantId: string, userId: string): Promise<number> {
  const row = await exec
    .selectFrom('referral_reward')
    .select(sql<number>`coalesce(sum(amount), 0)::int8`.as('total'))
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('status', '=', 'settled')
    .executeTakeFirstOrThrow();
  return Number(row.total);
}

/**
 * Pending orders created before `cutoff` -> cancelled, at most `limit`, in one statement
 * (`for update skip locked`: a payment settling one of them at the same moment wins or waits).
 */
export async function cancelUnpaid(exec: Executor, cutoff: Date, now: Date, limit: number): Promise<number> {
  const rows = await exec
    .updateTable('referral_order')
    .set({ status: 'cancelled', updated_at: now })
    .where('order_id', 'in', (eb) =>
      eb.selectFrom('referral_order').select('order_id').where('status', '=', 'pending').where('created_at', '<', cutoff).orderBy('created_at').limit(limit).forUpdate().skipLocked(),
    )
    .where('status', '=', 'pending')
    .returning('order_id')
    .execute();
  return rows.length;
}
