import type { ColumnType, Generated } from 'kysely';

export const REWARD_TYPES = ['COUPON', 'POINTS', 'BALANCE', 'REDEEM_CODE', 'SUBSCRIPTION', 'PHYSICAL', 'CUSTOM'] as const;
export type RewardType = (typeof REWARD_TYPES)[number];

export interface RewardTable {
  tenant_id: string;
  reward_id: string;
  product_code: string;
  campaign_id: string | null;
  reward_name: string;
  reward_type: RewardType;
  total_stock: number | null;
  valid_from: Date | null;
  valid_until: Date | null;
  config: ColumnType<unknown, string, string>;
  stock_slot_count: number;
  deleted_at: Date | null;
  created_at: Date;
  updated_at: Date;
  version: Generated<number>;
  /** The console operator who created / last changed the row: stamped by the database (0059_actor_stamps.sql), never written by code. */
  created_by: ColumnType<string | null, never, never>;
  updated_by: ColumnType<string | null, never, never>;
}

export interface RewardTables {
  reward: RewardTable;
}
