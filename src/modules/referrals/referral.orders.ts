import { sql } from 'kysely';
import type { Database, Executor } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import { pagination, toPage } from '../../platform/paging.js';
import { referralErrors } from './referral.errors.js';
import type { OrderListInput, TenantOrderDetailView, TenantOrderView } from './referral.orders.schemas.js';
import { findRefundByOrder } from './referral.refunds.repo.js';
import { toRefundView } from './referral.refunds.js';
import type { OrderRow, RewardRow } from './referral.repo.js';
import { successCode, toRewardView } from './referral.service.js';

/**
 * The tenant's own view of its referral orders, for its operators (the console): a paged list
 * filtered by state, campaign, referrer, channel, phone and time, and one order with its form,
 * rewards and refund. Unlike the keyless `GET /api/v1/orders/{id}`, these answer the phone, the
 * form data, the referrer and the channel: they take a tenant key.
 */
type ListedRow = OrderRow & { refund_status: 'requested' | 'succeeded' | null };

function toTenantOrder(row: ListedRow): TenantOrderView {
  return {
    order_id: row.order_id,
    campaign_id: row.campaign_id,
    phone: row.phone,
    referrer_id: row.referrer_id,
    channel: row.channel,
    status: row.status,
    pay_status: row.pay_status,
    amount: Number(row.amount),
    currency: row.currency,
    provider: row.provider,
    trade_no: row.trade_no,
    success_code: successCode(row),
    flagged: row.flagged,
    flag_reason: row.flag_reason,
    refund_status: row.refund_status,
    created_at: row.created_at.toISOString(),
    paid_at: row.paid_at?.toISOString() ?? null,
    updated_at: row.updated_at.toISOString(),
  };
}

function ordersOf(exec: Executor, tenantId: string) {
  return exec
    .selectFrom('referral_order as o')
    .leftJoin('referral_refund as r', 'r.order_id', 'o.order_id')
    .where('o.tenant_id', '=', tenantId);
}

async function listOrders(exec: Executor, tenantId: string, query: OrderListInput, page: { limit: number; offset: number }) {
  let base = ordersOf(exec, tenantId);
  if (query.status !== undefined) base = base.where('o.status', '=', query.status);
  if (query.pay_status !== undefined) base = base.where('o.pay_status', '=', query.pay_status);
  if (query.campaign_id !== undefined) base = base.where('o.campaign_id', '=', query.campaign_id);
  if (query.referrer_id !== undefined) base = base.where('o.referrer_id', '=', query.referrer_id);
  if (query.channel !== undefined) base = base.where('o.channel', '=', query.channel);
  if (query.phone !== undefined) base = base.where('o.phone', '=', query.phone.replace(/[\s-]/g, '').replace(/^\+?86(?=1\d{10}$)/, ''));
  if (query.flagged !== undefined) base = base.where('o.flagged', '=', query.flagged);
  if (query.created_from !== undefined) base = base.where('o.created_at', '>=', new Date(query.created_from));
  if (query.created_to !== undefined) base = base.where('o.created_at', '<', new Date(query.created_to));
  const rows = await base
    .selectAll('o')
    .select('r.status as refund_status')
    .orderBy('o.created_at', 'desc')
    .orderBy('o.order_id', 'desc')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
  const { total } = await base.select(sql<number>`count(*)::int8`.as('total')).executeTakeFirstOrThrow();
  return { rows: rows as ListedRow[], total: Number(total) };
}

function rewardsOfOrder(exec: Executor, tenantId: string, orderId: string): Promise<RewardRow[]> {
  return exec.selectFrom('referral_reward').selectAll().where('tenant_id', '=', tenantId).where('order_id', '=', orderId).orderBy('level').limit(10).execute();
}

export type ReferralOrders = ReturnType<typeof createReferralOrders>;

export function createReferralOrders(deps: { db: Database }) {
  const { db } = deps;
  return {
    /** The tenant's orders, newest first, one page at a time. */
    async list(actor: Actor, query: OrderListInput, exec: Executor = db) {
      const page = toPage(query);
      const { rows, total } = await listOrders(exec, requireTenant(actor).tenantId, query, page);
      return { orders: rows.map(toTenantOrder), pagination: pagination(total, page) };
    },

    /** One order of the tenant with its form data, rewards and refund (404 order_not_found for another tenant's). */
    async get(actor: Actor, orderId: string, exec: Executor = db): Promise<TenantOrderDetailView> {
      const { tenantId } = requireTenant(actor);
      const row = await ordersOf(exec, tenantId).where('o.order_id', '=', orderId).selectAll('o').select('r.status as refund_status').executeTakeFirst();
      if (!row) throw referralErrors.orderNotFound(orderId);
      const order = row as ListedRow;
      const rewards = await rewardsOfOrder(exec, tenantId, orderId);
      const refund = order.refund_status === null ? undefined : await findRefundByOrder(exec, orderId);
      return {
        ...toTenantOrder(order),
        form_data: (typeof order.form_data === 'string' ? JSON.parse(order.form_data) : order.form_data) as Record<string, unknown>,
        rewards: rewards.map((r) => ({
          ...toRewardView(r),
          debt_paid: Number(r.debt_paid),
          reversed_at: r.reversed_at?.toISOString() ?? null,
          clawed_back: r.clawed_back === null ? null : Number(r.clawed_back),
          debt: r.debt === null ? null : Number(r.debt),
        })),
        refund: refund ? toRefundView(refund, order) : null,
      };
    },
  };
}
