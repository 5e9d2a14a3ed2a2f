/**
 * What the checkout needs of the promotions, coupons and audiences modules, wired in
 * src/app/services.ts to their services (the checkout never reads their tables).
 */
import type { Executor } from '../../db/client.js';
import type { Cart, ItemScope } from '../../platform/cart.js';
import type { CouponTerms } from '../coupons/index.js';
import type { PromotionTerms } from './offers.js';

export type OrderAction = 'commit' | 'release' | 'refund';

export interface LivePromotionLike {
  promotion_id: string;
  name: string;
  terms: PromotionTerms;
  scope: ItemScope;
  audience_id: string | null;
  priority: number;
  stacking_group: string | null;
  exclusive: boolean;
  stock: { item_id: string; left: number }[];
}

export type QuoteCouponLike = CouponTerms & { code: string; template_id: string; name: string };

export interface CheckoutPorts {
  /** The promotions active now (cached by the promotions module). */
  livePromotions(tenantId: string): Promise<LivePromotionLike[]>;
  /** The user's coupons with these codes, and the usable wallet when asked (cached by the coupons module). */
  quoteCoupons(tenantId: string, userId: string, input: { codes: string[]; wallet: boolean }): Promise<{ coupons: QuoteCouponLike[]; unknown_codes: string[] }>;
  inAudience(tenantId: string, audienceId: string, userId: string): Promise<boolean>;
  /** All or nothing, in the caller's transaction. */
  reservePromotions(tenantId: string, input: { user_id: string; order_id: string; ttl_seconds: number; lines: { promotion_id: string; item_id: string; quantity: number }[] }, trx: Executor): Promise<unknown>;
  /** All or nothing, in the caller's transaction. */
  lockCoupons(tenantId: string, input: { user_id: string; order_id: string; coupon_ids: string[]; ttl_seconds: number; cart: Cart }, trx: Executor): Promise<unknown>;
  settlePromotions(tenantId: string, orderId: string, action: OrderAction, trx: Executor): Promise<unknown>;
  settleCoupons(tenantId: string, orderId: string, action: OrderAction, trx: Executor): Promise<unknown>;
}
