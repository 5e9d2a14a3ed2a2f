import { describe, expect, it } from 'vitest';
import { type CouponTerms, evaluateCoupon } from './coupon.rules.js';

const now = new Date('2030-01-01T00:00:00Z');
const base: CouponTerms = {
  coupon_id: 'c1', status: 'available', valid_from: null, valid_until: null, locked_until: null, order_id: null,
  coupon_type: 'discount', discount_kind: 'percent', value: 15, max_discount: null, gift_item_id: null, min_amount: 0,
  scope: { all: true }, stacking_group: null, exclusive: false,
};
const cart = (unit_price: number, quantity = 1) => ({ lines: [{ item_id: 'a', unit_price, quantity }] });

describe('evaluateCoupon rounding', () => {
  it('rounds a percent discount down to the minor unit, exactly, even for the largest carts', () => {
    const cases: [number, number, number][] = [
      [7331, 15, 1099], // 1099.65
      [99, 33, 32], // 32.67
      [1, 50, 0],
      [1_000_000_000 * 10_000, 15, 1_500_000_000_000],
      [999_999_999 * 9_999, 7, Math.floor((999_999_999 * 9_999 * 7) / 100)],
    ];
    for (const [amount, percent, expected] of cases) {
      const v = evaluateCoupon({ ...base, value: percent }, now, { lines: [{ item_id: 'a', unit_price: amount, quantity: 1 }] });
      expect(v.usable && v.discount, `${percent}% of ${amount}`).toBe(expected);
    }
    const huge = 5_000_000_000_000_000 - 1; // beyond what floor(x * p / 100) computes exactly in doubles
    const v = evaluateCoupon({ ...base, value: 33 }, now, cart(huge));
    expect(v.usable && BigInt(v.discount!)).toBe((BigInt(huge) * 33n) / 100n);
  });

  it('never gives more than the eligible amount; a fixed amount and the cap apply', () => {
    expect(evaluateCoupon({ ...base, discount_kind: 'fixed', value: 900 }, now, cart(500))).toMatchObject({ discount: 500 });
    expect(evaluateCoupon({ ...base, value: 100, max_discount: 250 }, now, cart(1000))).toMatchObject({ discount: 250 });
    expect(evaluateCoupon({ ...base, coupon_type: 'shipping', discount_kind: 'fixed', value: 900 }, now, { ...cart(10), shipping_fee: 300 })).toMatchObject({ shipping_discount: 300, discount: 0 });
  });
});
