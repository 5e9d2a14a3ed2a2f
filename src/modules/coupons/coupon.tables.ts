import type { ItemScope } from '../../platform/cart.js';
import type { ColumnType, Generated } from 'kysely';

export const COUPON_TYPES = ['discount', 'shipping', 'gift'] as const;
export type CouponType = (typeof COUPON_TYPES)[number];
export const DISCOUNT_KINDS = ['fixed', 'percent', 'free'] as const;
export type DiscountKind = (typeof DISCOUNT_KINDS)[number];
export const CLAIM_POLICIES = ['anyone', 'audience', 'admin_only'] as const;
export type ClaimPolicy = (typeof CLAIM_POLICIES)[number];
export const COUPON_STATUSES = ['available', 'locked', 'used', 'expired', 'voided'] as const;
export type CouponStatus = (typeof COUPON_STATUSES)[number];

/** bigint columns arrive as strings from pg; written as numbers. */
type Money = ColumnType<string | number, number, number>;

/** Which items a coupon covers (the shared item scope). */
export type CouponScope = ItemScope;

export interface CouponTemplateTable {
  tenant_id: string;
  template_id: string;
  name: string;
  coupon_type: CouponType;
  discount_kind: DiscountKind | null;
  value: Money;
  max_discount: ColumnType<string | number | null, number | null, number | null>;
  gift_item_id: string | null;
  min_amount: Money;
  valid_from: Date | null;
  valid_until: Date | null;
  valid_days: number | null;
  usage_limit: number | null;
  claimed_count: Generated<number>;
  used_count: Generated<number>;
  per_user_limit: number | null;
  scope: ColumnType<CouponScope, string, string>;
  stacking_group: string | null;
  exclusive: boolean;
  claim_policy: ClaimPolicy;
  audience_id: string | null;
  refund_returns: boolean;
  status: Generated<'active' | 'disabled'>;
  created_at: Date;
  updated_at: Date;
}

export interface CouponTable {
  tenant_id: string;
  coupon_id: string;
  template_id: string;
  user_id: string;
  code: string;
  status: CouponStatus;
  source: 'claim' | 'issue' | 'grant';
  valid_from: Date | null;
  valid_until: Date | null;
  order_id: string | null;
  locked_until: Date | null;
  used_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface CouponUserClaimsTable {
  tenant_id: string;
  template_id: string;
  user_id: string;
  n: number;
}

/** coupon_grant: which coupon each unit of a grant issued (migration 0039). */
export interface CouponGrantTable {
  tenant_id: string;
  grant_id: string;
  unit: number;
  coupon_id: string;
  created_at: Date;
}

export interface CouponTables {
  coupon_template: CouponTemplateTable;
  coupon: CouponTable;
  coupon_user_claims: CouponUserClaimsTable;
  coupon_grant: CouponGrantTable;
}
