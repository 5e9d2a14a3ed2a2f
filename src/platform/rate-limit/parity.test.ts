import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestRedis, deletePrefix, redisSkipNote, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.js';
import { createMemoryStore } from './memory-store.js';
import { createRedisStore } from './redis-store.js';
import type { RateRule, StoreMode } from './types.js';

/** A small deterministic PRNG (mulberry32), so a failing sequence can be replayed by its seed. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.skipIf(!testRedisUrl)(`the Lua script and the in-process store agree${redisSkipNote}`, () => {
  let redis: Redis;
  const prefix = uniquePrefix('parity');
  beforeAll(async () => {
    redis = await connectTestRedis();
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('on 3,000 random steps of hits, failures and peeks over shared keys, windows and costs', async () => {
    const rand = random(20261121);
    let now = Date.parse('2026-03-01T00:00:00Z') + 7; // not on a bucket edge
    const clock = () => now;
    const memory = createMemoryStore({ now: clock });
    const shared = createRedisStore(redis, { now: clock });
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    const windows = [50, 100, 1000, 7_000, 60_000];
    const keys = ['a', 'b', 'c'];
    for (let step = 0; step < 3000; step++) {
      now += pick([0, 0, 1, 3, 9, 10, 11, 50, 99, 100, 101, 700, 5_000]);
      const mode = pick<StoreMode>(['hit', 'hit', 'hit', 'add', 'peek']);
      const count = 1 + Math.floor(rand() * 3);
      const used = new Set<string>();
      const rules: RateRule[] = [];
      for (let r = 0; r < count; r++) {
        const windowMs = pick(windows);
        const key = `${prefix}${pick(keys)}:${windowMs}`;
        if (used.has(key)) continue;
        used.add(key);
        rules.push({ name: `r${r}`, key, limit: pick([0, 1, 2, 5, 8]), windowMs });
      }
      const cost = pick([1, 1, 1, 2, 3, 9]);
      const [m, r] = [await memory.run(mode, rules, cost), await shared.run(mode, rules, cost)];
      expect(r, `step ${step}: ${mode} cost ${cost} ${JSON.stringify(rules)}`).toEqual(m);
    }
  });
});
