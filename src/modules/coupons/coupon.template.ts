import { couponErrors } from './coupon.errors.js';
import type { CreateTemplateInput } from './coupon.schemas.js';
import type { ClaimPolicy, CouponScope, CouponType, DiscountKind } from './coupon.tables.js';
import { parseInstant } from '../../platform/time.js';

export type TemplateInput = CreateTemplateInput;

export interface NormalizedTemplate {
  name: string;
  coupon_type: CouponType;
  discount_kind: DiscountKind | null;
  value: number;
  max_discount: number | null;
  gift_item_id: string | null;
  min_amount: number;
  valid_from: Date | null;
  valid_until: Date | null;
  valid_days: number | null;
  usage_limit: number | null;
  per_user_limit: number | null;
  scope: CouponScope;
  stacking_group: string | null;
  exclusive: boolean;
  claim_policy: ClaimPolicy;
  audience_id: string | null;
  refund_returns: boolean;
}

const bad = couponErrors.invalid;

/** Checks a template's terms as a whole and fills the defaults; every refusal is a 400 naming the field. */
export function normalizeTemplate(input: TemplateInput): NormalizedTemplate {
  const type = input.coupon_type;
  let kind: DiscountKind | null = input.discount_kind ?? null;
  let value = input.value;
  if (type === 'discount') {
    kind ??= 'fixed';
    if (kind === 'free') throw bad('discount_kind', 'a discount coupon is fixed or percent');
    if (kind === 'percent' && (value < 1 || value > 100)) throw bad('value', 'a percent discount is 1..100');
    if (kind === 'fixed' && value < 1) throw bad('value', 'a fixed discount is at least 1 (minor unit)');
  } else if (type === 'shipping') {
    kind ??= 'free';
    if (kind === 'percent') throw bad('discount_kind', 'a shipping coupon is free or fixed');
    if (kind === 'free') value = 0;
    else if (value < 1) throw bad('value', 'a fixed shipping reduction is at least 1 (minor unit)');
  } else {
    if (kind !== null) throw bad('discount_kind', 'a gift coupon has no discount_kind');
    if (!input.gift_item_id) throw bad('gift_item_id', 'is required for a gift coupon');
    value = 0;
  }
  const maxDiscount = input.max_discount ?? null;
  if (maxDiscount !== null && kind !== 'percent') throw bad('max_discount', 'only a percent discount has a cap');
  const validFrom = parseInstant('valid_from', input.valid_from);
  const validUntil = parseInstant('valid_until', input.valid_until);
  if (validFrom && validUntil && validUntil <= validFrom) throw bad('valid_until', 'must be after valid_from');
  const scope: CouponScope = input.scope ?? { all: true };
  if (!scope.all && !scope.item_ids?.length && !scope.category_ids?.length) {
    throw bad('scope', 'give {all: true} or at least one of item_ids / category_ids');
  }
  const audienceId = input.audience_id ?? null;
  // An audience_id without a claim_policy means the audience may claim.
  const policy = input.claim_policy ?? (audienceId ? 'audience' : 'anyone');
  if (policy === 'audience' && !audienceId) throw bad('audience_id', 'is required with claim_policy audience');
  if (policy !== 'audience' && audienceId) throw bad('audience_id', 'is only for claim_policy audience');
  return {
    name: input.name,
    coupon_type: type,
    discount_kind: kind,
    value,
    max_discount: maxDiscount,
    gift_item_id: type === 'gift' ? (input.gift_item_id ?? null) : null,
    min_amount: input.min_amount ?? 0,
    valid_from: validFrom,
    valid_until: validUntil,
    valid_days: input.valid_days ?? null,
    usage_limit: input.usage_limit ?? null,
    per_user_limit: input.per_user_limit ?? null,
    scope,
    stacking_group: input.stacking_group ?? null,
    exclusive: input.exclusive ?? false,
    claim_policy: policy,
    audience_id: audienceId,
    refund_returns: input.refund_returns ?? false,
  };
}
