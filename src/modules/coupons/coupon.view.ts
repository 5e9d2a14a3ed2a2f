import type { CouponTerms } from './coupon.rules.js';
import { effectiveStatus } from './coupon.rules.js';
import type { CouponView, TemplateView } from './coupon.schemas.js';
import type { CouponWithTerms, TemplateRow } from './coupon.repo.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;
const num = (v: string | number) => Number(v);
const numOrNull = (v: string | number | null) => (v === null ? null : Number(v));

export function toTemplateView(row: TemplateRow): TemplateView {
  return {
    template_id: row.template_id,
    name: row.name,
    coupon_type: row.coupon_type,
    discount_kind: row.discount_kind,
    value: num(row.value),
    max_discount: numOrNull(row.max_discount),
    gift_item_id: row.gift_item_id,
    min_amount: num(row.min_amount),
    valid_from: iso(row.valid_from),
    valid_until: iso(row.valid_until),
    valid_days: row.valid_days,
    usage_limit: row.usage_limit,
    per_user_limit: row.per_user_limit,
    scope: row.scope,
    stacking_group: row.stacking_group,
    exclusive: row.exclusive,
    claim_policy: row.claim_policy,
    audience_id: row.audience_id,
    refund_returns: row.refund_returns,
    claimed_count: row.claimed_count,
    used_count: row.used_count,
    status: row.status,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function termsOf(row: CouponWithTerms): CouponTerms {
  return {
    coupon_id: row.coupon_id,
    status: row.status,
    valid_from: row.valid_from,
    valid_until: row.valid_until,
    locked_until: row.locked_until,
    order_id: row.order_id,
    coupon_type: row.coupon_type,
    discount_kind: row.discount_kind,
    value: num(row.value),
    max_discount: numOrNull(row.max_discount),
    gift_item_id: row.gift_item_id,
    min_amount: num(row.min_amount),
    scope: row.scope,
    stacking_group: row.stacking_group,
    exclusive: row.exclusive,
  };
}

export function toCouponView(row: CouponWithTerms, now: Date): CouponView {
  const status = effectiveStatus(row, now);
  const lapsed = row.status === 'locked' && status !== 'locked';
  return {
    coupon_id: row.coupon_id,
    code: row.code,
    template_id: row.template_id,
    user_id: row.user_id,
    status,
    source: row.source,
    name: row.name,
    coupon_type: row.coupon_type,
    discount_kind: row.discount_kind,
    value: num(row.value),
    max_discount: numOrNull(row.max_discount),
    min_amount: num(row.min_amount),
    gift_item_id: row.gift_item_id,
    stacking_group: row.stacking_group,
    exclusive: row.exclusive,
    usage_limit: row.usage_limit,
    used_count: row.used_count,
    valid_from: iso(row.valid_from),
    valid_until: iso(row.valid_until),
    order_id: lapsed ? null : row.order_id,
    locked_until: lapsed ? null : iso(row.locked_until),
    used_at: iso(row.used_at),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
