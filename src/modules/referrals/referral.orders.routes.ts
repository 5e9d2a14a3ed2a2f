import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { ReferralOrders } from './referral.orders.js';
import { OrderIdParams, OrderList, OrderListQuery, TenantOrderDetail } from './referral.orders.schemas.js';

const tags = ['referrals'];

/** The tenant's referral orders (tenant key, any role): a paged, filtered list and one order in full. */
export function referralOrderRoutes(app: Api, deps: { orders: ReferralOrders }): void {
  const { orders } = deps;
  app.get(
    '/v1/referrals/orders',
    { schema: { tags, summary: 'The referral orders, newest first (by status, payment, campaign, referrer, channel, phone, time)', querystring: OrderListQuery, response: { 200: OrderList, ...errors(...authErrors) } } },
    async (request) => orders.list(request.actor!, request.query),
  );
  app.get(
    '/v1/referrals/orders/:order_id',
    { schema: { tags, summary: 'One referral order: payment, referral attribution, form data, rewards and refund', params: OrderIdParams, response: { 200: TenantOrderDetail, ...errors(...authErrors, 404) } } },
    async (request) => orders.get(request.actor!, request.params.order_id),
  );
}
