/**
 * What a promotion gives on a cart: one pure function per type, no database, no clock. The
 * discount route calls `calculateDiscount`, and the future quote will call the same function.
 *
 * Rounding (all amounts integer minor units): every discount is rounded down, never up, and never
 * exceeds the amount it applies to. A cart-level discount (满减, 满件) is computed once on the
 * eligible amount, then spread over the eligible lines in proportion to their amounts, each share
 * rounded down, the units left over going one each to the largest fractional parts (the first of
 * equal ones): the sum of the
 * line discounts is exactly the promotion's discount.
 */
import { allocate, type Cart, type CartLine, inScope, lineAmount } from '../../platform/cart.js';
import type { FlashItemTerms, PromotionScope, PromotionTerms } from './promotion.tables.js';

export { inScope } from '../../platform/cart.js';
export type { Cart, CartLine } from '../../platform/cart.js';

export const NOT_APPLICABLE_REASONS = ['out_of_scope', 'below_threshold'] as const;
export type NotApplicableReason = (typeof NOT_APPLICABLE_REASONS)[number];

export interface LineDiscount {
  line_index: number;
  item_id: string;
  amount: number;
  discount: number;
}
export interface DiscountResult {
  applicable: boolean;
  reason: NotApplicableReason | null;
  eligible_amount: number;
  discount: number;
  lines: LineDiscount[];
  gifts: { item_id: string; quantity: number }[];
}

/** The rate (share paid, two decimals) as whole hundredths: 0.8 -> 80. */
export function rateHundredths(rate: number): number {
  return Math.round(rate * 100);
}

/** floor(amount * pct / 100) without leaving the safe integer range. */
function percentOf(amount: number, pct: number): number {
  return Math.floor(amount / 100) * pct + Math.floor(((amount % 100) * pct) / 100);
}

/** Spreads `total` over `amounts` in proportion (the shared allocation of platform/cart.ts). */
export const spread = allocate;

function none(reason: NotApplicableReason, eligible: number): DiscountResult {
  return { applicable: false, reason, eligible_amount: eligible, discount: 0, lines: [], gifts: [] };
}

/** Flash sale: each line of a sale item costs special_price (or price × rate) per unit, for at most per_user_limit units. */
export function flashSaleDiscount(items: readonly FlashItemTerms[], scope: PromotionScope, cart: Cart): DiscountResult {
  const byItem = new Map(items.map((i) => [i.item_id, i]));
  const lines: LineDiscount[] = [];
  let eligible = 0;
  cart.lines.forEach((line, index) => {
    const item = byItem.get(line.item_id);
    if (!item || !inScope(scope, line)) return;
    const units = item.per_user_limit !== undefined ? Math.min(line.quantity, item.per_user_limit) : line.quantity;
    const amount = line.unit_price * line.quantity;
    const off =
      item.special_price !== undefined
        ? Math.max(0, line.unit_price - item.special_price) * units
        : percentOf(line.unit_price * units, 100 - rateHundredths(item.discount_rate ?? 1));
    eligible += amount;
    lines.push({ line_index: index, item_id: line.item_id, amount, discount: Math.min(off, amount) });
  });
  if (lines.length === 0) return none('out_of_scope', 0);
  return { applicable: true, reason: null, eligible_amount: eligible, discount: lines.reduce((a, l) => a + l.discount, 0), lines, gifts: [] };
}

function eligibleLines(scope: PromotionScope, cart: Cart) {
  const out: { index: number; line: CartLine; amount: number }[] = [];
  cart.lines.forEach((line, index) => {
    if (inScope(scope, line)) out.push({ index, line, amount: lineAmount(line) });
  });
  return out;
}

/** 满减 (highest tier reached, or every X off Y up to max_off) and 满件 (N items at a rate), spread over the eligible lines. */
export function bulkDiscount(terms: Extract<PromotionTerms, { type: 'bulk_discount' }>, scope: PromotionScope, cart: Cart): DiscountResult {
  const lines = eligibleLines(scope, cart);
  if (lines.length === 0) return none('out_of_scope', 0);
  const eligible = lines.reduce((a, l) => a + l.amount, 0);
  const quantity = lines.reduce((a, l) => a + l.line.quantity, 0);
  let off = 0;
  if (terms.tiers) {
    for (const tier of terms.tiers) if (eligible >= tier.threshold && tier.off > off) off = tier.off;
  } else if (terms.repeat) {
    off = Math.floor(eligible / terms.repeat.every) * terms.repeat.off;
    if (terms.repeat.max_off !== undefined) off = Math.min(off, terms.repeat.max_off);
  } else if (terms.quantity_tiers) {
    let best: number | null = null;
    for (const tier of terms.quantity_tiers) {
      const r = rateHundredths(tier.rate);
      if (quantity >= tier.min_quantity && (best === null || r < best)) best = r;
    }
    if (best !== null) off = percentOf(eligible, 100 - best);
  }
  if (off <= 0) return none('below_threshold', eligible);
  off = Math.min(off, eligible);
  const shares = spread(off, lines.map((l) => l.amount));
  return {
    applicable: true,
    reason: null,
    eligible_amount: eligible,
    discount: off,
    lines: lines.map((l, i) => ({ line_index: l.index, item_id: l.line.item_id, amount: l.amount, discount: shares[i] ?? 0 })),
    gifts: [],
  };
}

/** Spend min_amount or buy min_quantity in scope: gift_quantity of the gift item (no money off). */
export function giftDiscount(terms: Extract<PromotionTerms, { type: 'gift' }>, scope: PromotionScope, cart: Cart): DiscountResult {
  const lines = eligibleLines(scope, cart);
  if (lines.length === 0) return none('out_of_scope', 0);
  const eligible = lines.reduce((a, l) => a + l.amount, 0);
  const quantity = lines.reduce((a, l) => a + l.line.quantity, 0);
  if ((terms.min_amount !== undefined && eligible < terms.min_amount) || (terms.min_quantity !== undefined && quantity < terms.min_quantity)) {
    return none('below_threshold', eligible);
  }
  return {
    applicable: true,
    reason: null,
    eligible_amount: eligible,
    discount: 0,
    lines: lines.map((l) => ({ line_index: l.index, item_id: l.line.item_id, amount: l.amount, discount: 0 })),
    gifts: [{ item_id: terms.gift_item_id, quantity: terms.gift_quantity }],
  };
}

/** The discount of one promotion on a cart (its type's function). */
export function calculateDiscount(terms: PromotionTerms, scope: PromotionScope, cart: Cart): DiscountResult {
  switch (terms.type) {
    case 'flash_sale':
      return flashSaleDiscount(terms.items, scope, cart);
    case 'bulk_discount':
      return bulkDiscount(terms, scope, cart);
    case 'gift':
      return giftDiscount(terms, scope, cart);
  }
}
