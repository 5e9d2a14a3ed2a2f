import type { ColumnType } from 'kysely';

export const ORDER_STATUSES = ['reserved', 'committed', 'released', 'expired', 'refunded'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** bigint columns arrive as strings from pg; written as numbers. */
type Money = ColumnType<string | number, number, number>;

export interface CheckoutOrderTable {
  tenant_id: string;
  order_id: string;
  user_id: string;
  status: OrderStatus;
  /** sha-256 of the checkout request (a repeat with the same order id must be the same request). */
  request_hash: string;
  quote_hash: string;
  /** The priced order as answered (lines, applied offers, gifts, totals). */
  quote: ColumnType<unknown, string, string>;
  subtotal: Money;
  discount: Money;
  shipping_discount: Money;
  total: Money;
  expires_at: Date;
  created_at: Date;
  updated_at: Date;
}

/** One row per offer applied to an order: what the stats count. */
export interface CheckoutOrderOfferTable {
  tenant_id: string;
  order_id: string;
  offer_kind: 'promotion' | 'coupon';
  /** The promotion id, or the coupon template id (stats are per template, not per coupon). */
  offer_id: string;
  user_id: string;
  discount: Money;
  created_at: Date;
}

/** Quotes that applied an offer, counted in memory and added here every few seconds. */
export interface CheckoutOfferQuotesTable {
  tenant_id: string;
  offer_kind: 'promotion' | 'coupon';
  offer_id: string;
  quotes: ColumnType<string | number, number, number>;
}

export interface CheckoutTables {
  checkout_order: CheckoutOrderTable;
  checkout_order_offer: CheckoutOrderOfferTable;
  checkout_offer_quotes: CheckoutOfferQuotesTable;
}
