import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestRedis, deletePrefix, redisSkipNote, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.js';
import { ManualClock } from '../clock.js';
import { createRateLimiter, type RateLimiter } from './limiter.js';
import { rateLimitMetrics } from './metrics.js';
import { createMemoryStore } from './memory-store.js';

// 2026-01-01T00:00:00Z: a multiple of every bucket width used below, so bucket edges are exact.
const T0 = Date.parse('2026-01-01T00:00:00Z');

interface Setup {
  limiter: RateLimiter;
  clock: ManualClock;
  registry: Registry;
}

/**
 * One suite, run on both stores: the in-process one and Redis (when TEST_REDIS_URL is set). Both
 * take time from the same manual clock, so windows are tested at their exact edges.
 */
function limiterSuite(name: string, backend: 'memory' | 'redis') {
  let redis: Redis | null = null;
  const prefix = uniquePrefix(`limiter-${backend}`);
  let n = 0;

  beforeAll(async () => {
    if (backend === 'redis') redis = await connectTestRedis();
  });
  afterAll(async () => {
    if (redis) {
      await deletePrefix(redis, prefix);
      await redis.quit();
    }
  });

  /** A limiter over a fresh key space (its own prefix), failing the test if it falls back. */
  function setup(lockout = { failures: 3, windowMs: 60_000 }): Setup {
    const clock = new ManualClock(new Date(T0));
    const registry = new Registry();
    const limiter = createRateLimiter({
      redis,
      metrics: rateLimitMetrics(registry),
      lockout,
      now: () => clock.now().getTime(),
      keyPrefix: `${prefix}${n++}:`,
      log: { warn: (err) => { throw err; }, info: () => {} },
    });
    return { limiter, clock, registry };
  }

  async function expectBackend(limiter: RateLimiter) {
    expect(limiter.backend()).toBe(backend);
  }

  describe(name, () => {
    it('admits up to the limit, then refuses with the time until the oldest hit leaves', async () => {
      const { limiter, clock } = setup();
      for (let i = 1; i <= 3; i++) {
        expect(await limiter.hit('k', 3, 1000)).toEqual({ allowed: true, remaining: 3 - i, retryAfterMs: 0, rule: null });
      }
      await expectBackend(limiter);
      clock.advance(500);
      // Window 1000 ms -> buckets of 10 ms: the hits of [T0, T0+10) count until T0+1009.
      expect(await limiter.hit('k', 3, 1000)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 509, rule: 'single' });
      clock.set(new Date(T0 + 1008));
      expect(await limiter.hit('k', 3, 1000)).toMatchObject({ allowed: false, retryAfterMs: 1 });
      clock.set(new Date(T0 + 1009)); // all three were in one bucket, so all three leave together
      expect(await limiter.hit('k', 3, 1000)).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0, rule: null });
    });

    it('is exact to the millisecond for windows up to 100 ms', async () => {
      const { limiter, clock } = setup();
      expect((await limiter.hit('k', 1, 100)).allowed).toBe(true);
      clock.advance(99);
      expect(await limiter.hit('k', 1, 100)).toMatchObject({ allowed: false, retryAfterMs: 1 });
      clock.advance(1);
      expect((await limiter.hit('k', 1, 100)).allowed).toBe(true);
    });

    it('slides: hits leave one by one, in the order they came', async () => {
      const { limiter, clock } = setup();
      expect((await limiter.hit('k', 2, 1000)).allowed).toBe(true); // T0
      clock.advance(600);
      expect((await limiter.hit('k', 2, 1000)).allowed).toBe(true); // T0+600
      clock.advance(100);
      expect(await limiter.hit('k', 2, 1000)).toMatchObject({ allowed: false, retryAfterMs: 309 });
      clock.set(new Date(T0 + 1009)); // the first has left, the second has not
      expect(await limiter.hit('k', 2, 1000)).toMatchObject({ allowed: true, remaining: 0 });
      expect(await limiter.hit('k', 2, 1000)).toMatchObject({ allowed: false, retryAfterMs: 600 }); // until T0+1609
    });

    it('charges a cost, refuses one that does not fit without charging it, and never fits a cost over the limit', async () => {
      const { limiter } = setup();
      expect(await limiter.hit('k', 10, 60_000, 4)).toMatchObject({ allowed: true, remaining: 6 });
      expect(await limiter.hit('k', 10, 60_000, 4)).toMatchObject({ allowed: true, remaining: 2 });
      expect(await limiter.hit('k', 10, 60_000, 4)).toMatchObject({ allowed: false, remaining: 2 });
      expect(await limiter.hit('k', 10, 60_000, 2)).toMatchObject({ allowed: true, remaining: 0 });
      expect(await limiter.hit('other', 10, 60_000, 11)).toEqual({ allowed: false, remaining: 10, retryAfterMs: 60_000, rule: 'single' });
      expect(await limiter.hit('zero', 0, 60_000)).toMatchObject({ allowed: false, remaining: 0 });
    });

    it('keeps windows of one key apart, and keys apart', async () => {
      const { limiter } = setup();
      expect((await limiter.hit('k', 1, 1000)).allowed).toBe(true);
      expect((await limiter.hit('k', 1, 2000)).allowed).toBe(true);
      expect((await limiter.hit('k2', 1, 1000)).allowed).toBe(true);
      expect((await limiter.hit('k', 1, 1000)).allowed).toBe(false);
    });

    it('checks several rules at once and charges none when one refuses', async () => {
      const { limiter, clock, registry } = setup();
      const rules = (user: string) => [
        { name: 'user', key: `user:${user}`, limit: 2, windowMs: 60_000 },
        { name: 'product', key: 'product:p', limit: 5, windowMs: 3_600_000 },
      ];
      expect(await limiter.hitAll(rules('a'))).toMatchObject({ allowed: true, remaining: 1 });
      expect(await limiter.hitAll(rules('a'))).toMatchObject({ allowed: true, remaining: 0 });
      // The user rule refuses: the product rule is not charged (3 more fit, not 2).
      expect(await limiter.hitAll(rules('a'))).toMatchObject({ allowed: false, rule: 'user' });
      expect(await limiter.hitAll(rules('a'))).toMatchObject({ allowed: false, rule: 'user' });
      for (const user of ['b', 'b', 'c']) expect((await limiter.hitAll(rules(user))).allowed).toBe(true);
      expect(await limiter.hitAll(rules('d'))).toMatchObject({ allowed: false, rule: 'product', remaining: 0 });
      // Both refuse: the answer is the longer wait (the product hour), named after its rule.
      clock.advance(1000);
      const both = await limiter.hitAll(rules('a'));
      expect(both).toMatchObject({ allowed: false, rule: 'product' });
      expect(both.retryAfterMs).toBe(3_600_000 + 36_000 - 1 - 1000);
      const rejected = await registry.getSingleMetric('marketing_rate_limit_rejected_total')!.get();
      expect(Object.fromEntries(rejected.values.map((v) => [v.labels.rule, v.value]))).toEqual({ user: 2, product: 2 });
    });

    it(`500 parallel hits on one key admit exactly the limit`, async () => {
      const { limiter } = setup();
      const results = await Promise.all(Array.from({ length: 500 }, () => limiter.hit('hot', 37, 60_000)));
      expect(results.filter((r) => r.allowed)).toHaveLength(37);
      expect(results.filter((r) => !r.allowed).every((r) => r.retryAfterMs > 0 && r.rule === 'single')).toBe(true);
      expect([...results.filter((r) => r.allowed).map((r) => r.remaining)].sort((a, b) => a - b)).toEqual(Array.from({ length: 37 }, (_, i) => i));
      await expectBackend(limiter);
    });

    it('500 parallel multi-rule hits: exactly the tightest limit, and the other rule charged only for those', async () => {
      const { limiter } = setup();
      const rules = [
        { name: 'ip', key: 'ip:1.2.3.4', limit: 20, windowMs: 60_000 },
        { name: 'product', key: 'product:p', limit: 1000, windowMs: 60_000 },
      ];
      const results = await Promise.all(Array.from({ length: 500 }, () => limiter.hitAll(rules)));
      expect(results.filter((r) => r.allowed)).toHaveLength(20);
      expect(await limiter.hitAll([rules[1]!])).toMatchObject({ allowed: true, remaining: 1000 - 21 });
    });

    it('locks out after N failures per key, counted apart from attempts, until they leave the window', async () => {
      const { limiter, clock } = setup({ failures: 3, windowMs: 60_000 });
      const [userA, userB, ip] = ['user:a', 'user:b', 'ip:9.9.9.9'];
      expect(await limiter.recordFailure([userA, ip])).toEqual({ locked: false, retryAfterMs: 0 });
      clock.advance(10_000);
      expect(await limiter.recordFailure([userA, ip])).toEqual({ locked: false, retryAfterMs: 0 });
      expect(await limiter.checkLockout([userA, ip])).toEqual({ locked: false, retryAfterMs: 0 });
      // Failures are not attempts: the attempt limit under the same name is untouched.
      expect(await limiter.hit(userA, 1, 60_000)).toMatchObject({ allowed: true });
      expect(await limiter.recordFailure([userA, ip])).toEqual({ locked: true, retryAfterMs: 60_000 + 600 - 1 - 10_000 });
      expect(await limiter.checkLockout([userA, ip])).toMatchObject({ locked: true });
      // Another user behind the same IP is locked by the IP key, not by their own.
      expect(await limiter.checkLockout([userB])).toEqual({ locked: false, retryAfterMs: 0 });
      expect((await limiter.checkLockout([userB, ip])).locked).toBe(true);
      // Checking charges nothing: the lock lifts when the first failure leaves the window.
      clock.set(new Date(T0 + 60_000 + 600 - 2));
      expect(await limiter.checkLockout([userA])).toEqual({ locked: true, retryAfterMs: 1 });
      clock.set(new Date(T0 + 60_000 + 600 - 1));
      expect(await limiter.checkLockout([userA, ip])).toEqual({ locked: false, retryAfterMs: 0 });
      // One more failure locks again, until the second one leaves (its bucket of 600 ms starts at
      // T0+9600, so it counts until T0+9600+599+60000).
      expect(await limiter.recordFailure([userA])).toEqual({ locked: true, retryAfterMs: 9600 });
      clock.advance(9600);
      expect((await limiter.checkLockout([userA])).locked).toBe(false);
      expect(await limiter.checkLockout([])).toEqual({ locked: false, retryAfterMs: 0 });
    });

    it('admit: the lock-out and the limits in one step; a locked-out attempt charges nothing', async () => {
      const { limiter } = setup({ failures: 2, windowMs: 60_000 });
      const limits = [{ name: 'user', key: 'user:x', limit: 3, windowMs: 60_000 }];
      expect(await limiter.admit(['user:x'], limits)).toMatchObject({ allowed: true });
      await limiter.recordFailure(['user:x']);
      expect(await limiter.admit(['user:x'], limits)).toMatchObject({ allowed: true });
      await limiter.recordFailure(['user:x']);
      // Locked: refused as lockout, and the attempt limit is not charged (2 of 3 used).
      for (let i = 0; i < 5; i++) expect(await limiter.admit(['user:x'], limits)).toMatchObject({ allowed: false, rule: 'lockout' });
      expect(await limiter.hitAll(limits)).toMatchObject({ allowed: true, remaining: 0 });
      // Not locked, over the limit: refused by the limit; the failure count is never charged by admit.
      expect(await limiter.admit(['user:y'], [{ name: 'user', key: 'user:y', limit: 1, windowMs: 60_000 }])).toMatchObject({ allowed: true });
      expect(await limiter.admit(['user:y'], [{ name: 'user', key: 'user:y', limit: 1, windowMs: 60_000 }])).toMatchObject({ allowed: false, rule: 'user' });
      expect(await limiter.checkLockout(['user:y'])).toEqual({ locked: false, retryAfterMs: 0 });
      expect(await limiter.admit([], [])).toMatchObject({ allowed: true });
    });

    it('refuses malformed rules as programming errors', async () => {
      const { limiter } = setup();
      await expect(limiter.hit('k', 1, 1000, 0)).rejects.toThrow(RangeError);
      await expect(limiter.hit('k', -1, 1000)).rejects.toThrow(RangeError);
      await expect(limiter.hit('k', 1, 0)).rejects.toThrow(RangeError);
      await expect(
        limiter.hitAll([
          { name: 'a', key: 'same', limit: 1, windowMs: 10 },
          { name: 'b', key: 'same', limit: 2, windowMs: 10 },
        ]),
      ).rejects.toThrow(/share the key/);
    });
  });
}

limiterSuite('rate limiter, in-process', 'memory');
describe.skipIf(!testRedisUrl)(`rate limiter, Redis${redisSkipNote}`, () => {
  limiterSuite('shared through Redis (one Lua call per check)', 'redis');
});

describe('in-process store memory', () => {
  it('forgets expired keys and stays under maxKeys, dropping the least recently used', async () => {
    let now = T0;
    const store = createMemoryStore({ now: () => now, maxKeys: 100 });
    const rule = (key: string) => [{ name: 'r', key, limit: 5, windowMs: 1000 }];
    for (let i = 0; i < 1000; i++) await store.run('hit', rule(`k${i}`), 1);
    expect(store.size()).toBeLessThanOrEqual(100);
    // The most recent keys are the ones kept.
    expect(await store.run('hit', rule('k999'), 1)).toMatchObject({ remaining: 3 });
    now += 2000; // every key has left its window
    for (let i = 0; i < 1000; i++) await store.run('peek', rule(`other${i}`), 1);
    expect(store.size()).toBe(0);
  });
});
