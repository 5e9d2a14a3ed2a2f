import type { FastifyRequest } from 'fastify';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { prefersChinese } from '../../platform/http/language.js';
import { localizePromotionError } from './promotion.errors.js';
import {
  CreatePromotionBody,
  Discount,
  DiscountBody,
  Eligibility,
  EligibilityBody,
  ListQuery,
  OrderBody,
  OrderReservations,
  Promotion,
  PromotionList,
  PromotionParams,
  Reservation,
  ReserveBody,
  UpdatePromotionBody,
} from './promotion.schemas.js';
import type { PromotionService } from './promotion.service.js';

const tags = ['promotions'];
const admin = { role: 'admin' as const };
const chinese = (request: FastifyRequest) => prefersChinese(request.headers['accept-language']);

/** Runs `work` and answers its refusals in the caller's language (zh-CN or en; the code never changes). */
export async function localized<T>(request: FastifyRequest, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw localizePromotionError(err, chinese(request));
  }
}

export function promotionRoutes(app: Api, deps: { promotions: PromotionService; uow: UnitOfWork }): void {
  const { promotions, uow } = deps;

  app.post(
    '/v1/promotions',
    { config: admin, schema: { tags, summary: 'Create a promotion: flash_sale, bulk_discount or gift (admin)', body: CreatePromotionBody, response: { 201: Promotion, ...errors(...authErrors) } } },
    async (request, reply) => localized(request, () => uow(request, reply, 201, (trx) => promotions.create(request.actor!, request.body, trx))),
  );
  app.get(
    '/v1/promotions',
    { schema: { tags, summary: 'List promotions, latest start first', querystring: ListQuery, response: { 200: PromotionList, ...errors(...authErrors) } } },
    async (request) => localized(request, () => promotions.list(request.actor!, request.query)),
  );
  app.get(
    '/v1/promotions/:promotion_id',
    { schema: { tags, summary: 'Get a promotion with its stock and sold counts', params: PromotionParams, response: { 200: Promotion, ...errors(...authErrors, 404) } } },
    async (request) => localized(request, () => promotions.get(request.actor!, request.params.promotion_id)),
  );
  app.put(
    '/v1/promotions/:promotion_id',
    {
      config: admin,
      schema: { tags, summary: 'Change a promotion before it starts (admin)', params: PromotionParams, body: UpdatePromotionBody, response: { 200: Promotion, ...errors(...authErrors, 404, 409) } },
    },
    async (request, reply) => localized(request, () => uow(request, reply, 200, (trx) => promotions.update(request.actor!, request.params.promotion_id, request.body, trx))),
  );
  app.post(
    '/v1/promotions/:promotion_id/end',
    { config: admin, schema: { tags, summary: 'End a promotion now (admin)', params: PromotionParams, response: { 200: Promotion, ...errors(...authErrors, 404, 409) } } },
    async (request, reply) => localized(request, () => uow(request, reply, 200, (trx) => promotions.end(request.actor!, request.params.promotion_id, trx))),
  );
  app.post(
    '/v1/promotions/:promotion_id/eligibility',
    {
      config: { idempotent: false, role: 'readonly' },
      schema: { tags, summary: 'Whether a user (and item) can take part now, with every reason not (nothing changes)', params: PromotionParams, body: EligibilityBody, response: { 200: Eligibility, ...errors(...authErrors, 404) } },
    },
    async (request) => localized(request, () => promotions.eligibility(request.actor!, request.params.promotion_id, request.body, chinese(request))),
  );
  app.post(
    '/v1/promotions/:promotion_id/discount',
    {
      config: { idempotent: false, role: 'readonly' },
      schema: { tags, summary: 'The discount this promotion gives on a cart, per line, and its gifts (nothing changes)', params: PromotionParams, body: DiscountBody, response: { 200: Discount, ...errors(...authErrors, 404) } },
    },
    async (request) => localized(request, () => promotions.discount(request.actor!, request.params.promotion_id, request.body)),
  );
  app.post(
    '/v1/promotions/:promotion_id/reserve',
    {
      schema: {
        tags,
        summary: "Take flash-sale (or gift) stock for an order within the user's limit, held for ttl_seconds (same order and item: same reservation)",
        params: PromotionParams,
        body: ReserveBody,
        response: { 200: Reservation, ...errors(...authErrors, 404, 409, 422) },
      },
    },
    async (request, reply) => localized(request, () => uow(request, reply, 200, (trx) => promotions.reserve(request.actor!, request.params.promotion_id, request.body, trx))),
  );
  for (const [action, summary] of [
    ['commit', 'The order is paid: reserved -> committed (every item of the order in this promotion)'],
    ['release', "The order is cancelled: reserved -> released; the stock and the user's count come back"],
    ['refund', "The order is refunded: committed -> refunded; the stock and the user's count come back"],
  ] as const) {
    app.post(
      `/v1/promotions/:promotion_id/${action}`,
      { schema: { tags, summary, params: PromotionParams, body: OrderBody, response: { 200: OrderReservations, ...errors(...authErrors, 404, 409) } } },
      async (request, reply) =>
        localized(request, () => uow(request, reply, 200, (trx) => promotions.settlePromotion(request.actor!, request.params.promotion_id, request.body.order_id, action, trx))),
    );
  }
}
