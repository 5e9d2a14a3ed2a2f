export type { LimitResult, LockoutState, RateRule } from './types.js';
export { createRateLimiter, type PreparedLimit, type RateLimiter, type RateLimiterOptions } from './limiter.js';
export { type RawLimit, SLIDING_WINDOW_LUA } from './redis-store.js';
export { rateLimitMetrics, type RateLimitMetrics } from './metrics.js';
export {
  createRedemptionGuard,
  lockoutKeys,
  redemptionRules,
  type PreparedRedemptionLimits,
  type ProductQuotas,
  type RedeemSubject,
  type RedemptionGuard,
} from './redemption.js';
