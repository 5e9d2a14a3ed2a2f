import type { Redis } from 'ioredis';
import { ensureRedisConnected } from '../redis.js';
import { createMemoryStore } from './memory-store.js';
import type { RateLimitMetrics } from './metrics.js';
import { createRedisStore, limitResult, type RawLimit, slidingWindowCall } from './redis-store.js';
import type { LimitResult, LockoutState, RateRule, StoreMode } from './types.js';

export interface RateLimiter {
  /** One sliding-window limit: charges `cost` (default 1) if it fits, else charges nothing. */
  hit(key: string, limit: number, windowMs: number, cost?: number): Promise<LimitResult>;
  /**
   * Several limits at once, atomically: charged to every rule when all have room, to none when
   * any refuses. The result names the refusing rule with the longest wait.
   */
  hitAll(rules: readonly RateRule[], cost?: number): Promise<LimitResult>;
  /** Counts one failed attempt under each key (separately from the attempt limits). */
  recordFailure(keys: readonly string[]): Promise<LockoutState>;
  /** Locked when any key holds `failures` failures within the lock-out window. Charges nothing. */
  checkLockout(keys: readonly string[]): Promise<LockoutState>;
  /**
   * checkLockout and hitAll as ONE atomic step (one Redis call): refused with rule `lockout` (or
   * the limit with the longest wait) without charging anything, else charged to every limit.
   */
  admit(lockoutKeys: readonly string[], rules: readonly RateRule[], cost?: number): Promise<LimitResult>;
  /**
   * admit and recordFailure as parts of a caller's own Lua call that embeds SLIDING_WINDOW_LUA
   * (the redemption gate: one Redis call for the admission, the code's probe and the failure
   * count). Null when this limiter does not count in Redis right now (none configured, or cooling
   * down after a failure): call admit / recordFailure instead.
   */
  prepareAdmit(lockoutKeys: readonly string[], rules: readonly RateRule[], cost?: number): PreparedLimit | null;
  prepareFailure(keys: readonly string[]): PreparedLimit | null;
  /** A caller's call carrying a prepared limit failed: count in-process for a while, as after our own failure. */
  noteRedisFailure(err: unknown): void;
  /** Where the last call was counted: `redis`, or `memory` (no Redis configured, or Redis failing). */
  backend(): 'redis' | 'memory';
}

/** One SLIDING_WINDOW_LUA step for a caller's script: its KEYS and ARGV, and how to read its answer. */
export interface PreparedLimit {
  keys: string[];
  args: (string | number)[];
  settle(raw: RawLimit): LimitResult;
}

export interface RateLimiterOptions {
  /** null: count in-process only (one process, or no Redis configured). */
  redis: Redis | null;
  metrics: RateLimitMetrics;
  lockout: { failures: number; windowMs: number };
  /** Milliseconds since the epoch; tests inject a manual clock. */
  now?: () => number;
  /** Prefix of every key (Redis and in-process alike), e.g. `mh:`. */
  keyPrefix?: string;
  memoryMaxKeys?: number;
  /** After a Redis failure, count in-process this long before trying Redis again (default 1 s). */
  retryRedisAfterMs?: number;
  log?: { warn: (err: unknown, message: string) => void; info: (message: string) => void };
}

/**
 * Rate limits and the failure lock-out over Redis (shared by every process, one Lua call per
 * check) or in-process. A Redis error never fails the caller: the call is counted in-process
 * instead (logged once per outage, counted in marketing_redis_fallback_total), and Redis is tried
 * again after a short cool-down, so a hung Redis costs one command timeout per second, not one per
 * request. While it is down each process counts on its own, so a limit may admit up to
 * (processes x limit); what is counted in-process is not carried back to Redis.
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const now = options.now ?? Date.now;
  const prefix = options.keyPrefix ?? '';
  const retryAfter = options.retryRedisAfterMs ?? 1000;
  const memory = createMemoryStore({ now, maxKeys: options.memoryMaxKeys ?? 100_000 });
  const redisStore = options.redis ? createRedisStore(options.redis, { now }) : null;
  const lockout = options.lockout;
  let skipRedisUntil = 0;
  let failing = false;
  let last: 'redis' | 'memory' = redisStore ? 'redis' : 'memory';

  function redisFailed(err: unknown): void {
    skipRedisUntil = performance.now() + retryAfter;
    if (!failing) {
      failing = true;
      options.log?.warn(err, 'rate limiter: Redis failed; counting in-process until it answers again');
    }
  }

  /** A step of a caller's script, when this limiter counts in Redis now. */
  function prepare(mode: StoreMode, rules: readonly RateRule[], cost: number, observe: (r: LimitResult) => void): PreparedLimit | null {
    if (!redisStore || performance.now() < skipRedisUntil) return null;
    validate(rules, cost);
    return {
      ...slidingWindowCall(mode, rules, cost, now()),
      settle(raw) {
        const result = limitResult(raw, rules);
        if (failing) {
          failing = false;
          options.log?.info('rate limiter: Redis answers again; counting in Redis');
        }
        last = 'redis';
        observe(result);
        return result;
      },
    };
  }

  async function run(mode: StoreMode, rules: readonly RateRule[], cost: number): Promise<LimitResult> {
    validate(rules, cost);
    if (redisStore && options.redis && performance.now() >= skipRedisUntil) {
      try {
        await ensureRedisConnected(options.redis);
        const result = await redisStore.run(mode, rules, cost);
        if (failing) {
          failing = false;
          options.log?.info('rate limiter: Redis answers again; counting in Redis');
        }
        last = 'redis';
        return result;
      } catch (err) {
        redisFailed(err);
      }
    }
    if (redisStore) options.metrics.redisFallback.inc();
    last = 'memory';
    return memory.run(mode, rules, cost);
  }

  const limitKey = (key: string, windowMs: number) => `${prefix}rl:${windowMs}:${key}`;
  const failureRules = (keys: readonly string[], peek = false): RateRule[] =>
    keys.map((key) => ({ name: 'lockout', key: `${prefix}fail:${lockout.windowMs}:${key}`, limit: lockout.failures, windowMs: lockout.windowMs, peek }));
  const asLockout = (result: LimitResult): LockoutState => ({ locked: !result.allowed, retryAfterMs: result.retryAfterMs });

  // The lock-out (checked, never charged) and the attempt limits, in one atomic step.
  const admitRules = (lockoutKeys: readonly string[], rules: readonly RateRule[]) => [
    ...failureRules(lockoutKeys, true),
    ...rules.map((r) => ({ ...r, key: limitKey(r.key, r.windowMs) })),
  ];
  const countRefusal = (result: LimitResult) => {
    if (!result.allowed) options.metrics.rejected.inc({ rule: result.rule ?? 'unknown' });
  };

  async function hitAll(rules: readonly RateRule[], cost = 1): Promise<LimitResult> {
    const result = await run('hit', rules.map((r) => ({ ...r, key: limitKey(r.key, r.windowMs) })), cost);
    countRefusal(result);
    return result;
  }

  return {
    hit: (key, limit, windowMs, cost = 1) => hitAll([{ name: 'single', key, limit, windowMs }], cost),
    hitAll,
    async recordFailure(keys) {
      if (keys.length === 0) return { locked: false, retryAfterMs: 0 };
      return asLockout(await run('add', failureRules(keys), 1));
    },
    async checkLockout(keys) {
      if (keys.length === 0) return { locked: false, retryAfterMs: 0 };
      const state = asLockout(await run('peek', failureRules(keys), 1));
      if (state.locked) options.metrics.rejected.inc({ rule: 'lockout' });
      return state;
    },
    async admit(lockoutKeys, rules, cost = 1) {
      const all = admitRules(lockoutKeys, rules);
      if (all.length === 0) return { allowed: true, remaining: Infinity, retryAfterMs: 0, rule: null };
      const result = await run('hit', all, cost);
      countRefusal(result);
      return result;
    },
    prepareAdmit: (lockoutKeys, rules, cost = 1) => prepare('hit', admitRules(lockoutKeys, rules), cost, countRefusal),
    prepareFailure: (keys) => prepare('add', failureRules(keys), 1, () => undefined),
    noteRedisFailure: redisFailed,
    backend: () => last,
  };
}

/** Limits come from code and configuration, so a bad one is a programming error, not a 4xx. */
function validate(rules: readonly RateRule[], cost: number): void {
  if (!Number.isSafeInteger(cost) || cost < 1) throw new RangeError(`rate limit cost must be a positive integer, got ${cost}`);
  const keys = new Set<string>();
  for (const rule of rules) {
    if (!rule.key) throw new RangeError(`rate limit rule ${rule.name} has an empty key`);
    if (!Number.isSafeInteger(rule.limit) || rule.limit < 0) throw new RangeError(`rate limit ${rule.name}: limit must be an integer >= 0`);
    if (!Number.isSafeInteger(rule.windowMs) || rule.windowMs < 1) throw new RangeError(`rate limit ${rule.name}: windowMs must be an integer >= 1`);
    if (keys.has(rule.key)) throw new RangeError(`rate limit rules share the key ${rule.key}`);
    keys.add(rule.key);
  }
}
