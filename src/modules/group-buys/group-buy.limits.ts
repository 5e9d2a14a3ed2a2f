import { ipLimitKey } from '../../platform/client-ip.js';
import { rateLimited } from '../../platform/errors.js';
import type { RateLimiter, RateRule } from '../../platform/rate-limit/index.js';

/** Attempts per window: `limit` 0 refuses every attempt. */
export interface WindowLimit {
  limit: number;
  window_seconds: number;
}

/** rate_limits.group_buy_join: creates and joins (a create is the leader's join) per end user and per end-user IP. */
export interface GroupBuyLimits {
  per_user: WindowLimit;
  per_client_ip: WindowLimit;
}

/**
 * Anti-abuse limits on opening and joining groups (防刷), per end user and per end-user IP (when
 * the calling backend passes `client_ip`), counted by the platform limiter: in Redis shared by
 * every process when configured, in-process otherwise. One bucket for both: opening a group is
 * the leader's join. An attempt is charged whatever its answer (a refused join still costs the
 * caller, so probing full groups is limited too); a refused one is 429 rate_limited with
 * Retry-After, before any database work.
 */
export function createGroupBuyGuard(limiter: RateLimiter, limits: GroupBuyLimits) {
  return {
    async admit(tenantId: string, userId: string, clientIp: string | null): Promise<void> {
      const rules: RateRule[] = [
        { name: 'user', key: `group_buy_join:{${tenantId}}:user:${userId}`, limit: limits.per_user.limit, windowMs: limits.per_user.window_seconds * 1000 },
      ];
      if (clientIp) {
        rules.push({
          name: 'client_ip',
          key: `group_buy_join:{${tenantId}}:ip:${ipLimitKey(clientIp)}`,
          limit: limits.per_client_ip.limit,
          windowMs: limits.per_client_ip.window_seconds * 1000,
        });
      }
      const result = await limiter.hitAll(rules);
      if (!result.allowed) throw rateLimited(result);
    },
  };
}

export type GroupBuyGuard = ReturnType<typeof createGroupBuyGuard>;
