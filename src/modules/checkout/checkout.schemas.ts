import { type Static, Type } from 'typebox';
import { CartSchema } from '../../platform/cart.js';
import { Timestamp } from '../../platform/http/common.schemas.js';
import { ORDER_STATUSES } from './checkout.tables.js';

const Id = Type.String({ minLength: 1, maxLength: 128 });
const Int = Type.Integer();
const Items = Type.Array(Type.Object({ item_id: Type.String(), quantity: Int }));

const QuoteFields = {
  user_id: Id,
  cart: CartSchema,
  coupon_codes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 20, uniqueItems: true, description: "codes of the user's coupons to consider" })),
  use_wallet: Type.Optional(Type.Boolean({ description: "consider every usable coupon of the user's wallet (default false)" })),
};
export const QuoteBody = Type.Object(QuoteFields, { additionalProperties: false });
export type QuoteInput = Static<typeof QuoteBody>;

export const CheckoutBody = Type.Object(
  {
    ...QuoteFields,
    order_id: Id,
    quote_hash: Type.String({ minLength: 1, maxLength: 64, description: 'the quote_hash of the quote the customer saw: a different price is refused, never re-priced' }),
    ttl_seconds: Type.Optional(Type.Integer({ minimum: 30, maximum: 86_400, description: 'how long the order holds its coupons and stock unpaid (default 900)' })),
  },
  { additionalProperties: false },
);
export type CheckoutInput = Static<typeof CheckoutBody>;

const Applied = Type.Object({
  kind: Type.Union([Type.Literal('promotion'), Type.Literal('coupon')]),
  id: Type.String({ description: 'promotion id or coupon id' }),
  name: Type.String(),
  code: Type.Union([Type.String(), Type.Null()], { description: 'the coupon code' }),
  offer_type: Type.String({ description: 'flash_sale, bulk_discount, gift; or the coupon type discount, shipping, gift' }),
  discount: Int,
  shipping_discount: Int,
  lines: Type.Array(Type.Object({ line_index: Int, discount: Int })),
  gifts: Items,
});
const NotApplied = Type.Object({
  kind: Type.Union([Type.Literal('promotion'), Type.Literal('coupon')]),
  id: Type.String(),
  name: Type.String(),
  code: Type.Union([Type.String(), Type.Null()]),
  reason: Type.String({ description: 'out_of_scope, below_threshold, below_min_amount, sold_out, not_in_audience, not_stackable_with, worse_combination, not_yet_valid, expired, not_available' }),
  message: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
});
export const Quote = Type.Object({
  user_id: Type.String(),
  subtotal: Int,
  discount: Int,
  shipping_fee: Int,
  shipping_discount: Int,
  total: Int,
  lines: Type.Array(Type.Object({ line_index: Int, item_id: Type.String(), quantity: Int, unit_price: Int, amount: Int, discount: Int, total: Int })),
  applied: Type.Array(Applied),
  not_applied: Type.Array(NotApplied),
  gifts: Items,
  quote_hash: Type.String({ description: 'pass it to checkout: the checkout refuses a different price' }),
  priced_at: Timestamp,
});
export type QuoteView = Static<typeof Quote>;

export const Order = Type.Object({
  order_id: Type.String(),
  user_id: Type.String(),
  status: Type.Enum(ORDER_STATUSES, { type: 'string' }),
  expires_at: Timestamp,
  quote: Quote,
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type OrderView = Static<typeof Order>;

export const OrderParams = Type.Object({ order_id: Id });

const Stat = Type.Object({
  offer_kind: Type.Union([Type.Literal('promotion'), Type.Literal('coupon')]),
  offer_id: Type.String({ description: 'promotion id, or coupon template id' }),
  quotes: Int,
  orders: Int,
  paid_orders: Int,
  participants: Type.Integer({ description: 'distinct users with a paid order' }),
  conversion: Type.Union([Type.Number(), Type.Null()], { description: 'paid orders / quotes that applied it' }),
  discount_spent: Int,
  revenue: Type.Integer({ description: 'what the paid orders were paid (their totals)' }),
  roi: Type.Union([Type.Number(), Type.Null()], { description: 'revenue / discount_spent' }),
});
export const StatsQuery = Type.Object(
  { offer_kind: Type.Optional(Type.Union([Type.Literal('promotion'), Type.Literal('coupon')])), offer_id: Type.Optional(Id) },
  { additionalProperties: false },
);
export const Stats = Type.Object({ offers: Type.Array(Stat) });
