import { Counter, type Registry } from 'prom-client';

export { createCouponService, type CouponService, type AudienceMembership } from './coupon.service.js';
export { couponRoutes } from './coupon.routes.js';
export { couponMarketingRoutes } from './coupon.marketing.routes.js';
export { evaluateCoupon, type Cart, type CouponTerms, type Evaluation } from './coupon.rules.js';

export function couponMetrics(registry: Registry) {
  return {
    claimed: new Counter({ name: 'marketing_coupon_claimed_total', help: 'Coupons claimed, issued or granted', labelNames: ['source'] as const, registers: [registry] }),
    used: new Counter({ name: 'marketing_coupon_used_total', help: 'Coupons used on a paid order', registers: [registry] }),
  };
}
export { createCouponGuard, type CouponGuard, type CouponLimits } from './coupon.limits.js';
