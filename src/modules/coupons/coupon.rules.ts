/**
 * The one function that decides whether a coupon applies to a cart and what it is worth. The
 * availability routes and the lock both call `evaluateCoupon`, so what a user is shown as usable
 * is exactly what a lock accepts.
 *
 * Rounding: a percent discount is floor(eligible * percent / 100) in minor units (rounded down,
 * never up), then capped by max_discount; every discount is capped by the amount it applies to
 * (the eligible lines for a discount coupon, the shipping fee for a shipping coupon).
 */
import { type Cart, type ItemScope, inScope, lineAmount } from '../../platform/cart.js';
import type { CouponStatus, CouponType, DiscountKind } from './coupon.tables.js';

export type { Cart, CartLine } from '../../platform/cart.js';

export const NOT_USABLE_REASONS = [
  'below_min_amount',
  'not_yet_valid',
  'expired',
  'out_of_scope',
  'usage_limit_reached',
  'not_stackable_with',
  'not_available',
] as const;
export type NotUsableReason = (typeof NOT_USABLE_REASONS)[number];

/** What the rules need of a coupon and its template. */
export interface CouponTerms {
  coupon_id: string;
  status: CouponStatus;
  valid_from: Date | null;
  valid_until: Date | null;
  locked_until: Date | null;
  order_id: string | null;
  coupon_type: CouponType;
  discount_kind: DiscountKind | null;
  value: number;
  max_discount: number | null;
  gift_item_id: string | null;
  min_amount: number;
  scope: ItemScope;
  stacking_group: string | null;
  exclusive: boolean;
}

export type Evaluation =
  | { usable: true; discount: number | null; shipping_discount: number | null; eligible_amount: number | null; gift_item_id: string | null }
  | { usable: false; reason: NotUsableReason; details: Record<string, unknown> };

/** The status a coupon has now: an available one past its validity is expired, a lock past its TTL is free again. */
export function effectiveStatus(c: Pick<CouponTerms, 'status' | 'valid_until' | 'locked_until'>, now: Date): CouponStatus {
  const t = now.getTime();
  if (c.status === 'locked' && c.locked_until && c.locked_until.getTime() <= t) {
    return c.valid_until && c.valid_until.getTime() <= t ? 'expired' : 'available';
  }
  if (c.status === 'available' && c.valid_until && c.valid_until.getTime() <= t) return 'expired';
  return c.status;
}

/** Conflicts with the other coupons meant for the same order: one per stacking group, an exclusive one alone. */
export function stackingConflicts(c: CouponTerms, others: readonly CouponTerms[]): string[] {
  const conflicts: string[] = [];
  for (const o of others) {
    if (o.coupon_id === c.coupon_id) continue;
    const sameGroup = c.stacking_group !== null && c.stacking_group === o.stacking_group;
    if (c.exclusive || o.exclusive || sameGroup) conflicts.push(o.coupon_id);
  }
  return conflicts;
}

function discountOn(c: CouponTerms, eligible: number, shippingFee: number): { discount: number; shipping: number } {
  if (c.coupon_type === 'gift') return { discount: 0, shipping: 0 };
  if (c.coupon_type === 'shipping') {
    const off = c.discount_kind === 'free' ? shippingFee : Math.min(c.value, shippingFee);
    return { discount: 0, shipping: off };
  }
  // floor(eligible * percent / 100), computed without leaving the safe integer range for large carts.
  let off = c.discount_kind === 'percent' ? Math.floor(eligible / 100) * c.value + Math.floor(((eligible % 100) * c.value) / 100) : c.value;
  if (c.max_discount !== null) off = Math.min(off, c.max_discount);
  return { discount: Math.min(off, eligible), shipping: 0 };
}

/**
 * Whether coupon `c` can be used now on `cart` (if given) alongside `others`, and what it gives.
 * Without a cart only state, validity and stacking are checked and the amounts are null.
 */
export function evaluateCoupon(c: CouponTerms, now: Date, cart?: Cart, others: readonly CouponTerms[] = [], orderId?: string): Evaluation {
  const status = effectiveStatus(c, now);
  const t = now.getTime();
  if (status === 'expired' || (c.valid_until && c.valid_until.getTime() <= t)) {
    return { usable: false, reason: 'expired', details: { valid_until: c.valid_until?.toISOString() ?? null } };
  }
  const heldByThisOrder = status === 'locked' && orderId !== undefined && c.order_id === orderId;
  if (status !== 'available' && !heldByThisOrder) return { usable: false, reason: 'not_available', details: { status } };
  if (c.valid_from && c.valid_from.getTime() > t) {
    return { usable: false, reason: 'not_yet_valid', details: { valid_from: c.valid_from.toISOString() } };
  }
  const conflicts = stackingConflicts(c, others);
  if (conflicts.length > 0) return { usable: false, reason: 'not_stackable_with', details: { conflicts_with: conflicts } };
  if (!cart) return { usable: true, discount: null, shipping_discount: null, eligible_amount: null, gift_item_id: c.gift_item_id };
  let eligible = 0;
  let inScopeLines = 0;
  for (const line of cart.lines) {
    if (!inScope(c.scope, line)) continue;
    inScopeLines++;
    eligible += lineAmount(line);
  }
  if (inScopeLines === 0) return { usable: false, reason: 'out_of_scope', details: {} };
  if (eligible < c.min_amount) return { usable: false, reason: 'below_min_amount', details: { min_amount: c.min_amount, eligible_amount: eligible } };
  const off = discountOn(c, eligible, cart.shipping_fee ?? 0);
  return { usable: true, discount: off.discount, shipping_discount: off.shipping, eligible_amount: eligible, gift_item_id: c.gift_item_id };
}
