import type { Config } from '../../config/schema.js';
import { ipLimitKey } from '../client-ip.js';
import { rateLimited } from '../errors.js';
import type { PreparedLimit, RateLimiter } from './limiter.js';
import type { LimitResult, LockoutState, RateRule } from './types.js';

/** Who is redeeming. `clientIp`: the end user's address from `endUserIp`, null when unknown. */
export interface RedeemSubject {
  tenantId: string;
  /** The product line redeemed from; null when the caller named none (no product quota then). */
  productCode: string | null;
  userId: string;
  clientIp: string | null;
}

/** An app's own quotas: a missing field keeps the configured default, null turns it off. */
export interface ProductQuotas {
  redeem_per_hour?: number | null;
  redeem_per_day?: number | null;
}

type RedeemConfig = Config['rate_limits']['redeem'];

const HOUR = 3_600_000;
const DAY = 86_400_000;

// `{tenant}` is a Redis Cluster hash tag: every key of one check lands in one slot, as a
// multi-key Lua call needs. Counts are per tenant, so one tenant's traffic never limits another's.
const base = (s: RedeemSubject) => `redeem:{${s.tenantId}}`;

/**
 * The attempt limits of one redemption (anti-abuse limits, 防刷): per user, per end-user IP (only when one
 * is known), per product line per hour and per day (the app's quotas over the configured ones).
 */
export function redemptionRules(limits: RedeemConfig, subject: RedeemSubject, app: ProductQuotas | null): RateRule[] {
  const rules: RateRule[] = [
    { name: 'user', key: `${base(subject)}:user:${subject.userId}`, limit: limits.per_user.limit, windowMs: limits.per_user.window_seconds * 1000 },
  ];
  if (subject.clientIp) {
    rules.push({
      name: 'client_ip',
      key: `${base(subject)}:ip:${ipLimitKey(subject.clientIp)}`,
      limit: limits.per_client_ip.limit,
      windowMs: limits.per_client_ip.window_seconds * 1000,
    });
  }
  if (subject.productCode === null) return rules;
  const hour = app && app.redeem_per_hour !== undefined ? app.redeem_per_hour : limits.per_product_hour;
  const day = app && app.redeem_per_day !== undefined ? app.redeem_per_day : limits.per_product_day;
  const product = `${base(subject)}:product:${subject.productCode}`;
  if (hour !== null) rules.push({ name: 'product_hour', key: product, limit: hour, windowMs: HOUR });
  if (day !== null) rules.push({ name: 'product_day', key: product, limit: day, windowMs: DAY });
  return rules;
}

/** The keys failed redemptions are counted under: the user, and the end-user IP when known. */
export function lockoutKeys(subject: RedeemSubject): string[] {
  const keys = [`${base(subject)}:user:${subject.userId}`];
  if (subject.clientIp) keys.push(`${base(subject)}:ip:${ipLimitKey(subject.clientIp)}`);
  return keys;
}

export interface RedemptionGuard {
  /**
   * Call before a redemption attempt, outside any database transaction (it may call Redis).
   * Throws 429 `rate_limited` (details.rule `lockout`, `user`, `client_ip`, `product_hour` or
   * `product_day`, with Retry-After) when the subject is locked out or over a limit; otherwise
   * charges the attempt to every limit and returns what is left.
   */
  admit(subject: RedeemSubject): Promise<LimitResult>;
  /**
   * Call after an attempt that failed in a way that suggests guessing (unknown, used, expired or
   * foreign code), not after our own errors. Returns whether the subject is now locked out.
   */
  recordFailure(subject: RedeemSubject): Promise<LockoutState>;
  /**
   * admit and recordFailure prepared as steps of a caller's own Redis call (the redemption gate);
   * null when the limiter does not count in Redis right now. The caller throws rateLimited when
   * the settled admission is refused, and reports a failure of its call with noteRedisFailure.
   */
  prepare(subject: RedeemSubject): Promise<PreparedRedemptionLimits | null>;
}

export interface PreparedRedemptionLimits {
  admit: PreparedLimit;
  failure: PreparedLimit | null;
  noteRedisFailure(err: unknown): void;
}

export function createRedemptionGuard(deps: {
  limiter: RateLimiter;
  limits: RedeemConfig;
  /** The app's quotas (apps.getRateLimits), null when it sets none. */
  productQuotas: (tenantId: string, productCode: string) => Promise<ProductQuotas | null>;
}): RedemptionGuard {
  const { limiter, limits } = deps;
  return {
    async admit(subject) {
      const quotas = subject.productCode === null ? null : await deps.productQuotas(subject.tenantId, subject.productCode);
      // The lock-out and the attempt limits in one atomic call: a locked-out attempt charges nothing.
      const result = await limiter.admit(lockoutKeys(subject), redemptionRules(limits, subject, quotas));
      if (!result.allowed) throw rateLimited(result);
      return result;
    },
    recordFailure: (subject) => limiter.recordFailure(lockoutKeys(subject)),
    async prepare(subject) {
      const quotas = subject.productCode === null ? null : await deps.productQuotas(subject.tenantId, subject.productCode);
      const admit = limiter.prepareAdmit(lockoutKeys(subject), redemptionRules(limits, subject, quotas));
      if (!admit) return null;
      return { admit, failure: limiter.prepareFailure(lockoutKeys(subject)), noteRedisFailure: limiter.noteRedisFailure };
    },
  };
}
