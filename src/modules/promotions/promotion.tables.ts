import type { ItemScope } from '../../platform/cart.js';
import type { ColumnType, Generated } from 'kysely';

export const PROMOTION_TYPES = ['flash_sale', 'bulk_discount', 'gift'] as const;
export type PromotionType = (typeof PROMOTION_TYPES)[number];
export const RESERVATION_STATUSES = ['reserved', 'committed', 'released', 'refunded'] as const;
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

/** Which items a promotion covers (the shared item scope). */
export type PromotionScope = ItemScope;

/** A time slot of a flash sale (within the promotion's window). */
export interface TimeSlot {
  start_time: string;
  end_time: string;
}

export interface FlashItemTerms {
  item_id: string;
  /** The price of one unit during the sale (minor units); or `discount_rate`. */
  special_price?: number | undefined;
  /** The share of the price paid, 0.01..0.99 (0.8 = 八折: 20% off). */
  discount_rate?: number | undefined;
  stock: number;
  per_user_limit?: number | undefined;
}

export type PromotionTerms =
  | { type: 'flash_sale'; items: FlashItemTerms[]; time_slots?: TimeSlot[] | undefined }
  | {
      type: 'bulk_discount';
      tiers?: { threshold: number; off: number }[] | undefined;
      repeat?: { every: number; off: number; max_off?: number | undefined } | undefined;
      quantity_tiers?: { min_quantity: number; rate: number }[] | undefined;
    }
  | { type: 'gift'; min_amount?: number | undefined; min_quantity?: number | undefined; gift_item_id: string; gift_quantity: number; gift_stock: number };

export interface PromotionTable {
  tenant_id: string;
  promotion_id: string;
  name: string;
  promotion_type: PromotionType;
  terms: ColumnType<PromotionTerms, string, string>;
  scope: ColumnType<PromotionScope, string, string>;
  audience_id: string | null;
  start_time: Date;
  end_time: Date;
  priority: number;
  stacking_group: string | null;
  exclusive: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface PromotionItemTable {
  tenant_id: string;
  promotion_id: string;
  item_id: string;
  kind: 'flash' | 'gift';
  stock: number;
  sold: Generated<number>;
  per_user_limit: number | null;
}

export interface PromotionUserCountTable {
  tenant_id: string;
  promotion_id: string;
  item_id: string;
  user_id: string;
  n: number;
}

export interface PromotionReservationTable {
  tenant_id: string;
  promotion_id: string;
  order_id: string;
  user_id: string;
  item_id: string;
  quantity: number;
  status: ReservationStatus;
  /** When a held reservation lapses (the sweep releases it); null: no TTL. */
  expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface PromotionTables {
  promotion: PromotionTable;
  promotion_item: PromotionItemTable;
  promotion_user_count: PromotionUserCountTable;
  promotion_reservation: PromotionReservationTable;
}
