import type { FastifyRequest } from 'fastify';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { prefersChinese } from '../../platform/http/language.js';
import { localizeCheckoutError } from './checkout.errors.js';
import { CheckoutBody, Order, OrderParams, Quote, QuoteBody, Stats, StatsQuery } from './checkout.schemas.js';
import type { CheckoutService } from './checkout.service.js';

const tags = ['checkout'];
const chinese = (request: FastifyRequest) => prefersChinese(request.headers['accept-language']);

async function localized<T>(request: FastifyRequest, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw localizeCheckoutError(err, chinese(request));
  }
}

export function checkoutRoutes(app: Api, deps: { checkout: CheckoutService; uow: UnitOfWork }): void {
  const { checkout, uow } = deps;

  app.post(
    '/v1/checkout/quote',
    {
      config: { idempotent: false, role: 'readonly', client: { user: 'body.user_id' } },
      schema: {
        tags,
        summary: 'Price a cart: every live promotion and the named (or wallet) coupons, the best combination the stacking rules allow, and every offer not applied with its reason (nothing changes)',
        body: QuoteBody,
        response: { 200: Quote, ...errors(...authErrors, 422) },
      },
    },
    async (request) => localized(request, () => checkout.quote(request.actor!, request.body, chinese(request))),
  );
  app.post(
    '/v1/checkout/orders',
    {
      schema: {
        tags,
        summary: 'Check out: price again and, at the quoted price, hold the coupons, flash-sale and gift stock for the order in one transaction (same order id and request: the same order)',
        body: CheckoutBody,
        response: { 200: Order, ...errors(...authErrors, 409, 422) },
      },
    },
    async (request, reply) =>
      localized(request, async () => {
        // Priced before the transaction opens; the checkout holds what this price needs, or refuses.
        const priced = await checkout.priceForCheckout(request.actor!, request.body, chinese(request));
        return uow(request, reply, 200, (trx) => checkout.checkout(request.actor!, request.body, priced, trx));
      }),
  );
  app.get(
    '/v1/checkout/orders/:order_id',
    { schema: { tags, summary: 'An order with its priced quote and status', params: OrderParams, response: { 200: Order, ...errors(...authErrors, 404) } } },
    async (request) => localized(request, () => checkout.get(request.actor!, request.params.order_id)),
  );
  for (const [action, summary] of [
    ['commit', 'The order is paid: its coupons are used and its stock sold (before its TTL)'],
    ['release', 'The order is cancelled: its coupons and stock come back'],
    ['refund', 'The paid order is refunded: stock comes back, coupons return to the wallet when their template says so'],
  ] as const) {
    app.post(
      `/v1/checkout/orders/:order_id/${action}`,
      { schema: { tags, summary, params: OrderParams, response: { 200: Order, ...errors(...authErrors, 404, 409) } } },
      async (request, reply) => localized(request, () => uow(request, reply, 200, (trx) => checkout.settle(request.actor!, request.params.order_id, action, trx))),
    );
  }
  app.get(
    '/v1/checkout/stats',
    {
      schema: {
        tags,
        summary: 'Per promotion and coupon template: quotes, orders, paid orders, participants, conversion, discount spent, revenue and ROI',
        querystring: StatsQuery,
        response: { 200: Stats, ...errors(...authErrors) },
      },
    },
    async (request) => checkout.stats(request.actor!, request.query),
  );
}
