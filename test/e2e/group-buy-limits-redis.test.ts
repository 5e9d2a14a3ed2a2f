import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app/build-app.js';
import { loadConfig } from '../../src/config/load.js';
import { activityBody } from '../../src/modules/group-buys/testing/group-buy-fixture.js';
import type { Api } from '../../src/platform/http/types.js';
import { hashSecret } from '../../src/platform/secrets.js';
import { connectTestRedis, deletePrefix, redisSkipNote, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { must, type Reply, TEST_MASTER_KEY, testApp } from '../helpers/test-app.js';

/**
 * rate_limits.group_buy_join counted in Redis is one limit for every API process: two apps over
 * one database and one Redis (a key prefix of their own) admit one user's creates exactly up to
 * the limit in all. (Without Redis each process counts its own.)
 */

function codes(replies: Reply[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of replies) {
    const key = r.status < 300 ? String(r.status) : `${r.status} ${r.body?.error?.code}${r.body?.error?.details?.rule ? ` ${r.body.error.details.rule}` : ''}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

const prefixes: string[] = [];
afterAll(async () => {
  if (!testRedisUrl || prefixes.length === 0) return;
  const admin = await connectTestRedis();
  for (const prefix of prefixes) await deletePrefix(admin, prefix);
  await admin.quit();
});

/** An app over the shared test database with rate_limits.group_buy_join.per_user 5, counting in `redis` when given. */
async function processWithLimit(redis: string | undefined, prefix: string): Promise<Api> {
  const { database } = await testApp();
  const config = loadConfig({
    env: {},
    file: null,
    overrides: {
      'log.level': 'silent',
      'auth.key_cache_seconds': 0,
      'data.redis.key_prefix': prefix,
      'rate_limits.group_buy_join.per_user.limit': 5,
      ...(redis ? { 'data.redis.addr': redis } : {}),
    },
  });
  const api = await buildApp({ config, database, masterKeyHash: hashSecret(TEST_MASTER_KEY), logger: false });
  await api.ready();
  return api;
}

describe.skipIf(!testRedisUrl)(`group-buy limits shared by two API processes through Redis${redisSkipNote}`, () => {
  it("one user's 40 parallel creates spread over two processes: exactly 5 in all", async () => {
    const prefix = uniquePrefix('group-buy');
    prefixes.push(prefix);
    const apps = [await processWithLimit(testRedisUrl, prefix), await processWithLimit(testRedisUrl, prefix)];
    try {
      const t = await (await testApp()).newTenant();
      const activityId = must(await t.call('POST', '/v1/group-buys/activities', activityBody({ per_user_limit: 1000, open_minutes: 600 }), { key: t.admin }), 201).body.activity_id as string;
      const replies = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const res = await apps[i % 2]!.inject({
            method: 'POST',
            url: `/v1/group-buys/activities/${activityId}/groups`,
            payload: { user_id: 'both' },
            headers: { authorization: `Bearer ${t.service}` },
          });
          return { status: res.statusCode, body: res.json(), headers: res.headers } as Reply;
        }),
      );
      expect(codes(replies)).toEqual({ '201': 5, '429 rate_limited user': 35 });
      expect(must(await t.call('GET', `/v1/group-buys/activities/${activityId}/groups?page_size=1`), 200).body.pagination.total).toBe(5);
    } finally {
      await Promise.all(apps.map((a) => a.close()));
    }
  }, 60_000);
});
