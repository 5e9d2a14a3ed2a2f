import { Type, type Static } from 'typebox';
import { CartSchema, ScopeSchema } from '../../platform/cart.js';
import { NullableTimestamp, PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';
import { NOT_USABLE_REASONS } from './coupon.rules.js';
import { CLAIM_POLICIES, COUPON_STATUSES, COUPON_TYPES, DISCOUNT_KINDS } from './coupon.tables.js';

const Money = (description: string) => Type.Integer({ minimum: 0, maximum: 1_000_000_000_000, description });
const Id = Type.String({ minLength: 1, maxLength: 128 });
const NullableInt = (min: number, max: number, description: string) => Type.Union([Type.Integer({ minimum: min, maximum: max }), Type.Null()], { description });

export const Scope = ScopeSchema;

const TemplateFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  coupon_type: Type.Enum(COUPON_TYPES, { type: 'string' }),
  discount_kind: Type.Union([Type.Enum(DISCOUNT_KINDS, { type: 'string' }), Type.Null()], {
    description: 'discount: fixed (default) or percent; shipping: free (default) or fixed; gift: none',
  }),
  value: Money('fixed: minor units off; percent: whole percent off (1..100); free shipping: 0'),
  max_discount: Type.Union([Money('cap of a percent discount'), Type.Null()]),
  gift_item_id: Type.Union([Id, Type.Null()]),
  min_amount: Money('least eligible amount (in-scope lines) for the coupon to apply'),
  valid_from: NullableTimestamp,
  valid_until: NullableTimestamp,
  valid_days: NullableInt(1, 3650, 'valid for this many days after the claim (instead of fixed dates)'),
  usage_limit: NullableInt(0, 1_000_000_000, 'coupons that can be claimed in all; null = unlimited'),
  per_user_limit: NullableInt(1, 1_000_000, 'coupons of this template one user can hold in all; null = unlimited'),
  scope: Scope,
  stacking_group: Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()]),
  exclusive: Type.Boolean(),
  claim_policy: Type.Enum(CLAIM_POLICIES, { type: 'string' }),
  audience_id: Type.Union([Id, Type.Null()]),
  refund_returns: Type.Boolean({ description: 'a refund of the order gives the coupon back' }),
};
const F = TemplateFields;
export const CreateTemplateBody = Type.Object(
  {
    name: F.name,
    coupon_type: F.coupon_type,
    value: F.value,
    discount_kind: Type.Optional(F.discount_kind),
    max_discount: Type.Optional(F.max_discount),
    gift_item_id: Type.Optional(F.gift_item_id),
    min_amount: Type.Optional(F.min_amount),
    valid_from: Type.Optional(F.valid_from),
    valid_until: Type.Optional(F.valid_until),
    valid_days: Type.Optional(F.valid_days),
    usage_limit: Type.Optional(F.usage_limit),
    per_user_limit: Type.Optional(F.per_user_limit),
    scope: Type.Optional(F.scope),
    stacking_group: Type.Optional(F.stacking_group),
    exclusive: Type.Optional(F.exclusive),
    claim_policy: Type.Optional(F.claim_policy),
    audience_id: Type.Optional(F.audience_id),
    refund_returns: Type.Optional(F.refund_returns),
  },
  { additionalProperties: false },
);
export type CreateTemplateInput = Static<typeof CreateTemplateBody>;

const { coupon_type: _type, ...changeable } = TemplateFields;
export const UpdateTemplateBody = Type.Partial(Type.Object(changeable), { additionalProperties: false, minProperties: 1 });
export type UpdateTemplateInput = Static<typeof UpdateTemplateBody>;

export const Template = Type.Object({
  template_id: Type.String(),
  ...TemplateFields,
  claimed_count: Type.Integer(),
  used_count: Type.Integer(),
  status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type TemplateView = Static<typeof Template>;

export const TemplateParams = Type.Object({ coupon_template_id: Type.String({ minLength: 1, maxLength: 64 }) });
export const TemplateList = Type.Object({ templates: Type.Array(Template), pagination: Pagination });
export const TemplateListQuery = Type.Object(
  { ...PageQuery, status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])), coupon_type: Type.Optional(TemplateFields.coupon_type) },
  { additionalProperties: false },
);

export const CouponStatusSchema = Type.Enum(COUPON_STATUSES, { type: 'string' });

export const Coupon = Type.Object({
  coupon_id: Type.String(),
  code: Type.String(),
  template_id: Type.String(),
  user_id: Type.String(),
  status: CouponStatusSchema,
  source: Type.String({ description: 'claim | issue | grant' }),
  name: Type.String(),
  coupon_type: TemplateFields.coupon_type,
  discount_kind: TemplateFields.discount_kind,
  value: Type.Integer(),
  max_discount: Type.Union([Type.Integer(), Type.Null()]),
  min_amount: Type.Integer(),
  gift_item_id: Type.Union([Type.String(), Type.Null()]),
  stacking_group: Type.Union([Type.String(), Type.Null()]),
  exclusive: Type.Boolean(),
  usage_limit: Type.Union([Type.Integer(), Type.Null()], { description: "the template's" }),
  used_count: Type.Integer({ description: "the template's coupons used" }),
  valid_from: NullableTimestamp,
  valid_until: NullableTimestamp,
  order_id: Type.Union([Type.String(), Type.Null()]),
  locked_until: NullableTimestamp,
  used_at: NullableTimestamp,
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type CouponView = Static<typeof Coupon>;

export const CouponParams = Type.Object({ coupon_id: Type.String({ minLength: 1, maxLength: 64 }) });
export const UserBody = Type.Object({ user_id: Id }, { additionalProperties: false });
const ClientIp = Type.Optional(Type.String({ maxLength: 64, description: "The end user's IP address, for the per-IP claim and use limits" }));
export const ClaimBody = Type.Object({ user_id: Id, client_ip: ClientIp }, { additionalProperties: false });
export const WalletQuery = Type.Object({ ...PageQuery, user_id: Id, status: Type.Optional(CouponStatusSchema) }, { additionalProperties: false });
export const CouponList = Type.Object({ coupons: Type.Array(Coupon), pagination: Pagination });

export { CartSchema };

export const AvailableQuery = Type.Object({ user_id: Id }, { additionalProperties: false });
export const AvailableBody = Type.Object(
  {
    user_id: Id,
    cart: Type.Optional(CartSchema),
    selected: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50, description: 'coupon ids meant for the same order (stacking checks)' })),
  },
  { additionalProperties: false },
);
export type AvailableInput = Static<typeof AvailableBody>;

const Amounts = {
  discount: Type.Union([Type.Integer(), Type.Null()], { description: 'off the in-scope lines; null without a cart' }),
  shipping_discount: Type.Union([Type.Integer(), Type.Null()]),
  eligible_amount: Type.Union([Type.Integer(), Type.Null()]),
  gift_item_id: Type.Union([Type.String(), Type.Null()]),
};
export const Availability = Type.Object({
  usable: Type.Array(Type.Object({ coupon: Coupon, ...Amounts })),
  not_usable: Type.Array(
    Type.Object({ coupon: Coupon, reason: Type.Enum(NOT_USABLE_REASONS, { type: 'string' }), details: Type.Record(Type.String(), Type.Unknown()) }),
  ),
});

export const LockBody = Type.Object(
  {
    order_id: Id,
    user_id: Id,
    cart: CartSchema,
    ttl_seconds: Type.Optional(Type.Integer({ minimum: 5, maximum: 86_400, default: 900 })),
    client_ip: ClientIp,
  },
  { additionalProperties: false },
);
export type LockInput = Static<typeof LockBody>;
export const Locked = Type.Object({ coupon: Coupon, ...Amounts });
export const OrderBody = Type.Object({ order_id: Id }, { additionalProperties: false });
export const VoidBody = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false });

const Rate = (description: string) => Type.Union([Type.Number({ minimum: 0 }), Type.Null()], { description });
export const TemplateStatsSchema = Type.Object({
  template_id: Type.String(),
  usage_limit: Type.Union([Type.Integer(), Type.Null()], { description: 'coupons that can be claimed in all; null = unlimited' }),
  claimed_count: Type.Integer({ description: 'coupons claimed, issued or granted' }),
  claim_rate: Rate('claimed_count / usage_limit, 4 decimals; null when unlimited (or 0)'),
  used_count: Type.Integer({ description: 'coupons used on a paid order (a refund that returns one takes it back)' }),
  use_rate: Rate('used_count / claimed_count, 4 decimals; null before the first claim'),
  available_count: Type.Integer({ description: 'usable now (a lapsed lock counts here)' }),
  locked_count: Type.Integer({ description: 'held by an order now' }),
  expired_count: Type.Integer({ description: 'past validity, unused (swept or not yet)' }),
  voided_count: Type.Integer(),
  distinct_users: Type.Integer({ description: 'users holding at least one coupon of the template' }),
});
export type TemplateStats = Static<typeof TemplateStatsSchema>;
