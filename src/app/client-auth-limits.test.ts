import { afterAll, describe, expect, it } from 'vitest';
import { connectTestRedis, deletePrefix, redisSkipNote, testRedisUrl, uniquePrefix } from '../../test/helpers/redis.js';
import { TEST_MASTER_KEY, must, testApp, type TenantFixture } from '../../test/helpers/test-app.js';
import { buildApp } from './build-app.js';
import { loadConfig } from '../config/load.js';
import type { Api } from '../platform/http/types.js';
import { hashSecret } from '../platform/secrets.js';
import { mintUserToken } from '../modules/client-access/testing/client-fixture.js';

/**
 * Client rate limits (rate_limits.client): per publishable key, per end user, per device, per IP,
 * counted all-or-none in one limiter call, so N parallel requests over a limit of L admit exactly L.
 */
const LIMITS = { per_key: 30, per_user: 5, per_device: 4, per_client_ip: 12 };

const apps = new Map<string, Promise<Api>>();
const prefixes: string[] = [];
afterAll(async () => {
  for (const app of apps.values()) await (await app).close();
  if (!testRedisUrl || prefixes.length === 0) return;
  const admin = await connectTestRedis();
  for (const prefix of prefixes) await deletePrefix(admin, prefix);
  await admin.quit();
});

/** An app over the shared test database with small client limits, counting in-process or in Redis. */
function limitedApp(store: 'memory' | 'redis'): Promise<Api> {
  let app = apps.get(store);
  if (!app) {
    app = (async () => {
      const { database } = await testApp();
      const prefix = uniquePrefix('client');
      prefixes.push(prefix);
      const overrides: Record<string, unknown> = { 'log.level': 'silent', 'auth.key_cache_seconds': 0, 'data.redis.key_prefix': prefix };
      if (store === 'redis') overrides['data.redis.addr'] = testRedisUrl;
      for (const [name, limit] of Object.entries(LIMITS)) overrides[`rate_limits.client.${name}.limit`] = limit;
      const config = loadConfig({ env: {}, file: null, overrides });
      const api = await buildApp({ config, database, masterKeyHash: hashSecret(TEST_MASTER_KEY), logger: false, ...(store === 'memory' ? { redis: null } : {}) });
      await api.ready();
      return api;
    })();
    apps.set(store, app);
  }
  return app;
}

async function clientKey(t: TenantFixture) {
  const pk = must(await t.call('POST', `/v1/apps/${t.productCode}/publishable-keys`, { allowed_origins: [] }, { key: t.admin }), 201).body.key as string;
  const hs = must(await t.call('POST', `/v1/apps/${t.productCode}/user-token-keys`, { alg: 'HS256' }, { key: t.admin }), 201).body;
  return { pk, signer: { kid: hs.kid as string, secret: hs.secret as string } };
}

async function fire(api: Api, n: number, request: (i: number) => Promise<{ url: string; headers: Record<string, string>; remoteAddress: string }>) {
  const built = await Promise.all(Array.from({ length: n }, (_, i) => request(i)));
  const replies = await Promise.all(built.map((r) => api.inject({ method: 'GET', url: r.url, headers: r.headers, remoteAddress: r.remoteAddress })));
  const ok = replies.filter((r) => r.statusCode === 200).length;
  const limited = replies.filter((r) => r.statusCode === 429);
  const rules = new Set(limited.map((r) => JSON.parse(r.body).error.details.rule as string));
  return { ok, limited: limited.length, rules, retryAfter: limited[0]?.headers['retry-after'], other: replies.filter((r) => r.statusCode !== 200 && r.statusCode !== 429).map((r) => r.body) };
}

for (const store of ['memory', 'redis'] as const) {
describe.skipIf(store === 'redis' && !testRedisUrl)(`client rate limits (${store})${store === 'redis' ? redisSkipNote : ''}`, () => {
  it('per user: 200 parallel requests of one user, exactly 5 answered, the rest 429 with Retry-After', async () => {
    const [api, { newTenant }] = [await limitedApp(store), await testApp()];
    const c = await clientKey(await newTenant());
    const token = await mintUserToken(c.signer, 'u1');
    const r = await fire(api, 200, async () => ({ url: '/v1/users/u1/balances', headers: { 'x-publishable-key': c.pk, authorization: `Bearer ${token}` }, remoteAddress: '198.51.100.1' }));
    expect(r).toMatchObject({ ok: 5, limited: 195, other: [] });
    expect([...r.rules]).toEqual(['user']);
    expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      // Counted where the store says (a Redis failure would have fallen back to memory).
      expect(api.services.limiter.backend()).toBe(store);
  });

  it('per device: 20 users on one device, exactly 4', async () => {
    const [api, { newTenant }] = [await limitedApp(store), await testApp()];
    const c = await clientKey(await newTenant());
    const r = await fire(api, 20, async (i) => ({
      url: `/v1/users/d${i}/balances`,
      headers: { 'x-publishable-key': c.pk, authorization: `Bearer ${await mintUserToken(c.signer, `d${i}`)}`, 'x-device-id': 'device-1' },
      remoteAddress: '198.51.100.2',
    }));
    expect(r).toMatchObject({ ok: 4, limited: 16, other: [] });
    expect([...r.rules]).toEqual(['device']);
  });

  it('per IP: 30 users from one address, exactly 12; forged tokens are counted too', async () => {
    const [api, { newTenant }] = [await limitedApp(store), await testApp()];
    const c = await clientKey(await newTenant());
    const r = await fire(api, 30, async (i) => ({
      url: `/v1/users/i${i}/balances`,
      headers: { 'x-publishable-key': c.pk, authorization: `Bearer ${await mintUserToken(c.signer, `i${i}`)}` },
      remoteAddress: '198.51.100.3',
    }));
    expect(r).toMatchObject({ ok: 12, limited: 18, other: [] });
    expect([...r.rules]).toEqual(['client_ip']);
    // From a fresh address: forged tokens are refused, and after 12 of them the address is limited.
    const forged = await mintUserToken({ kid: c.signer.kid, secret: 'f'.repeat(43) }, 'x');
    const replies = await Promise.all(Array.from({ length: 20 }, () => api.inject({ method: 'GET', url: '/v1/users/x/balances', headers: { 'x-publishable-key': c.pk, authorization: `Bearer ${forged}` }, remoteAddress: '198.51.100.4' })));
    expect(replies.filter((x) => x.statusCode === 401).length).toBe(12);
    expect(replies.filter((x) => x.statusCode === 429).length).toBe(8);
  });

  it('per key: 60 users from 60 addresses, exactly 30', async () => {
    const [api, { newTenant }] = [await limitedApp(store), await testApp()];
    const c = await clientKey(await newTenant());
    const r = await fire(api, 60, async (i) => ({
      url: `/v1/users/k${i}/balances`,
      headers: { 'x-publishable-key': c.pk, authorization: `Bearer ${await mintUserToken(c.signer, `k${i}`)}` },
      remoteAddress: `198.51.101.${i + 1}`,
    }));
    expect(r).toMatchObject({ ok: 30, limited: 30, other: [] });
    expect([...r.rules]).toEqual(['publishable_key']);
  });
});
}
