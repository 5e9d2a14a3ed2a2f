/** The offers a quote combines, as the pricing engine takes them: promotions and coupons. */
import type { ItemScope } from '../../platform/cart.js';
import type { CouponTerms } from '../coupons/index.js';
import type { calculateDiscount } from '../promotions/index.js';

export type PromotionTerms = Parameters<typeof calculateDiscount>[0];

export interface PromotionOfferInput {
  id: string;
  name: string;
  terms: PromotionTerms;
  scope: ItemScope;
  priority: number;
  stacking_group: string | null;
  exclusive: boolean;
  /** Units left of each flash-sale item and of the gift item. */
  stock: { item_id: string; left: number }[];
}

export interface CouponOfferInput {
  id: string;
  name: string;
  code: string;
  template_id: string;
  terms: CouponTerms;
}
