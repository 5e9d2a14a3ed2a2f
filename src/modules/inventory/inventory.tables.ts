import type { ColumnType } from 'kysely';

export interface StockSlotTable {
  tenant_id: string;
  reward_id: string;
  slot: number;
  total: number | null;
  reserved: ColumnType<number, number | undefined, number>;
  used: ColumnType<number, number | undefined, number>;
}

export type ReservationStatus = 'RESERVED' | 'CONFIRMED' | 'CANCELLED' | 'EXPIRED';

export interface ReservationTable {
  tenant_id: string;
  reservation_id: string;
  reward_id: string;
  /** The reward's product line (fixed for a reward's life): what product-limited keys filter on. */
  product_code: string;
  user_id: string | null;
  quantity: number;
  status: ReservationStatus;
  slots: ColumnType<unknown, string, string>;
  expires_at: Date;
  confirmed_at: Date | null;
  released_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface InventoryTables {
  reward_stock_slot: StockSlotTable;
  inventory_reservation: ReservationTable;
}
