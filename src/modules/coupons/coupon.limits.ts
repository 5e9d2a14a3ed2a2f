import { rateLimited } from '../../platform/errors.js';
import { ipLimitKey } from '../../platform/client-ip.js';
import type { RateLimiter, RateRule } from '../../platform/rate-limit/index.js';

/** Attempts per window: `limit` 0 refuses every attempt. */
export interface WindowLimit {
  limit: number;
  window_seconds: number;
}

export interface CouponLimits {
  claim: { per_user: WindowLimit; per_client_ip: WindowLimit };
  use: { per_user: WindowLimit; per_client_ip: WindowLimit };
}

export type CouponAction = keyof CouponLimits;

/**
 * Anti-abuse limits on claiming and using coupons (防刷), per end user and per end-user IP (when
 * the calling backend passes `client_ip`), counted by the platform limiter: in Redis shared by
 * every process when configured, in-process otherwise. An attempt is charged whatever its answer;
 * a refused one is 429 rate_limited with Retry-After.
 */
export function createCouponGuard(limiter: RateLimiter, limits: CouponLimits) {
  return {
    async admit(action: CouponAction, tenantId: string, userId: string, clientIp: string | null): Promise<void> {
      const l = limits[action];
      const rules: RateRule[] = [{ name: 'user', key: `coupon_${action}:{${tenantId}}:user:${userId}`, limit: l.per_user.limit, windowMs: l.per_user.window_seconds * 1000 }];
      if (clientIp) {
        rules.push({ name: 'client_ip', key: `coupon_${action}:{${tenantId}}:ip:${ipLimitKey(clientIp)}`, limit: l.per_client_ip.limit, windowMs: l.per_client_ip.window_seconds * 1000 });
      }
      const result = await limiter.hitAll(rules);
      if (!result.allowed) throw rateLimited(result);
    },
  };
}

export type CouponGuard = ReturnType<typeof createCouponGuard>;
