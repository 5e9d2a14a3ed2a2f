import { Counter, type Registry } from 'prom-client';

export { createCouponService, type CouponService, type AudienceMembership } from './coupon.service.js';
export { couponRoutes } from './coupon.routes.js';
export { couponMarketingRoutes } from './coupon.marketing.routes.js';
export { evaluateCoupon, type Cart, type CouponTerms, type Evaluation } from './coupon.rules.js';
export type { QuoteCoupon, QuoteCoupons, QuoteCouponsInput } from './coupon.quote.js';
export type { LockForOrderInput, LockedCoupon, SettleAction } from './coupon.order.js';
export type { CouponView, TemplateStats } from './coupon.schemas.js';

export function couponMetrics(registry: Registry) {
  return {
    claimed: new Counter({ name: 'marketing_coupon_claimed_total', help: 'Coupons claimed, issued or granted', labelNames: ['source'] as const, registers: [registry] }),
    used: new Counter({ name: 'marketing_coupon_used_total', help: 'Coupons used on a paid order', registers: [registry] }),
    released: new Counter({ name: 'marketing_coupon_released_total', help: 'Coupon locks given back: by the order (release) or lapsed (the sweep)', labelNames: ['reason'] as const, registers: [registry] }),
    refunded: new Counter({ name: 'marketing_coupon_refunded_total', help: 'Used coupons given back to the wallet by a refund of their order', registers: [registry] }),
    expired: new Counter({ name: 'marketing_coupon_expired_total', help: 'Coupons the sweep marked expired', registers: [registry] }),
  };
}
export { createCouponGuard, type CouponGuard, type CouponLimits } from './coupon.limits.js';
export { createCouponGrants, type CouponGrants, type GrantCoupon } from './coupon.grant.js';
