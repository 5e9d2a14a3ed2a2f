import type { FastifyRequest } from 'fastify';
import { endUserIp } from '../../platform/client-ip.js';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { prefersChinese } from '../../platform/http/language.js';
import { localizeCouponError } from './coupon.errors.js';
import {
  Availability,
  AvailableBody,
  AvailableQuery,
  Coupon,
  CouponList,
  CouponParams,
  CreateTemplateBody,
  LockBody,
  Locked,
  OrderBody,
  Template,
  TemplateList,
  TemplateListQuery,
  TemplateParams,
  TemplateStatsSchema,
  UpdateTemplateBody,
  UserBody,
  ClaimBody,
  VoidBody,
  WalletQuery,
} from './coupon.schemas.js';
import type { CouponService } from './coupon.service.js';

const tags = ['coupons'];
const admin = { role: 'admin' as const };

/** Runs `work` and answers its refusals in the caller's language (zh-CN or en; the code never changes). */
export async function localized<T>(request: FastifyRequest, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw localizeCouponError(err, prefersChinese(request.headers['accept-language']));
  }
}

export function couponRoutes(app: Api, deps: { coupons: CouponService; uow: UnitOfWork }): void {
  const { coupons, uow } = deps;

  app.post(
    '/v1/coupons/templates',
    { config: admin, schema: { tags, summary: 'Create a coupon template (admin)', body: CreateTemplateBody, response: { 201: Template, ...errors(...authErrors, 409) } } },
    async (request, reply) => localized(request, () => uow(request, reply, 201, (trx) => coupons.createTemplate(request.actor!, request.body, trx))),
  );
  app.get(
    '/v1/coupons/templates',
    { schema: { tags, summary: 'List coupon templates, newest first', querystring: TemplateListQuery, response: { 200: TemplateList, ...errors(...authErrors) } } },
    async (request) => localized(request, () => coupons.listTemplates(request.actor!, request.query)),
  );
  app.get(
    '/v1/coupons/templates/:coupon_template_id',
    { schema: { tags, summary: 'Get a coupon template with its claimed and used counts', params: TemplateParams, response: { 200: Template, ...errors(...authErrors, 404) } } },
    async (request) => localized(request, () => coupons.getTemplate(request.actor!, request.params.coupon_template_id)),
  );
  app.get(
    '/v1/coupons/templates/:coupon_template_id/stats',
    {
      schema: {
        tags,
        summary: 'Claim and use figures of a template: claim rate, use rate, coupons locked, expired and voided now, distinct users',
        params: TemplateParams,
        response: { 200: TemplateStatsSchema, ...errors(...authErrors, 404) },
      },
    },
    async (request) => localized(request, () => coupons.templateStats(request.actor!, request.params.coupon_template_id)),
  );
  app.put(
    '/v1/coupons/templates/:coupon_template_id',
    {
      config: admin,
      schema: { tags, summary: 'Change a template while no coupon of it was claimed (admin)', params: TemplateParams, body: UpdateTemplateBody, response: { 200: Template, ...errors(...authErrors, 404, 409) } },
    },
    async (request) => localized(request, () => coupons.updateTemplate(request.actor!, request.params.coupon_template_id, request.body)),
  );
  app.post(
    '/v1/coupons/templates/:coupon_template_id/disable',
    { config: admin, schema: { tags, summary: 'Disable a template: no more claims; held coupons stay usable (admin)', params: TemplateParams, response: { 200: Template, ...errors(...authErrors, 404) } } },
    async (request, reply) => localized(request, () => uow(request, reply, 200, (trx) => coupons.disableTemplate(request.actor!, request.params.coupon_template_id, trx))),
  );
  app.post(
    '/v1/coupons/templates/:coupon_template_id/claim',
    {
      config: { client: { user: 'body.user_id' } },
      schema: {
        tags,
        summary: 'A user claims a coupon (claim_policy, per_user_limit and usage_limit apply)',
        params: TemplateParams,
        body: ClaimBody,
        response: { 201: Coupon, ...errors(...authErrors, 404, 409, 429) },
      },
    },
    async (request, reply) =>
      localized(request, async () => {
        await coupons.admit(request.actor!, 'claim', request.body.user_id, endUserIp(request, request.body.client_ip, { serverCaller: true }));
        return uow(request, reply, 201, (trx) => coupons.claim(request.actor!, request.params.coupon_template_id, request.body.user_id, 'claim', trx));
      }),
  );
  app.post(
    '/v1/coupons/templates/:coupon_template_id/issue',
    {
      config: admin,
      schema: { tags, summary: 'Issue a coupon to a user (admin; ignores claim_policy, not the limits)', params: TemplateParams, body: UserBody, response: { 201: Coupon, ...errors(...authErrors, 404, 409) } },
    },
    async (request, reply) =>
      localized(request, () => uow(request, reply, 201, (trx) => coupons.claim(request.actor!, request.params.coupon_template_id, request.body.user_id, 'issue', trx))),
  );
  app.get(
    '/v1/coupons',
    { config: { client: { user: 'query.user_id' } }, schema: { tags, summary: "A user's wallet, newest first (status as of now)", querystring: WalletQuery, response: { 200: CouponList, ...errors(...authErrors) } } },
    async (request) => localized(request, () => coupons.wallet(request.actor!, request.query)),
  );
  app.get(
    '/v1/coupons/available',
    { config: { client: { user: 'query.user_id' } }, schema: { tags, summary: "The user's coupons usable now, and the others with a reason each", querystring: AvailableQuery, response: { 200: Availability, ...errors(...authErrors) } } },
    async (request) => localized(request, () => coupons.available(request.actor!, { user_id: request.query.user_id })),
  );
  app.post(
    '/v1/coupons/available',
    {
      config: { idempotent: false, role: 'readonly', client: { user: 'body.user_id' } },
      schema: { tags, summary: 'As GET, on a cart: the discount each coupon gives, or why not (nothing changes)', body: AvailableBody, response: { 200: Availability, ...errors(...authErrors) } },
    },
    async (request) => localized(request, () => coupons.available(request.actor!, request.body)),
  );
  app.get(
    '/v1/coupons/:coupon_id',
    { schema: { tags, summary: 'Get a coupon', params: CouponParams, response: { 200: Coupon, ...errors(...authErrors, 404) } } },
    async (request) => localized(request, () => coupons.getCoupon(request.actor!, request.params.coupon_id)),
  );
  app.post(
    '/v1/coupons/:coupon_id/void',
    { config: admin, schema: { tags, summary: 'Void a coupon not used yet (admin)', params: CouponParams, body: VoidBody, response: { 200: Coupon, ...errors(...authErrors, 404, 409) } } },
    async (request, reply) => localized(request, () => uow(request, reply, 200, (trx) => coupons.voidCoupon(request.actor!, request.params.coupon_id, trx))),
  );
  app.post(
    '/v1/coupons/:coupon_id/lock',
    {
      schema: {
        tags,
        summary: 'Hold the coupon for an order (same order id: same lock; another order: 409 coupon_locked)',
        params: CouponParams,
        body: LockBody,
        response: { 200: Locked, ...errors(...authErrors, 404, 409, 422, 429) },
      },
    },
    async (request, reply) =>
      localized(request, async () => {
        await coupons.admit(request.actor!, 'use', request.body.user_id, endUserIp(request, request.body.client_ip, { serverCaller: true }));
        return uow(request, reply, 200, (trx) => coupons.lock(request.actor!, request.params.coupon_id, request.body, trx));
      }),
  );
  for (const [action, summary] of [
    ['commit', 'The order is paid: locked -> used'],
    ['release', 'The order is cancelled: locked -> available'],
    ['refund', "The order is refunded: used -> available if the template's refund_returns, else it stays used"],
  ] as const) {
    app.post(
      `/v1/coupons/:coupon_id/${action}`,
      { schema: { tags, summary, params: CouponParams, body: OrderBody, response: { 200: Coupon, ...errors(...authErrors, 404, 409) } } },
      async (request, reply) =>
        localized(request, () => uow(request, reply, 200, (trx) => coupons[action](request.actor!, request.params.coupon_id, request.body.order_id, trx))),
    );
  }
}
