import { describe, expect, it } from 'vitest';
import { price, toOffers } from './stacking.js';
import { fixed, flash, freeShipping, giftPromo, perQuantity, percent, STACKING_CASES, tiers } from './stacking.cases.js';

const NOW = new Date('2026-12-07T12:00:00Z');

describe('stacking model: the table of cases (docs/pricing.md)', () => {
  it.each(STACKING_CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { result, notApplied } = price(c.cart, toOffers(c.promotions, c.coupons), NOW);
    const subtotal = c.cart.lines.reduce((a, l) => a + l.unit_price * l.quantity, 0);
    const discount = result.lineDiscounts.reduce((a, b) => a + b, 0);
    expect(result.applied.map((a) => a.id)).toEqual(c.expect.applied);
    expect(discount).toBe(c.expect.discount);
    expect(result.shippingDiscount).toBe(c.expect.shipping_discount);
    expect(subtotal - discount + (c.cart.shipping_fee ?? 0) - result.shippingDiscount).toBe(c.expect.total);
    if (c.expect.line_discounts) expect(result.lineDiscounts).toEqual(c.expect.line_discounts);
    // Money never drifts: the offers' discounts add up to the lines' discounts.
    expect(result.applied.reduce((a, o) => a + o.discount, 0)).toBe(discount);
    if (c.expect.not_applied) expect(Object.fromEntries(notApplied.map((n) => [n.offer.id, n.failure.reason]))).toEqual(c.expect.not_applied);
    if (c.expect.gifts) expect(result.applied.flatMap((a) => a.gifts)).toEqual(c.expect.gifts);
  });
});

describe('stacking engine invariants over random carts and offers', () => {
  // A small deterministic generator: the same runs every time.
  function rng(seed: number) {
    let s = seed;
    return (n: number) => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s % n;
    };
  }

  function randomCase(seed: number) {
    const r = rng(seed);
    const items = ['a', 'b', 'c', 'd', 'e', 'f'];
    const lines = Array.from({ length: 1 + r(8) }, (_, i) => ({ item_id: items[r(items.length)]! + i, category_id: `c${r(3)}`, unit_price: 1 + r(20000), quantity: 1 + r(4) }));
    const cart = { lines, shipping_fee: r(2000) };
    const group = () => (r(3) === 0 ? { group: `g${r(3)}` } : {});
    const promotions = Array.from({ length: r(12) }, (_, i) => {
      const o = { ...group(), priority: r(5), exclusive: r(10) === 0 };
      switch (r(4)) {
        case 0:
          return flash(`p${i}`, [{ item_id: lines[r(lines.length)]!.item_id, special_price: r(15000), left: r(5) }], o);
        case 1:
          return tiers(`p${i}`, [[1 + r(40000), 1 + r(3000)]], o);
        case 2:
          return perQuantity(`p${i}`, 1 + r(6), 0.5 + r(40) / 100, o);
        default:
          return giftPromo(`p${i}`, r(30000), 'gift', r(3), o);
      }
    });
    const coupons = Array.from({ length: r(8) }, (_, i) => {
      const o = { ...group(), min: r(30000), exclusive: r(12) === 0, scope: r(3) === 0 ? { category_ids: [`c${r(3)}`] } : { all: true } };
      return r(3) === 0 ? fixed(`k${i}`, 1 + r(5000), o) : r(2) === 0 ? percent(`k${i}`, 1 + r(50), { ...o, max: r(2) ? 2000 : undefined }) : freeShipping(`k${i}`, o);
    });
    return { cart, promotions, coupons };
  }

  it('money never drifts, no line goes below zero, and the answer does not depend on input order', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const c = randomCase(seed);
      const { result, notApplied } = price(c.cart, toOffers(c.promotions, c.coupons), NOW);
      const reversed = price(c.cart, toOffers([...c.promotions].reverse(), [...c.coupons].reverse()), NOW);
      expect(reversed.result.key).toBe(result.key);
      expect(reversed.result.lineDiscounts).toEqual(result.lineDiscounts);
      const discount = result.lineDiscounts.reduce((a, b) => a + b, 0);
      expect(result.applied.reduce((a, o) => a + o.discount, 0)).toBe(discount);
      c.cart.lines.forEach((l, i) => expect(result.lineDiscounts[i]!).toBeLessThanOrEqual(l.unit_price * l.quantity));
      expect(result.lineDiscounts.every((d) => d >= 0)).toBe(true);
      expect(result.shippingDiscount).toBeLessThanOrEqual(c.cart.shipping_fee);
      // Every offer is either applied or listed with a reason, never both.
      const ids = [...c.promotions.map((p) => p.id), ...c.coupons.map((k) => k.id)].sort();
      expect([...result.applied.map((a) => a.id), ...notApplied.map((n) => n.offer.id)].sort()).toEqual(ids);
      // Never worse than applying nothing, nor than the best single offer.
      for (const o of toOffers(c.promotions, c.coupons)) {
        const alone = price(c.cart, [o], NOW).result;
        expect(result.saving).toBeGreaterThanOrEqual(alone.saving);
      }
    }
  });
});
