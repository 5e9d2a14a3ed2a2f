import type { ColumnType } from 'kysely';

export const GRANT_STATUSES = ['PENDING', 'DELIVERED', 'FAILED', 'USED', 'REVOKED'] as const;
export type GrantStatus = (typeof GRANT_STATUSES)[number];
export type DeliveryStatus = 'NOT_REQUIRED' | 'PENDING' | 'DELIVERED' | 'FAILED';

type Json = ColumnType<unknown, string, string>;

export interface GrantTable {
  tenant_id: string;
  grant_id: string;
  reward_id: string;
  reward_type: string;
  product_code: string;
  campaign_id: string | null;
  user_id: string;
  quantity: number;
  source: string | null;
  source_id: string | null;
  status: GrantStatus;
  distributor: string;
  payload: Json;
  stock_slots: Json;
  period_key: string | null;
  delivery_status: DeliveryStatus;
  delivery_attempts: ColumnType<number, number | undefined, number>;
  delivery_last_error: string | null;
  delivered_at: Date | null;
  used_at: Date | null;
  revoked_at: Date | null;
  revoke_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface UserCounterTable {
  tenant_id: string;
  reward_id: string;
  user_id: string;
  period_key: string;
  granted: number;
  last_granted_at: Date;
}

export interface GrantTables {
  reward_grant: GrantTable;
  reward_user_counter: UserCounterTable;
}
