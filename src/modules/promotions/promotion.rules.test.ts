import { describe, expect, it } from 'vitest';
import { type Cart, calculateDiscount, spread } from './promotion.rules.js';
import type { PromotionScope, PromotionTerms } from './promotion.tables.js';

const all: PromotionScope = { all: true };
const cart = (...lines: [string, number, number, string?][]): Cart => ({
  lines: lines.map(([item_id, unit_price, quantity, category_id]) => ({ item_id, unit_price, quantity, ...(category_id ? { category_id } : {}) })),
});

// [name, terms, scope, cart, expected total discount, expected line discounts, expected gifts]
const cases: [string, PromotionTerms, PromotionScope, Cart, number, number[], number][] = [
  ['flash special price', { type: 'flash_sale', items: [{ item_id: 'a', special_price: 699, stock: 10 }] }, all, cart(['a', 999, 2], ['b', 500, 1]), 600, [600], 0],
  ['flash price above list gives 0', { type: 'flash_sale', items: [{ item_id: 'a', special_price: 1200, stock: 10 }] }, all, cart(['a', 999, 1]), 0, [0], 0],
  ['flash rate 0.8 rounds down', { type: 'flash_sale', items: [{ item_id: 'a', discount_rate: 0.8, stock: 10 }] }, all, cart(['a', 999, 3]), 599, [599], 0],
  ['flash per_user_limit caps the units', { type: 'flash_sale', items: [{ item_id: 'a', special_price: 500, stock: 10, per_user_limit: 2 }] }, all, cart(['a', 1000, 5]), 1000, [1000], 0],
  ['满减 highest tier', { type: 'bulk_discount', tiers: [{ threshold: 10000, off: 1000 }, { threshold: 20000, off: 3000 }] }, all, cart(['a', 15000, 1], ['b', 6000, 1]), 3000, [2143, 857], 0],
  ['满减 remainder to the largest line', { type: 'bulk_discount', tiers: [{ threshold: 300, off: 100 }] }, all, cart(['a', 100, 1], ['b', 100, 1], ['c', 101, 1]), 100, [33, 33, 34], 0],
  ['满减 below every tier', { type: 'bulk_discount', tiers: [{ threshold: 10000, off: 1000 }] }, all, cart(['a', 9999, 1]), 0, [], 0],
  ['满减 repeat every 100 off 10, capped', { type: 'bulk_discount', repeat: { every: 10000, off: 1000, max_off: 2500 } }, all, cart(['a', 35000, 1]), 2500, [2500], 0],
  ['满减 only in scope, excluded item out', { type: 'bulk_discount', repeat: { every: 100, off: 10 } }, { category_ids: ['c1'], exclude_item_ids: ['x'] }, cart(['a', 250, 1, 'c1'], ['x', 1000, 1, 'c1'], ['b', 999, 1, 'c2']), 20, [20], 0],
  ['满件 3 items at 0.9', { type: 'bulk_discount', quantity_tiers: [{ min_quantity: 2, rate: 0.95 }, { min_quantity: 3, rate: 0.9 }] }, all, cart(['a', 333, 2], ['b', 101, 1]), 76, [66, 10], 0],
  ['gift spend X', { type: 'gift', min_amount: 5000, gift_item_id: 'g', gift_quantity: 1, gift_stock: 5 }, all, cart(['a', 5000, 1]), 0, [0], 1],
  ['gift buy N not reached', { type: 'gift', min_quantity: 3, gift_item_id: 'g', gift_quantity: 1, gift_stock: 5 }, all, cart(['a', 5000, 2]), 0, [], 0],
];

describe('promotion rules (calculate_discount)', () => {
  it.each(cases)('%s', (_name, terms, scope, c, total, lineDiscounts, gifts) => {
    const r = calculateDiscount(terms, scope, c);
    expect(r.discount).toBe(total);
    expect(r.lines.map((l) => l.discount)).toEqual(lineDiscounts);
    expect(r.lines.reduce((a, l) => a + l.discount, 0)).toBe(r.discount);
    expect(r.gifts.length).toBe(gifts);
  });

  it('spread keeps the sum exact for the largest amounts', () => {
    const amounts = [999_999_999_999, 1, 333_333_333_333];
    const shares = spread(777_777_777_777, amounts);
    expect(shares.reduce((a, b) => a + b, 0)).toBe(777_777_777_777);
    expect(shares.every((s, i) => s >= 0 && s <= (amounts[i] ?? 0))).toBe(true);
  });

  it('out of scope and below threshold are reasons, not errors', () => {
    expect(calculateDiscount({ type: 'flash_sale', items: [{ item_id: 'a', special_price: 1, stock: 1 }] }, all, cart(['b', 10, 1])).reason).toBe('out_of_scope');
    expect(calculateDiscount({ type: 'bulk_discount', tiers: [{ threshold: 100, off: 10 }] }, all, cart(['b', 10, 1])).reason).toBe('below_threshold');
  });
});
