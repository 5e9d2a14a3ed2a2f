import { type Static, Type } from 'typebox';
import { LinesCartSchema, ScopeSchema } from '../../platform/cart.js';
import { PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';
import { PROMOTION_TYPES, RESERVATION_STATUSES } from './promotion.tables.js';

const Money = (description?: string) => Type.Integer({ minimum: 0, maximum: 1_000_000_000_000, ...(description ? { description } : {}) });
const Count = (min: number, description?: string) => Type.Integer({ minimum: min, maximum: 1_000_000_000, ...(description ? { description } : {}) });
const Id = Type.String({ minLength: 1, maxLength: 128 });
const Rate = Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'share of the price paid, two decimals (0.8 = 八折, 20% off)' });

export const Scope = ScopeSchema;

const Slot = Type.Object({ start_time: Timestamp, end_time: Timestamp }, { additionalProperties: false });
export const FlashSaleTerms = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          item_id: Id,
          special_price: Type.Optional(Money('price of one unit during the sale')),
          discount_rate: Type.Optional(Rate),
          stock: Count(0, 'units for sale'),
          per_user_limit: Type.Optional(Count(1, 'units one user may take')),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 200 },
    ),
    time_slots: Type.Optional(Type.Array(Slot, { maxItems: 50, description: 'the sale runs only within these slots (inside the window)' })),
  },
  { additionalProperties: false },
);
export const BulkDiscountTerms = Type.Object(
  {
    tiers: Type.Optional(Type.Array(Type.Object({ threshold: Money(), off: Money() }, { additionalProperties: false }), { minItems: 1, maxItems: 20, description: '满减: the highest tier reached' })),
    repeat: Type.Optional(Type.Object({ every: Money(), off: Money(), max_off: Type.Optional(Money()) }, { additionalProperties: false, description: '满减: off for every `every` spent' })),
    quantity_tiers: Type.Optional(
      Type.Array(Type.Object({ min_quantity: Count(1), rate: Rate }, { additionalProperties: false }), { minItems: 1, maxItems: 20, description: '满件: N items at a rate' }),
    ),
  },
  { additionalProperties: false, description: 'exactly one of tiers, repeat, quantity_tiers' },
);
export const GiftTerms = Type.Object(
  {
    min_amount: Type.Optional(Money('spend at least this in scope')),
    min_quantity: Type.Optional(Count(1, 'or buy at least this many in scope')),
    gift_item_id: Id,
    gift_quantity: Type.Optional(Count(1)),
    gift_stock: Count(0),
  },
  { additionalProperties: false },
);

const Common = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  start_time: Timestamp,
  end_time: Timestamp,
  audience_id: Type.Union([Id, Type.Null()]),
  scope: Scope,
  priority: Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 }),
  stacking_group: Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()]),
  exclusive: Type.Boolean(),
  flash_sale: FlashSaleTerms,
  bulk_discount: BulkDiscountTerms,
  gift: GiftTerms,
};
const C = Common;
export const CreatePromotionBody = Type.Object(
  {
    name: C.name,
    promotion_type: Type.Enum(PROMOTION_TYPES, { type: 'string' }),
    start_time: C.start_time,
    end_time: C.end_time,
    audience_id: Type.Optional(C.audience_id),
    scope: Type.Optional(C.scope),
    priority: Type.Optional(C.priority),
    stacking_group: Type.Optional(C.stacking_group),
    exclusive: Type.Optional(C.exclusive),
    flash_sale: Type.Optional(C.flash_sale),
    bulk_discount: Type.Optional(C.bulk_discount),
    gift: Type.Optional(C.gift),
  },
  { additionalProperties: false, description: 'the terms go in the key named by promotion_type' },
);
export type CreatePromotionInput = Static<typeof CreatePromotionBody>;
export const UpdatePromotionBody = Type.Object(
  {
    name: Type.Optional(C.name),
    start_time: Type.Optional(C.start_time),
    end_time: Type.Optional(C.end_time),
    audience_id: Type.Optional(C.audience_id),
    scope: Type.Optional(C.scope),
    priority: Type.Optional(C.priority),
    stacking_group: Type.Optional(C.stacking_group),
    exclusive: Type.Optional(C.exclusive),
    flash_sale: Type.Optional(C.flash_sale),
    bulk_discount: Type.Optional(C.bulk_discount),
    gift: Type.Optional(C.gift),
  },
  { additionalProperties: false },
);
export type UpdatePromotionInput = Static<typeof UpdatePromotionBody>;

const ItemStock = Type.Object({ item_id: Type.String(), kind: Type.String(), stock: Type.Integer(), sold: Type.Integer(), per_user_limit: Type.Union([Type.Integer(), Type.Null()]) });
export const Promotion = Type.Object({
  promotion_id: Type.String(),
  name: Type.String(),
  promotion_type: Type.String(),
  status: Type.String({ description: 'scheduled | active | ended (by the clock)' }),
  start_time: Timestamp,
  end_time: Timestamp,
  audience_id: Type.Union([Type.String(), Type.Null()]),
  scope: Scope,
  priority: Type.Integer(),
  stacking_group: Type.Union([Type.String(), Type.Null()]),
  exclusive: Type.Boolean(),
  flash_sale: Type.Optional(FlashSaleTerms),
  bulk_discount: Type.Optional(BulkDiscountTerms),
  gift: Type.Optional(GiftTerms),
  stock: Type.Array(ItemStock),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type PromotionView = Static<typeof Promotion>;
export const PromotionList = Type.Object({ promotions: Type.Array(Promotion), pagination: Pagination });
export const ListQuery = Type.Object(
  {
    ...PageQuery,
    promotion_type: Type.Optional(Type.Enum(PROMOTION_TYPES, { type: 'string' })),
    active_at: Type.Optional(Timestamp),
    status: Type.Optional(
      Type.Union([Type.Literal('scheduled'), Type.Literal('active'), Type.Literal('ended')], {
        description: 'by the window now: scheduled (not started), active (started, not ended; a flash sale between its time slots included), ended',
      }),
    ),
  },
  { additionalProperties: false },
);
export const PromotionParams = Type.Object({ promotion_id: Id });

export const EligibilityBody = Type.Object({ user_id: Id, item_id: Type.Optional(Id), category_id: Type.Optional(Id) }, { additionalProperties: false });
export const Eligibility = Type.Object({
  promotion_id: Type.String(),
  eligible: Type.Boolean(),
  reasons: Type.Array(Type.Object({ code: Type.String(), message: Type.String() })),
  stock_left: Type.Union([Type.Integer(), Type.Null()]),
  user_remaining: Type.Union([Type.Integer(), Type.Null()]),
});

export const DiscountBody = Type.Object(
  {
    user_id: Id,
    cart: Type.Optional(LinesCartSchema),
    order_amount: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 1_000_000_000_000, description: "instead of cart (the document's calculate_discount(promotion, order_amount)): one line in no category, in scope of {all: true} only" }),
    ),
  },
  { additionalProperties: false, description: 'exactly one of cart, order_amount' },
);
export const Discount = Type.Object({
  promotion_id: Type.String(),
  applicable: Type.Boolean(),
  reason: Type.Union([Type.String(), Type.Null()]),
  eligible_amount: Type.Integer(),
  discount: Type.Integer(),
  lines: Type.Array(Type.Object({ line_index: Type.Integer(), item_id: Type.String(), amount: Type.Integer(), discount: Type.Integer() })),
  gifts: Type.Array(Type.Object({ item_id: Type.String(), quantity: Type.Integer() })),
});

export const ReserveBody = Type.Object(
  {
    user_id: Id,
    order_id: Id,
    item_id: Id,
    quantity: Type.Integer({ minimum: 1, maximum: 100_000 }),
    ttl_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 604_800, description: 'how long the units are held before they go back to the stock (default 900)' })),
  },
  { additionalProperties: false },
);
export const OrderBody = Type.Object({ order_id: Id }, { additionalProperties: false });
export const Reservation = Type.Object({
  promotion_id: Type.String(),
  order_id: Type.String(),
  user_id: Type.String(),
  item_id: Type.String(),
  quantity: Type.Integer(),
  status: Type.Enum(RESERVATION_STATUSES, { type: 'string' }),
  expires_at: Type.Union([Timestamp, Type.Null()], { description: 'a held reservation is released after this (null: no TTL)' }),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type ReservationView = Static<typeof Reservation>;
export const OrderReservations = Type.Object({
  promotion_id: Type.String(),
  order_id: Type.String(),
  status: Type.Enum(RESERVATION_STATUSES, { type: 'string', description: 'the state every reservation of the order in this promotion is now in' }),
  reservations: Type.Array(Reservation, { description: 'one per item, by item id' }),
});
