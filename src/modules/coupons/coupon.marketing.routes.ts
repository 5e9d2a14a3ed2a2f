/**
 * The product document's own coupon paths, verbatim, as a thin adapter over the coupon service:
 * `GET /marketing/coupons/available?user_id=` and `POST /marketing/coupons/{coupon_id}/use`.
 * Authenticated like /v1 (tenant key). Messages default to Chinese as in the document (an
 * expired coupon is 400 "优惠券已过期"); `Accept-Language: en` asks for English. Codes are stable.
 */
import { Type } from 'typebox';
import { endUserIp } from '../../platform/client-ip.js';
import { authErrors, errors, NullableTimestamp } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { prefersChinese } from '../../platform/http/language.js';
import { localizeCouponError } from './coupon.errors.js';
import { AvailableQuery, CartSchema, CouponParams, type CouponView } from './coupon.schemas.js';
import type { CouponService } from './coupon.service.js';
import { COUPON_STATUSES, COUPON_TYPES } from './coupon.tables.js';

const tags = ['coupons'];
const config = { auth: 'tenant' as const };

/** The document's Coupon model (money in integer minor units), plus our id, code and status. */
const DocumentCoupon = Type.Object({
  id: Type.String(),
  coupon_id: Type.String(),
  code: Type.String(),
  name: Type.String(),
  type: Type.Enum(COUPON_TYPES, { type: 'string' }),
  value: Type.Integer(),
  min_amount: Type.Integer(),
  expire_at: NullableTimestamp,
  usage_limit: Type.Union([Type.Integer(), Type.Null()]),
  used_count: Type.Integer(),
  status: Type.Enum(COUPON_STATUSES, { type: 'string' }),
});

const UseBody = Type.Object(
  {
    order_id: Type.String({ minLength: 1, maxLength: 128 }),
    user_id: Type.String({ minLength: 1, maxLength: 128 }),
    order_amount: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000, description: 'the order amount (minor units), when no cart is sent: one line in scope of an all-items coupon' })),
    cart: Type.Optional(CartSchema),
    client_ip: Type.Optional(Type.String({ maxLength: 64, description: "The end user's IP address, for the per-IP use limit" })),
  },
  { additionalProperties: false },
);

const UseResult = Type.Object({
  coupon: DocumentCoupon,
  order_id: Type.String(),
  order_amount: Type.Integer(),
  discount_amount: Type.Integer(),
  shipping_discount: Type.Integer(),
  gift_item_id: Type.Union([Type.String(), Type.Null()]),
  final_amount: Type.Integer(),
});

const toDocument = (c: CouponView) => ({
  id: c.coupon_id,
  coupon_id: c.coupon_id,
  code: c.code,
  name: c.name,
  type: c.coupon_type,
  value: c.value,
  min_amount: c.min_amount,
  expire_at: c.valid_until,
  usage_limit: c.usage_limit,
  used_count: c.used_count,
  status: c.status,
});

export function couponMarketingRoutes(app: Api, deps: { coupons: CouponService; uow: UnitOfWork }): void {
  const { coupons, uow } = deps;
  const chinese = (header: string | undefined) => header === undefined || prefersChinese(header);

  app.get(
    '/marketing/coupons/available',
    { config: { ...config, client: { user: 'query.user_id' } }, schema: { tags, summary: "The user's coupons usable now (the document's path and Coupon shape)", querystring: AvailableQuery, response: { 200: Type.Array(DocumentCoupon), ...errors(...authErrors) } } },
    async (request) => {
      try {
        const answer = await coupons.available(request.actor!, { user_id: request.query.user_id });
        return answer.usable.map((u) => toDocument(u.coupon));
      } catch (err) {
        throw localizeCouponError(err, chinese(request.headers['accept-language']));
      }
    },
  );

  app.post(
    '/marketing/coupons/:coupon_id/use',
    {
      config,
      schema: {
        tags,
        summary: 'Use a coupon on an order: lock and commit in one transaction (an expired coupon: 400 优惠券已过期)',
        params: CouponParams,
        body: UseBody,
        response: { 200: UseResult, ...errors(...authErrors, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const cart = b.cart ?? { lines: [{ item_id: '*', unit_price: b.order_amount ?? 0, quantity: 1 }] };
      const orderAmount = cart.lines.reduce((sum, l) => sum + l.unit_price * l.quantity, 0) + (cart.shipping_fee ?? 0);
      try {
        await coupons.admit(request.actor!, 'use', b.user_id, endUserIp(request, b.client_ip, { serverCaller: true }));
        return await uow(request, reply, 200, async (trx) => {
          const used = await coupons.use(request.actor!, request.params.coupon_id, { order_id: b.order_id, user_id: b.user_id, cart }, trx);
          const discount = used.discount ?? 0;
          const shipping = used.shipping_discount ?? 0;
          return {
            coupon: toDocument(used.coupon),
            order_id: b.order_id,
            order_amount: orderAmount,
            discount_amount: discount,
            shipping_discount: shipping,
            gift_item_id: used.gift_item_id,
            final_amount: orderAmount - discount - shipping,
          };
        });
      } catch (err) {
        throw localizeCouponError(err, chinese(request.headers['accept-language']));
      }
    },
  );
}
