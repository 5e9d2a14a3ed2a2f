import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { connectTestRedis, deletePrefix, redisSkipNote, testRedisUrl, uniquePrefix } from '../../../test/helpers/redis.js';
import { closedPort, startTcpProxy } from '../../../test/helpers/tcp-proxy.js';
import { createRedis, closeRedis } from '../redis.js';
import { createRateLimiter } from './limiter.js';
import { rateLimitMetrics } from './metrics.js';

function logCollector() {
  const warnings: string[] = [];
  const infos: string[] = [];
  return { warnings, infos, log: { warn: (_err: unknown, message: string) => void warnings.push(message), info: (message: string) => void infos.push(message) } };
}

async function fallbacks(registry: Registry): Promise<number> {
  return (await registry.getSingleMetric('marketing_redis_fallback_total')!.get()).values[0]?.value ?? 0;
}

describe('rate limiter when Redis is unreachable', () => {
  it('counts in-process from the first call, logs once, and counts each fallback', async () => {
    const port = await closedPort();
    const { warnings, log } = logCollector();
    const redis = createRedis({ addr: `127.0.0.1:${port}`, command_timeout_ms: 200, connect_timeout_ms: 200 }, log)!;
    const registry = new Registry();
    const limiter = createRateLimiter({
      redis,
      metrics: rateLimitMetrics(registry),
      lockout: { failures: 2, windowMs: 60_000 },
      retryRedisAfterMs: 0, // try Redis on every call: each one must still fall back cleanly
      log,
    });
    try {
      const results = await Promise.all(Array.from({ length: 50 }, () => limiter.hit('k', 5, 60_000)));
      expect(results.filter((r) => r.allowed)).toHaveLength(5);
      expect(limiter.backend()).toBe('memory');
      await limiter.recordFailure(['u']);
      expect((await limiter.recordFailure(['u'])).locked).toBe(true);
      expect((await limiter.checkLockout(['u'])).locked).toBe(true);
      expect(await fallbacks(registry)).toBe(53);
      // One warning from the limiter, one from the client, however many calls failed.
      expect(warnings.filter((w) => w.startsWith('rate limiter'))).toHaveLength(1);
      expect(warnings.length).toBeLessThanOrEqual(2);
    } finally {
      await closeRedis(redis);
    }
  });
});

describe.skipIf(!testRedisUrl)(`rate limiter when Redis goes away and comes back${redisSkipNote}`, () => {
  const prefix = uniquePrefix('fallback');
  afterAll(async () => {
    if (!testRedisUrl) return;
    const admin = await connectTestRedis();
    await deletePrefix(admin, prefix);
    await admin.quit();
  });

  it('falls back without an error while it is gone, and counts in Redis again once it is back', async () => {
    const target = new URL(testRedisUrl!.includes('://') ? testRedisUrl! : `redis://${testRedisUrl}`);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const { warnings, infos, log } = logCollector();
    const redis = createRedis({ addr: `127.0.0.1:${proxy.port}`, command_timeout_ms: 300, connect_timeout_ms: 300 }, log)!;
    const registry = new Registry();
    const limiter = createRateLimiter({
      redis,
      metrics: rateLimitMetrics(registry),
      lockout: { failures: 3, windowMs: 60_000 },
      keyPrefix: prefix,
      retryRedisAfterMs: 50,
      log,
    });
    try {
      expect((await limiter.hit('k', 100, 60_000)).remaining).toBe(99);
      expect(limiter.backend()).toBe('redis');

      await proxy.cut();
      // Calls in flight while the connection drops, and calls after it: none throws.
      const during = await Promise.all(Array.from({ length: 100 }, () => limiter.hit('k', 100, 60_000)));
      expect(during.every((r) => r.allowed)).toBe(true);
      expect(limiter.backend()).toBe('memory');
      expect(await fallbacks(registry)).toBeGreaterThan(0);
      expect(warnings.filter((w) => w.startsWith('rate limiter'))).toHaveLength(1);

      await proxy.restore();
      // ioredis reconnects on its own (100 ms backoff steps); the limiter tries again after 50 ms.
      const deadline = Date.now() + 10_000;
      let back = false;
      while (!back && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        await limiter.hit('probe', 1_000_000, 60_000);
        back = limiter.backend() === 'redis';
      }
      expect(back).toBe(true);
      expect(infos).toContain('rate limiter: Redis answers again; counting in Redis');
      // Redis kept its own count: the one hit before the outage (in-process counts are not carried back).
      expect((await limiter.hit('k', 100, 60_000)).remaining).toBe(98);
    } finally {
      await closeRedis(redis);
      await proxy.close();
    }
  });
});
