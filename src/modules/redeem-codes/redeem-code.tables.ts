import type { ColumnType } from 'kysely';
import type { CodeType } from './redeem-code.rules.js';

export const BATCH_STATUSES = ['PENDING', 'RUNNING', 'DONE', 'VOIDED'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];
export type StoredCodeStatus = 'ACTIVE' | 'REDEEMED' | 'VOIDED';

/** A reward rule of the product document: what a redemption grants when its condition matches the user. */
export interface RewardRule {
  type: 'COUPON' | 'REWARD';
  /** COUPON: a coupon template id; REWARD: a reward id. */
  id: string;
  condition?: { userTag?: string } | null;
}

export interface RedeemCodeBatchTable {
  tenant_id: string;
  batch_id: string;
  campaign_id: string;
  /** null: the batch grants by its reward_rules. */
  reward_id: string | null;
  product_code: string;
  code_type: CodeType;
  length: number;
  prefix: string;
  alphabet: string;
  check_char: boolean;
  group_size: number | null;
  expires_at: Date | null;
  max_uses: number;
  applicable_products: string[] | null;
  total: number;
  generated: ColumnType<number, number | undefined, number>;
  status: BatchStatus;
  job_id: string | null;
  voided_at: Date | null;
  created_at: Date;
  updated_at: Date;
  rule_id: ColumnType<string | null, string | null | undefined, string | null>;
  valid_days: ColumnType<number | null, number | null | undefined, number | null>;
  reward_rules: ColumnType<RewardRule[] | null, string | null | undefined, string | null>;
  one_per_user: ColumnType<boolean, boolean | undefined, boolean>;
  extra_data: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
}

export interface RedeemCodeTable {
  tenant_id: string;
  batch_id: string;
  seq: number;
  code: string;
  status: ColumnType<StoredCodeStatus, StoredCodeStatus | undefined, StoredCodeStatus>;
  uses: ColumnType<number, number | undefined, number>;
  assigned_user_id: string | null;
  assigned_at: Date | null;
  last_redeemed_at: Date | null;
  voided_at: Date | null;
  extra_data: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
}

export interface RedemptionTable {
  tenant_id: string;
  batch_id: string;
  seq: number;
  user_id: string;
  redemption_id: string;
  code: string;
  campaign_id: string;
  reward_id: string | null;
  grant_id: string | null;
  product_code: string | null;
  client_ip: string | null;
  device_id: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Date;
}

export interface RedeemCodeBatchUserTable {
  tenant_id: string;
  batch_id: string;
  user_id: string;
  seq: number;
  created_at: Date;
}

export interface RedeemCodeTables {
  redeem_code_batch: RedeemCodeBatchTable;
  redeem_code: RedeemCodeTable;
  redeem_code_redemption: RedemptionTable;
  redeem_code_batch_user: RedeemCodeBatchUserTable;
}
