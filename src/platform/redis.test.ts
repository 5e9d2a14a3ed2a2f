import { describe, expect, it } from 'vitest';
import { redisSkipNote, testRedisUrl } from '../../test/helpers/redis.js';
import { closedPort } from '../../test/helpers/tcp-proxy.js';
import { loadConfig } from '../config/load.js';
import { closeRedis, createRedis, ensureRedisConnected, probeRedis, redisOptions, redisUrl } from './redis.js';

describe('Redis client', () => {
  it('is null without an address, and takes host:port or a URL', () => {
    expect(createRedis(loadConfig({ env: {}, file: null }).data.redis)).toBeNull();
    expect(redisUrl('redis.local:6379')).toBe('redis://redis.local:6379');
    expect(redisUrl('rediss://:pw@r:6380/1')).toBe('rediss://:pw@r:6380/1');
    expect(redisOptions({ addr: 'x' })).toMatchObject({ lazyConnect: true, enableOfflineQueue: false, commandTimeout: 500 });
  });

  it('reads REDIS_URL and the new Redis and rate-limit settings from the environment', () => {
    const config = loadConfig({
      env: {
        REDIS_URL: 'redis://r:6379',
        MARKETING_REDIS_KEY_PREFIX: 'shop:',
        MARKETING_REDEEM_PER_USER: '5',
        MARKETING_REDEEM_PRODUCT_DAY: '1000',
        MARKETING_LOCKOUT_FAILURES: '4',
      },
      file: null,
    });
    expect(config.data.redis).toEqual({ addr: 'redis://r:6379', key_prefix: 'shop:', command_timeout_ms: 500, connect_timeout_ms: 2000 });
    expect(config.rate_limits).toEqual({
      redeem: {
        per_user: { limit: 5, window_seconds: 3600 },
        per_client_ip: { limit: 300, window_seconds: 3600 },
        per_product_hour: null,
        per_product_day: 1000,
      },
      coupon_claim: { per_user: { limit: 20, window_seconds: 3600 }, per_client_ip: { limit: 200, window_seconds: 3600 } },
      coupon_use: { per_user: { limit: 60, window_seconds: 3600 }, per_client_ip: { limit: 600, window_seconds: 3600 } },
      group_buy_join: { per_user: { limit: 30, window_seconds: 3600 }, per_client_ip: { limit: 300, window_seconds: 3600 } },
      referral_page: { per_client_ip: { limit: 600, window_seconds: 60 } },
      client: {
        per_key: { limit: 20_000, window_seconds: 60 },
        per_user: { limit: 300, window_seconds: 60 },
        per_device: { limit: 300, window_seconds: 60 },
        per_client_ip: { limit: 1200, window_seconds: 60 },
      },
      lockout: { failures: 4, window_seconds: 3600 },
      memory_max_keys: 100_000,
    });
    expect(() => loadConfig({ env: { MARKETING_REDEEM_PER_USER: '-1' }, file: null })).toThrow(/MARKETING_REDEEM_PER_USER/);
  });

  it('connects only when first used, and closes without connecting when never used', async () => {
    const client = createRedis({ addr: `127.0.0.1:${await closedPort()}`, command_timeout_ms: 100, connect_timeout_ms: 100 })!;
    expect(client.status).toBe('wait');
    await closeRedis(client);
    expect(client.status).toBe('end');
  });

  it('fails fast against a dead address: a refused connection, a DEGRADED probe, no queued commands', async () => {
    const client = createRedis({ addr: `127.0.0.1:${await closedPort()}`, command_timeout_ms: 100, connect_timeout_ms: 100 })!;
    try {
      await expect(ensureRedisConnected(client)).rejects.toThrow();
      const started = performance.now();
      await expect(client.ping()).rejects.toThrow(/enableOfflineQueue/);
      expect(performance.now() - started).toBeLessThan(50);
      expect(await probeRedis(client, 200)).toBe('DEGRADED');
    } finally {
      await closeRedis(client);
    }
  });

  it.skipIf(!testRedisUrl)(`probes UP and quits cleanly against real Redis${redisSkipNote}`, async () => {
    const client = createRedis({ addr: testRedisUrl!, command_timeout_ms: 500, connect_timeout_ms: 1000 })!;
    expect(await probeRedis(client)).toBe('UP');
    await closeRedis(client);
    expect(client.status).toBe('end');
  });
});
