export type { LimitResult, LockoutState, RateRule } from './types.js';
export { createRateLimiter, type RateLimiter, type RateLimiterOptions } from './limiter.js';
export { rateLimitMetrics, type RateLimitMetrics } from './metrics.js';
export {
  createRedemptionGuard,
  lockoutKeys,
  redemptionRules,
  type ProductQuotas,
  type RedeemSubject,
  type RedemptionGuard,
} from './redemption.js';
