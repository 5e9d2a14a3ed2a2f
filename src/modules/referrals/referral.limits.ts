import { ipLimitKey } from '../../platform/client-ip.js';
import { rateLimited } from '../../platform/errors.js';
import type { RateLimiter } from '../../platform/rate-limit/index.js';

/** rate_limits.referral_page: calls to the keyless page routes per end-user IP. */
export interface ReferralPageLimits {
  per_client_ip: { limit: number; window_seconds: number };
}

/**
 * The per-IP limit in front of every keyless referral route (the form, views, orders, payment,
 * order status, rewards), counted by the platform limiter (Redis when configured). A refused call
 * is 429 rate_limited with Retry-After, before any database work.
 */
export function createReferralGuard(limiter: RateLimiter, limits: ReferralPageLimits) {
  return {
    async admit(clientIp: string): Promise<void> {
      const result = await limiter.hitAll([
        { name: 'client_ip', key: `referral_page:ip:${ipLimitKey(clientIp)}`, limit: limits.per_client_ip.limit, windowMs: limits.per_client_ip.window_seconds * 1000 },
      ]);
      if (!result.allowed) throw rateLimited(result);
    },
  };
}

export type ReferralGuard = ReturnType<typeof createReferralGuard>;
