import { ipLimitKey } from '../../platform/client-ip.js';
import { rateLimited } from '../../platform/errors.js';
import type { RateLimiter, RateRule } from '../../platform/rate-limit/index.js';

interface WindowLimit {
  limit: number;
  window_seconds: number;
}

/** `rate_limits.client` of the configuration. */
export interface ClientLimits {
  per_key: WindowLimit;
  per_user: WindowLimit;
  per_device: WindowLimit;
  per_client_ip: WindowLimit;
}

/** Who a client request is counted against. */
export interface ClientSubject {
  tenantId: string;
  keyId: string;
  productCode: string;
  /** The token's sub; null without a (valid) token. */
  userId: string | null;
  deviceId: string | null;
  /** The request's address (trusted-proxy aware); a client request comes from the end user. */
  ip: string | null;
}

/**
 * The limits of one client request: per publishable key, per end user of the app, per device of
 * the key, per IP (IPv6 by /64). `{tenant}` is a Redis Cluster hash tag, as for redemptions.
 */
export function clientRules(limits: ClientLimits, s: ClientSubject): RateRule[] {
  const base = `client:{${s.tenantId}}`;
  const rule = (name: string, key: string, l: WindowLimit): RateRule => ({ name, key: `${base}:${key}`, limit: l.limit, windowMs: l.window_seconds * 1000 });
  const rules = [rule('publishable_key', `key:${s.keyId}`, limits.per_key)];
  if (s.userId !== null) rules.push(rule('user', `user:${s.productCode}:${s.userId}`, limits.per_user));
  if (s.deviceId !== null) rules.push(rule('device', `device:${s.keyId}:${s.deviceId}`, limits.per_device));
  if (s.ip !== null) rules.push(rule('client_ip', `ip:${ipLimitKey(s.ip)}`, limits.per_client_ip));
  return rules;
}

export type ClientGuard = ReturnType<typeof createClientGuard>;

/** Charges a client request to every limit at once (all or none), or throws 429 rate_limited naming the rule. */
export function createClientGuard(limiter: RateLimiter, limits: ClientLimits) {
  return {
    async admit(subject: ClientSubject): Promise<void> {
      const result = await limiter.hitAll(clientRules(limits, subject));
      if (!result.allowed) throw rateLimited(result);
    },
  };
}
