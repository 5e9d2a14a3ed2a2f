import { type Static, type TSchema, Type } from 'typebox';
import { NullableTimestamp, PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';
import { RewardRecord } from './referral.schemas.js';
import { Refund } from './referral.withdrawals.schemas.js';

/** The tenant's view of its referral orders (the console's order list and detail). */

const Id = (description: string) => Type.String({ minLength: 1, maxLength: 128, pattern: '^[^\\u0000-\\u001f\\u007f]+$', description });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const OrderStatusSchema = Type.Union([Type.Literal('pending'), Type.Literal('paid'), Type.Literal('refunded'), Type.Literal('cancelled')]);
export const PayStatusSchema = Type.Union([Type.Literal('unpaid'), Type.Literal('paying'), Type.Literal('paid'), Type.Literal('refunded')]);

export const OrderListQuery = Type.Object(
  {
    status: Type.Optional(OrderStatusSchema),
    pay_status: Type.Optional(PayStatusSchema),
    campaign_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    referrer_id: Type.Optional(Id('The referrer (u_id, resolved to a phone when it was a paid order id)')),
    channel: Type.Optional(Id('The channel (c_id) the order came from')),
    phone: Type.Optional(Type.String({ minLength: 1, maxLength: 20, pattern: '^[0-9+ -]+$', description: 'The phone that signed up (11 digits)' })),
    flagged: Type.Optional(Type.Boolean({ description: 'Only orders flagged for an operator (or only those not flagged)' })),
    created_from: Type.Optional(Type.String({ format: 'date-time', description: 'created_at >= this' })),
    created_to: Type.Optional(Type.String({ format: 'date-time', description: 'created_at < this' })),
    ...PageQuery,
  },
  { additionalProperties: false },
);
export type OrderListInput = Static<typeof OrderListQuery>;

export const TenantOrder = Type.Object({
  order_id: Type.String(),
  campaign_id: Type.String(),
  phone: Type.String(),
  referrer_id: Nullable(Type.String()),
  channel: Nullable(Type.String()),
  status: OrderStatusSchema,
  pay_status: PayStatusSchema,
  amount: Type.Integer(),
  currency: Type.String(),
  provider: Type.String(),
  trade_no: Nullable(Type.String({ description: "The provider's transaction id, once paid" })),
  success_code: Nullable(Type.String()),
  flagged: Type.Boolean(),
  flag_reason: Nullable(Type.String()),
  refund_status: Nullable(Type.Union([Type.Literal('requested'), Type.Literal('succeeded')], { description: 'The refund, once one was requested' })),
  created_at: Timestamp,
  paid_at: NullableTimestamp,
  updated_at: Timestamp,
});
export type TenantOrderView = Static<typeof TenantOrder>;

export const OrderList = Type.Object({ orders: Type.Array(TenantOrder), pagination: Pagination });

export const OrderReward = Type.Object({
  ...RewardRecord.properties,
  debt_paid: Type.Integer({ description: "What the reward paid of the user's debt first" }),
  reversed_at: NullableTimestamp,
  clawed_back: Nullable(Type.Integer({ description: 'Once reversed: taken back from the balance' })),
  debt: Nullable(Type.Integer({ description: 'Once reversed: what became debt' })),
});

export const TenantOrderDetail = Type.Object({
  ...TenantOrder.properties,
  form_data: Type.Record(Type.String(), Type.Unknown()),
  rewards: Type.Array(OrderReward, { description: 'The referral rewards this order earned (level 1: the referrer; 2: their referrer)' }),
  refund: Nullable(Refund),
});
export type TenantOrderDetailView = Static<typeof TenantOrderDetail>;

export const OrderIdParams = Type.Object({ order_id: Type.String({ minLength: 1, maxLength: 64 }) });
