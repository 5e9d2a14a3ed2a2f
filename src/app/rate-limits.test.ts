import { Type } from 'typebox';
import { afterAll, describe, expect, it } from 'vitest';
import { metricValue } from '../../test/helpers/grant-helpers.js';
import { connectTestRedis, deletePrefix, redisSkipNote, testRedisUrl, uniquePrefix } from '../../test/helpers/redis.js';
import { closedPort } from '../../test/helpers/tcp-proxy.js';
import { TEST_MASTER_KEY, testApp, type TenantFixture } from '../../test/helpers/test-app.js';
import { loadConfig } from '../config/load.js';
import { endUserIp } from '../platform/client-ip.js';
import { ManualClock } from '../platform/clock.js';
import { AppError } from '../platform/errors.js';
import { redemptionRules } from '../platform/rate-limit/index.js';
import { hashSecret } from '../platform/secrets.js';
import { buildApp } from './build-app.js';
import type { Api } from '../platform/http/types.js';

const prefixes: string[] = [];
afterAll(async () => {
  if (!testRedisUrl || prefixes.length === 0) return;
  const admin = await connectTestRedis();
  for (const prefix of prefixes) await deletePrefix(admin, prefix);
  await admin.quit();
});

/**
 * An app over the shared test database with small redemption limits and a test route that plugs
 * the guard in the way the redeem-codes module will: admit before the work (outside any
 * transaction), record a failure after a wrong code.
 */
async function limitedApp(redis: string | undefined, clock: ManualClock, extra: Record<string, unknown> = {}): Promise<Api> {
  const { database } = await testApp();
  const prefix = uniquePrefix('app');
  prefixes.push(prefix);
  const config = loadConfig({
    env: {},
    file: null,
    overrides: {
      'log.level': 'silent',
      'auth.key_cache_seconds': 0,
      'data.redis.key_prefix': prefix,
      'rate_limits.redeem.per_user.limit': 3,
      'rate_limits.redeem.per_client_ip.limit': 5,
      'rate_limits.lockout.failures': 2,
      ...(redis ? { 'data.redis.addr': redis } : {}),
      ...extra,
    },
  });
  const api = await buildApp({ config, database, masterKeyHash: hashSecret(TEST_MASTER_KEY), logger: false, clock });
  api.post(
    '/v1/test/redeem',
    {
      schema: {
        body: Type.Object({ code: Type.String(), user_id: Type.String(), product_code: Type.String(), client_ip: Type.Optional(Type.String()) }),
      },
    },
    async (request) => {
      const actor = request.actor!;
      if (actor.kind !== 'tenant') throw new AppError('forbidden', 'tenant_key_required', 'tenant key');
      const subject = {
        tenantId: actor.tenantId,
        productCode: request.body.product_code,
        userId: request.body.user_id,
        clientIp: endUserIp(request, request.body.client_ip, { serverCaller: true }),
      };
      const admitted = await api.services.redeemGuard.admit(subject);
      if (request.body.code !== 'GOOD') {
        await api.services.redeemGuard.recordFailure(subject);
        throw new AppError('not_found', 'redeem_code_not_found', 'no such code');
      }
      return { redeemed: true, remaining: admitted.remaining };
    },
  );
  await api.ready();
  return api;
}

async function setQuota(api: Api, t: TenantFixture, rateLimits: Record<string, number | null>) {
  const res = await api.inject({ method: 'PUT', url: `/v1/apps/${t.productCode}`, payload: { rate_limits: rateLimits }, headers: { authorization: `Bearer ${t.admin}` } });
  expect(res.statusCode).toBe(200);
}

async function post(api: Api, t: TenantFixture, body: object, headers: Record<string, string> = {}) {
  const res = await api.inject({
    method: 'POST',
    url: '/v1/test/redeem',
    payload: { product_code: t.productCode, ...body },
    headers: { authorization: `Bearer ${t.service}`, ...headers },
    remoteAddress: '10.0.0.1',
  });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}

function suite(backend: 'memory' | 'redis') {
  const redis = backend === 'redis' ? testRedisUrl : undefined;

  it('429 rate_limited with Retry-After once a user is over the limit; other users are not', async () => {
    const clock = new ManualClock(new Date());
    const api = await limitedApp(redis, clock);
    try {
      const t = await (await testApp()).newTenant();
      for (let i = 0; i < 3; i++) expect((await post(api, t, { code: 'GOOD', user_id: 'u1' })).status).toBe(200);
      const refused = await post(api, t, { code: 'GOOD', user_id: 'u1' });
      expect(refused.status).toBe(429);
      expect(refused.body.error).toMatchObject({ code: 'rate_limited', details: { rule: 'user' } });
      // An hour, plus up to one bucket (36 s) since the hits are counted in 1% buckets.
      const seconds = refused.body.error.details.retry_after_seconds as number;
      expect(seconds).toBeGreaterThanOrEqual(3600);
      expect(seconds).toBeLessThanOrEqual(3636);
      expect(refused.headers['retry-after']).toBe(String(seconds));
      expect((await post(api, t, { code: 'GOOD', user_id: 'u2' })).status).toBe(200);
      expect(api.services.limiter.backend()).toBe(backend);
      const metrics = (await api.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metricValue(metrics, 'marketing_rate_limit_rejected_total', { rule: 'user' })).toBe(1);
    } finally {
      await api.close();
    }
  });

  it('locks a user out after repeated wrong codes; the end-user IP from the backend is locked too', async () => {
    const clock = new ManualClock(new Date());
    const api = await limitedApp(redis, clock);
    try {
      const t = await (await testApp()).newTenant();
      const ip = { client_ip: '198.51.100.7' };
      expect((await post(api, t, { code: 'BAD', user_id: 'u1', ...ip })).status).toBe(404);
      expect((await post(api, t, { code: 'BAD', user_id: 'u1', ...ip })).status).toBe(404);
      const locked = await post(api, t, { code: 'GOOD', user_id: 'u1', ...ip });
      expect(locked.status).toBe(429);
      expect(locked.body.error.details.rule).toBe('lockout');
      // Another user from the same end-user IP is locked by the IP; without client_ip the
      // backend's own address is not limited, so the same user elsewhere is locked only as a user.
      expect((await post(api, t, { code: 'GOOD', user_id: 'u2', ...ip })).body.error.details.rule).toBe('lockout');
      expect((await post(api, t, { code: 'GOOD', user_id: 'u3' })).status).toBe(200);
      clock.advance(3600_000 + 36_000);
      expect((await post(api, t, { code: 'GOOD', user_id: 'u1', ...ip })).status).toBe(200);
    } finally {
      await api.close();
    }
  });

  it('an Idempotency-Key refused with 429 is not replayed: the retry after Retry-After runs', async () => {
    const clock = new ManualClock(new Date());
    const api = await limitedApp(redis, clock);
    try {
      const t = await (await testApp()).newTenant();
      for (let i = 0; i < 3; i++) await post(api, t, { code: 'GOOD', user_id: 'u1' });
      const key = { 'idempotency-key': 'redeem-once' };
      expect((await post(api, t, { code: 'GOOD', user_id: 'u1' }, key)).status).toBe(429);
      clock.advance(3600_000 + 36_000);
      const retried = await post(api, t, { code: 'GOOD', user_id: 'u1' }, key);
      expect(retried.status).toBe(200);
      expect(retried.headers['idempotent-replayed']).toBeUndefined();
      expect((await post(api, t, { code: 'GOOD', user_id: 'u1' }, key)).headers['idempotent-replayed']).toBe('true');
    } finally {
      await api.close();
    }
  });

  it('applies the product quota of the app over the configured one, per tenant', async () => {
    const clock = new ManualClock(new Date());
    const api = await limitedApp(redis, clock, { 'rate_limits.redeem.per_product_hour': 2 });
    try {
      const app = await testApp();
      const [t, other] = [await app.newTenant(), await app.newTenant()];
      expect((await post(api, t, { code: 'GOOD', user_id: 'a' })).status).toBe(200);
      expect((await post(api, t, { code: 'GOOD', user_id: 'b' })).status).toBe(200);
      expect((await post(api, t, { code: 'GOOD', user_id: 'c' })).body.error.details.rule).toBe('product_hour');
      expect((await post(api, other, { code: 'GOOD', user_id: 'a' })).status).toBe(200);
      // Changed through the limiting process itself, which drops its cached quotas at once
      // (another process would see the change within grants.snapshot_cache_ms).
      await setQuota(api, t, { redeem_per_hour: 3 });
      expect((await post(api, t, { code: 'GOOD', user_id: 'c' })).status).toBe(200);
      expect((await post(api, t, { code: 'GOOD', user_id: 'd' })).status).toBe(429);
      await setQuota(api, t, { redeem_per_hour: null });
      expect((await post(api, t, { code: 'GOOD', user_id: 'd' })).status).toBe(200);
    } finally {
      await api.close();
    }
  });
}

describe('redemption limits through the app, in-process', () => suite('memory'));
describe.skipIf(!testRedisUrl)(`redemption limits through the app, Redis${redisSkipNote}`, () => suite('redis'));

describe('GET /ready with Redis configured', () => {
  it('reports an unreachable Redis as DEGRADED and stays ready; requests are still limited', async () => {
    const clock = new ManualClock(new Date());
    const api = await limitedApp(`127.0.0.1:${await closedPort()}`, clock);
    try {
      const ready = await api.inject({ method: 'GET', url: '/ready' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toEqual({ status: 'READY', checks: { database: 'UP', redis: 'DEGRADED' } });
      const t = await (await testApp()).newTenant();
      for (let i = 0; i < 3; i++) expect((await post(api, t, { code: 'GOOD', user_id: 'u1' })).status).toBe(200);
      expect((await post(api, t, { code: 'GOOD', user_id: 'u1' })).status).toBe(429);
    } finally {
      await api.close();
    }
  });

  it.skipIf(!testRedisUrl)(`reports a reachable Redis as UP${redisSkipNote}`, async () => {
    const api = await limitedApp(testRedisUrl, new ManualClock(new Date()));
    try {
      expect((await api.inject({ method: 'GET', url: '/ready' })).json()).toEqual({ status: 'READY', checks: { database: 'UP', redis: 'UP' } });
    } finally {
      await api.close();
    }
    // Closing the app closed the Redis connection the services opened.
    expect(api.services.redis!.status).toBe('end');
  });
});

describe('redemptionRules', () => {
  const limits = loadConfig({ env: {}, file: null, overrides: { 'rate_limits.redeem.per_product_day': 1000 } }).rate_limits.redeem;
  const subject = { tenantId: 't1', productCode: 'app1', userId: 'u:1', clientIp: null };

  it('limits per user always, per IP only with an end-user IP, per product by config unless the app says otherwise', () => {
    expect(redemptionRules(limits, subject, null)).toEqual([
      { name: 'user', key: 'redeem:{t1}:user:u:1', limit: 30, windowMs: 3_600_000 },
      { name: 'product_day', key: 'redeem:{t1}:product:app1', limit: 1000, windowMs: 86_400_000 },
    ]);
    const rules = redemptionRules(limits, { ...subject, clientIp: '2001:db8:1:2:3::9' }, { redeem_per_hour: 50, redeem_per_day: null });
    expect(rules.map((r) => [r.name, r.key, r.limit])).toEqual([
      ['user', 'redeem:{t1}:user:u:1', 30],
      ['client_ip', 'redeem:{t1}:ip:2001:db8:1:2::/64', 300],
      ['product_hour', 'redeem:{t1}:product:app1', 50],
    ]);
  });
});
