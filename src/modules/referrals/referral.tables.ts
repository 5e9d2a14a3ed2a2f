import type { ColumnType, Generated } from 'kysely';

type Json = ColumnType<unknown, string, string>;

export interface ReferralCampaignTable {
  tenant_id: string;
  campaign_id: string;
  image_url: string | null;
  reward_kind: 'fixed' | 'percent';
  /** fixed: fen per paid order; percent: basis points of the order amount. */
  reward_value: number;
  reward_cap: number | null;
  amount: number;
  currency: string;
  provider: 'sandbox' | 'wechat_pay';
  status: 'enabled' | 'disabled';
  /** Basis points of the order amount for the referrer's own referrer; null = off. */
  second_level_rate: number | null;
  /** The WeChat AppID the landing page signs in with (null: the tenant's only app). */
  wechat_app_id: Generated<string | null>;
  created_at: Date;
  updated_at: Date;
  version: Generated<number>;
  /** Set by the document's DELETE /api/v1/campaigns/:id (the row stays; the paths answer 404). */
  deleted_at: Generated<Date | null>;
}

export type OrderStatus = 'pending' | 'paid' | 'refunded' | 'cancelled';
export type PayStatus = 'unpaid' | 'paying' | 'paid' | 'refunded';

export interface ReferralOrderTable {
  order_id: string;
  tenant_id: string;
  campaign_id: string;
  phone: string;
  form_data: Json;
  referrer_id: string | null;
  channel: string | null;
  status: OrderStatus;
  pay_status: PayStatus;
  amount: number;
  currency: string;
  provider: string;
  trade_no: string | null;
  flagged: Generated<boolean>;
  flag_reason: string | null;
  paid_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface ReferralRewardTable {
  reward_id: string;
  tenant_id: string;
  order_id: string;
  campaign_id: string;
  user_id: string;
  level: number;
  amount: number;
  status: 'settled' | 'reversed';
  ledger_entry_id: string | null;
  settled_at: Date | null;
  created_at: Date;
  /** What this reward paid of the user's debt first (the ledger credited amount - debt_paid). */
  debt_paid: Generated<number>;
  reversed_at: Date | null;
  /** Once reversed: what the ledger took back from the balance, and what became debt. */
  clawed_back: number | null;
  debt: number | null;
}

export type WithdrawalStatus = 'pending' | 'approved' | 'rejected';

export interface ReferralWithdrawalTable {
  withdrawal_id: string;
  tenant_id: string;
  user_id: string;
  amount: number;
  currency: string;
  account: string | null;
  status: WithdrawalStatus;
  note: string | null;
  reason: string | null;
  /** The SPEND entry holding the amount since the request. */
  ledger_entry_id: string;
  created_at: Date;
  decided_at: Date | null;
}

export interface ReferralRefundTable {
  out_refund_no: string;
  tenant_id: string;
  order_id: string;
  amount: number;
  currency: string;
  status: 'requested' | 'succeeded';
  refund_id: string | null;
  reason: string | null;
  requested_at: Date;
  settled_at: Date | null;
}

export interface ReferralDebtTable {
  tenant_id: string;
  user_id: string;
  amount: number;
  incurred: number;
  paid: number;
  last_paid: Generated<number>;
  updated_at: Date;
}

export interface ReferralViewTable {
  tenant_id: string;
  campaign_id: string;
  channel: string;
  referrer_id: string;
  views: number;
}

export interface ReferralTables {
  referral_campaign: ReferralCampaignTable;
  referral_order: ReferralOrderTable;
  referral_reward: ReferralRewardTable;
  referral_view: ReferralViewTable;
  referral_withdrawal: ReferralWithdrawalTable;
  referral_refund: ReferralRefundTable;
  referral_debt: ReferralDebtTable;
}
