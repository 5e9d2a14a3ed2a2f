import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { redisOptions, redisUrl } from '../../src/platform/redis.js';

/** The Redis of the test run (TEST_REDIS_URL), or undefined: Redis suites are then skipped. */
export const testRedisUrl: string | undefined = process.env.TEST_REDIS_URL || undefined;

/** Suite-name suffix saying why a Redis suite did not run. */
export const redisSkipNote = testRedisUrl ? '' : ' [skipped: set TEST_REDIS_URL=redis://127.0.0.1:6379 to run against real Redis]';

/** A key prefix no other test run (or project, or file) shares. */
export const uniquePrefix = (label: string) => `mhtest:${label}:${randomBytes(5).toString('hex')}:`;

/** A client with the service's own options (no offline queue, timeouts), connected. */
export async function connectTestRedis(url = testRedisUrl!): Promise<Redis> {
  const client = new Redis(redisUrl(url), redisOptions({ addr: url, commandTimeoutMs: 2000 }));
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Deletes every key under `prefix` (SCAN, never KEYS: the Redis may be shared). */
export async function deletePrefix(client: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await client.del(...keys);
  } while (cursor !== '0');
  return deleted;
}
