/**
 * The stacking cases with their expected totals, written before the engine (docs/pricing.md is
 * the model they follow). Every case runs on the pure engine and on the quote route.
 *
 * The cart of most cases: item a (category c1) 10000 x 1, item b (c1) 5000 x 2, item c (c2)
 * 3000 x 1: subtotal 23000, shipping 1000.
 */
import type { Cart } from '../../platform/cart.js';
import type { CouponOfferInput, PromotionOfferInput } from './offers.js';

export interface StackingCase {
  name: string;
  cart: Cart;
  promotions: PromotionOfferInput[];
  coupons: CouponOfferInput[];
  expect: {
    discount: number;
    shipping_discount: number;
    total: number;
    /** offer ids applied, in the order they applied */
    applied: string[];
    /** discount of each line, when the case is about allocation */
    line_discounts?: number[];
    /** reason of each offer not applied */
    not_applied?: Record<string, string>;
    gifts?: { item_id: string; quantity: number }[];
  };
}

export const CART: Cart = {
  lines: [
    { item_id: 'a', category_id: 'c1', unit_price: 10000, quantity: 1 },
    { item_id: 'b', category_id: 'c1', unit_price: 5000, quantity: 2 },
    { item_id: 'c', category_id: 'c2', unit_price: 3000, quantity: 1 },
  ],
  shipping_fee: 1000,
};

type Common = { priority?: number; group?: string; exclusive?: boolean; scope?: PromotionOfferInput['scope'] };
const base = (id: string, o: Common) => ({ id, name: id, priority: o.priority ?? 0, stacking_group: o.group ?? null, exclusive: o.exclusive ?? false, scope: o.scope ?? { all: true } });

export function flash(id: string, items: { item_id: string; special_price?: number; discount_rate?: number; left?: number; per_user_limit?: number }[], o: Common = {}): PromotionOfferInput {
  return {
    ...base(id, o),
    terms: {
      type: 'flash_sale',
      items: items.map((i) => ({ item_id: i.item_id, special_price: i.special_price, discount_rate: i.discount_rate, stock: 100, per_user_limit: i.per_user_limit })),
    },
    stock: items.map((i) => ({ item_id: i.item_id, left: i.left ?? 100 })),
  };
}
export function tiers(id: string, t: [threshold: number, off: number][], o: Common = {}): PromotionOfferInput {
  return { ...base(id, o), terms: { type: 'bulk_discount', tiers: t.map(([threshold, off]) => ({ threshold, off })) }, stock: [] };
}
export function repeat(id: string, every: number, off: number, maxOff: number | undefined, o: Common = {}): PromotionOfferInput {
  return { ...base(id, o), terms: { type: 'bulk_discount', repeat: { every, off, max_off: maxOff } }, stock: [] };
}
export function perQuantity(id: string, minQuantity: number, rate: number, o: Common = {}): PromotionOfferInput {
  return { ...base(id, o), terms: { type: 'bulk_discount', quantity_tiers: [{ min_quantity: minQuantity, rate }] }, stock: [] };
}
export function giftPromo(id: string, minAmount: number, giftItem: string, left: number, o: Common = {}): PromotionOfferInput {
  return { ...base(id, o), terms: { type: 'gift', min_amount: minAmount, gift_item_id: giftItem, gift_quantity: 1, gift_stock: 100 }, stock: [{ item_id: giftItem, left }] };
}

type CouponOpts = { min?: number; group?: string; exclusive?: boolean; scope?: CouponOfferInput['terms']['scope']; max?: number };
function coupon(id: string, type: 'discount' | 'shipping' | 'gift', kind: 'fixed' | 'percent' | 'free' | null, value: number, o: CouponOpts, gift: string | null = null): CouponOfferInput {
  return {
    id,
    name: id,
    code: id.toUpperCase(),
    template_id: `t-${id}`,
    terms: {
      coupon_id: id,
      status: 'available',
      valid_from: null,
      valid_until: null,
      locked_until: null,
      order_id: null,
      coupon_type: type,
      discount_kind: kind,
      value,
      max_discount: o.max ?? null,
      gift_item_id: gift,
      min_amount: o.min ?? 0,
      scope: o.scope ?? { all: true },
      stacking_group: o.group ?? null,
      exclusive: o.exclusive ?? false,
    },
  };
}
export const fixed = (id: string, value: number, o: CouponOpts = {}) => coupon(id, 'discount', 'fixed', value, o);
export const percent = (id: string, value: number, o: CouponOpts = {}) => coupon(id, 'discount', 'percent', value, o);
export const freeShipping = (id: string, o: CouponOpts = {}) => coupon(id, 'shipping', 'free', 0, o);
export const giftCoupon = (id: string, item: string, o: CouponOpts = {}) => coupon(id, 'gift', null, 0, o, item);

const noOffers = { promotions: [], coupons: [] };

export const STACKING_CASES: StackingCase[] = [
  { name: 'no offers: list prices and shipping', cart: CART, ...noOffers, expect: { discount: 0, shipping_discount: 0, total: 24000, applied: [] } },
  {
    name: 'flash sale price on one item',
    cart: CART,
    promotions: [flash('fs', [{ item_id: 'a', special_price: 8000 }])],
    coupons: [],
    expect: { discount: 2000, shipping_discount: 0, total: 22000, applied: ['fs'], line_discounts: [2000, 0, 0] },
  },
  {
    name: '满减 allocated by line amount, remainder by largest fraction',
    cart: CART,
    promotions: [tiers('mj', [[20000, 2000]])],
    coupons: [],
    expect: { discount: 2000, shipping_discount: 0, total: 22000, applied: ['mj'], line_discounts: [870, 869, 261] },
  },
  {
    name: 'flash sale then 满减 on the sale price (threshold still reached)',
    cart: CART,
    promotions: [flash('fs', [{ item_id: 'a', special_price: 8000 }]), tiers('mj', [[20000, 2000]])],
    coupons: [],
    expect: { discount: 4000, shipping_discount: 0, total: 20000, applied: ['fs', 'mj'] },
  },
  {
    name: 'flash sale pushes the cart below a 满减 threshold: the engine keeps the bigger saving',
    cart: CART,
    promotions: [flash('fs', [{ item_id: 'a', special_price: 8000 }]), tiers('mj', [[22000, 3000]])],
    coupons: [],
    expect: { discount: 3000, shipping_discount: 0, total: 21000, applied: ['mj'], not_applied: { fs: 'worse_combination' } },
  },
  {
    name: 'one promotion per group: the bigger one',
    cart: CART,
    promotions: [tiers('mj-small', [[20000, 1500]], { group: 'store', priority: 10 }), tiers('mj-big', [[20000, 2000]], { group: 'store' })],
    coupons: [],
    expect: { discount: 2000, shipping_discount: 0, total: 22000, applied: ['mj-big'], not_applied: { 'mj-small': 'not_stackable_with' } },
  },
  {
    name: 'an exclusive offer saving less than the stack is left out',
    cart: CART,
    promotions: [flash('fs', [{ item_id: 'a', special_price: 8000 }]), tiers('mj', [[20000, 2000]]), tiers('solo', [[20000, 2500]], { exclusive: true })],
    coupons: [],
    expect: { discount: 4000, shipping_discount: 0, total: 20000, applied: ['fs', 'mj'], not_applied: { solo: 'not_stackable_with' } },
  },
  {
    name: 'an exclusive offer saving more applies alone',
    cart: CART,
    promotions: [flash('fs', [{ item_id: 'a', special_price: 8000 }]), tiers('mj', [[20000, 2000]]), tiers('solo', [[22000, 5000]], { exclusive: true })],
    coupons: [fixed('cp', 500)],
    expect: { discount: 5000, shipping_discount: 0, total: 19000, applied: ['solo'], not_applied: { fs: 'not_stackable_with', mj: 'not_stackable_with', cp: 'not_stackable_with' } },
  },
  {
    name: 'coupon min_amount is tested after the flash sale',
    cart: CART,
    promotions: [flash('fs', [{ item_id: 'a', special_price: 8000 }])],
    coupons: [fixed('cp', 1000, { min: 20000 })],
    expect: { discount: 3000, shipping_discount: 0, total: 21000, applied: ['fs', 'cp'] },
  },
  {
    name: 'a coupon whose min_amount the flash sale undercuts: the flash sale saves more',
    cart: CART,
    promotions: [flash('fs', [{ item_id: 'a', special_price: 8000 }])],
    coupons: [fixed('cp', 1000, { min: 22000 })],
    expect: { discount: 2000, shipping_discount: 0, total: 22000, applied: ['fs'], not_applied: { cp: 'below_min_amount' } },
  },
  {
    name: 'one coupon per group: the bigger of a percent and a fixed one',
    cart: CART,
    promotions: [],
    coupons: [fixed('fixed-2000', 2000, { group: 'platform' }), percent('pct-10', 10, { group: 'platform', max: 3000 })],
    expect: { discount: 2300, shipping_discount: 0, total: 21700, applied: ['pct-10'], not_applied: { 'fixed-2000': 'not_stackable_with' } },
  },
  {
    name: 'percent coupon capped by max_discount',
    cart: CART,
    promotions: [],
    coupons: [percent('pct-20', 20, { max: 3000 })],
    expect: { discount: 3000, shipping_discount: 0, total: 21000, applied: ['pct-20'] },
  },
  {
    name: 'two coupons without a group stack: the larger applies first',
    cart: CART,
    promotions: [],
    coupons: [fixed('f-1000', 1000), percent('pct-10', 10)],
    expect: { discount: 3300, shipping_discount: 0, total: 20700, applied: ['pct-10', 'f-1000'] },
  },
  {
    name: 'free shipping coupon beside a 满减',
    cart: CART,
    promotions: [tiers('mj', [[20000, 2000]])],
    coupons: [freeShipping('ship', { min: 20000 })],
    expect: { discount: 2000, shipping_discount: 1000, total: 21000, applied: ['mj', 'ship'] },
  },
  {
    name: 'shipping coupon min_amount is tested on the goods as priced',
    cart: CART,
    promotions: [tiers('mj', [[20000, 2000]])],
    coupons: [freeShipping('ship', { min: 22000 })],
    expect: { discount: 2000, shipping_discount: 0, total: 22000, applied: ['mj'], not_applied: { ship: 'below_min_amount' } },
  },
  {
    name: 'gift promotion beside a 满减: a gift, no money',
    cart: CART,
    promotions: [giftPromo('gp', 20000, 'g', 5), tiers('mj', [[20000, 2000]])],
    coupons: [],
    expect: { discount: 2000, shipping_discount: 0, total: 22000, applied: ['gp', 'mj'], gifts: [{ item_id: 'g', quantity: 1 }] },
  },
  {
    name: 'gift out of stock is not applied',
    cart: CART,
    promotions: [giftPromo('gp', 20000, 'g', 0)],
    coupons: [],
    expect: { discount: 0, shipping_discount: 0, total: 24000, applied: [], not_applied: { gp: 'sold_out' }, gifts: [] },
  },
  {
    name: 'coupon scoped to a category is capped by the lines in scope',
    cart: CART,
    promotions: [],
    coupons: [fixed('c2-5000', 5000, { scope: { category_ids: ['c2'] } })],
    expect: { discount: 3000, shipping_discount: 0, total: 21000, applied: ['c2-5000'], line_discounts: [0, 0, 3000] },
  },
  {
    name: '满减 with an excluded item',
    cart: CART,
    promotions: [tiers('mj', [[10000, 1000]], { scope: { all: true, exclude_item_ids: ['a'] } })],
    coupons: [],
    expect: { discount: 1000, shipping_discount: 0, total: 23000, applied: ['mj'], line_discounts: [0, 769, 231] },
  },
  {
    name: 'flash price only for the per-user limit',
    cart: CART,
    promotions: [flash('fs', [{ item_id: 'b', special_price: 4000, per_user_limit: 1 }])],
    coupons: [],
    expect: { discount: 1000, shipping_discount: 0, total: 23000, applied: ['fs'], line_discounts: [0, 1000, 0] },
  },
  {
    name: 'flash price only for the stock left',
    cart: CART,
    promotions: [flash('fs', [{ item_id: 'b', special_price: 4000, left: 1 }])],
    coupons: [],
    expect: { discount: 1000, shipping_discount: 0, total: 23000, applied: ['fs'] },
  },
  {
    name: 'flash sale sold out',
    cart: CART,
    promotions: [flash('fs', [{ item_id: 'b', special_price: 4000, left: 0 }])],
    coupons: [],
    expect: { discount: 0, shipping_discount: 0, total: 24000, applied: [], not_applied: { fs: 'sold_out' } },
  },
  {
    name: 'two flash prices on one item: the lower wins the line',
    cart: CART,
    promotions: [flash('fs-8000', [{ item_id: 'a', special_price: 8000 }]), flash('fs-7500', [{ item_id: 'a', special_price: 7500 }])],
    coupons: [],
    expect: { discount: 2500, shipping_discount: 0, total: 21500, applied: ['fs-7500'], not_applied: { 'fs-8000': 'not_stackable_with' } },
  },
  {
    name: 'equal savings in one group: the smaller id, deterministically',
    cart: CART,
    promotions: [],
    coupons: [fixed('cb', 1000, { group: 'g' }), fixed('ca', 1000, { group: 'g' })],
    expect: { discount: 1000, shipping_discount: 0, total: 23000, applied: ['ca'], not_applied: { cb: 'not_stackable_with' } },
  },
  {
    name: '满件 rounding: shares add up exactly',
    cart: { lines: [{ item_id: 'x', unit_price: 333, quantity: 1 }, { item_id: 'y', unit_price: 333, quantity: 1 }, { item_id: 'z', unit_price: 334, quantity: 1 }] },
    promotions: [perQuantity('mj3', 3, 0.9)],
    coupons: [],
    expect: { discount: 100, shipping_discount: 0, total: 900, applied: ['mj3'], line_discounts: [33, 33, 34] },
  },
  {
    name: 'percent coupon rounds down',
    cart: { lines: [{ item_id: 'x', unit_price: 999, quantity: 1 }] },
    promotions: [],
    coupons: [percent('p15', 15)],
    expect: { discount: 149, shipping_discount: 0, total: 850, applied: ['p15'] },
  },
  {
    name: 'a coupon larger than the cart brings it to zero, never below',
    cart: CART,
    promotions: [],
    coupons: [fixed('huge', 50000)],
    expect: { discount: 23000, shipping_discount: 0, total: 1000, applied: ['huge'] },
  },
  {
    name: 'repeating 满减 capped by max_off',
    cart: CART,
    promotions: [repeat('every', 10000, 1000, 1500)],
    coupons: [],
    expect: { discount: 1500, shipping_discount: 0, total: 22500, applied: ['every'] },
  },
  {
    name: 'a promotion and a coupon in the same group: one of them',
    cart: CART,
    promotions: [tiers('mj', [[20000, 2000]], { group: 'g' })],
    coupons: [fixed('cp', 2500, { group: 'g' })],
    expect: { discount: 2500, shipping_discount: 0, total: 21500, applied: ['cp'], not_applied: { mj: 'not_stackable_with' } },
  },
  {
    name: 'gift coupon: a gift item, no money',
    cart: CART,
    promotions: [],
    coupons: [giftCoupon('gc', 'mug')],
    expect: { discount: 0, shipping_discount: 0, total: 24000, applied: ['gc'], gifts: [{ item_id: 'mug', quantity: 1 }] },
  },
  {
    name: 'out of scope offers are listed with their reason',
    cart: CART,
    promotions: [flash('fs-z', [{ item_id: 'z', special_price: 1 }]), tiers('mj', [[50000, 5000]])],
    coupons: [fixed('c9', 100, { scope: { category_ids: ['c9'] } })],
    expect: { discount: 0, shipping_discount: 0, total: 24000, applied: [], not_applied: { 'fs-z': 'out_of_scope', mj: 'below_threshold', c9: 'out_of_scope' } },
  },
];
