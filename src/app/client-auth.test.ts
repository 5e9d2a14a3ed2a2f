import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MASTER_KEY, must, testApp, type TenantFixture } from '../../test/helpers/test-app.js';
import { loadConfig } from '../config/load.js';
import { mintUserToken } from '../modules/client-access/testing/client-fixture.js';
import type { Api } from '../platform/http/types.js';
import { hashSecret } from '../platform/secrets.js';
import { buildApp } from './build-app.js';

/**
 * The route opt-in (`config.client`) on test routes: an anonymous-safe route, several user
 * fields, a body filled when absent, a route outside /v1 declared public; the client actor's shape.
 */
let api: Api;
let t: TenantFixture;
let pk: string;
let pkId: string;
let signer: { kid: string; secret: string };

beforeAll(async () => {
  const shared = await testApp();
  const config = loadConfig({ env: {}, file: null, overrides: { 'log.level': 'silent', 'auth.key_cache_seconds': 0 } });
  api = await buildApp({ config, database: shared.database, masterKeyHash: hashSecret(TEST_MASTER_KEY), logger: false, redis: null });
  const answerActor = async (request: { actor: unknown; body?: unknown; query?: unknown }) => ({ actor: request.actor, body: request.body ?? null, query: request.query ?? null });
  api.get('/v1/test/anon', { config: { client: { anonymous: true, user: 'query.user_id' } }, schema: { querystring: Type.Object({ user_id: Type.Optional(Type.String()) }) } }, answerActor);
  api.post(
    '/v1/test/multi',
    { config: { client: { user: ['body.user_id', 'body.friend_id'] } }, schema: { body: Type.Object({ user_id: Type.String(), friend_id: Type.String() }, { additionalProperties: false }) } },
    answerActor,
  );
  api.post('/api/test/public', { config: { auth: 'public', client: { user: 'body.userId' } }, schema: { body: Type.Object({ userId: Type.String() }) } }, answerActor);
  await api.ready();
  t = await shared.newTenant();
  const key = must(await t.call('POST', `/v1/apps/${t.productCode}/publishable-keys`, { allowed_origins: [] }, { key: t.admin }), 201).body;
  [pk, pkId] = [key.key, key.key_id];
  const hs = must(await t.call('POST', `/v1/apps/${t.productCode}/user-token-keys`, { alg: 'HS256' }, { key: t.admin }), 201).body;
  signer = { kid: hs.kid, secret: hs.secret };
});
afterAll(async () => api?.close());

async function send(method: 'GET' | 'POST', url: string, o: { token?: string; body?: unknown; key?: string } = {}) {
  const headers: Record<string, string> = { 'x-publishable-key': o.key ?? pk };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  const res = await api.inject({ method, url, headers, ...(o.body !== undefined ? { payload: JSON.stringify(o.body) } : {}) });
  return { status: res.statusCode, body: JSON.parse(res.body) };
}

describe('client route config', () => {
  it('the client actor: the key tenant, role service, the app only, the token user', async () => {
    const r = await send('GET', '/v1/test/anon', { token: await mintUserToken(signer, 'u1') });
    expect(r.status).toBe(200);
    expect(r.body.actor).toEqual({
      kind: 'tenant',
      tenantId: t.tenantId,
      keyId: pkId,
      role: 'service',
      productCodes: [t.productCode],
      client: { publishableKeyId: pkId, productCode: t.productCode, endUserId: 'u1', deviceId: null },
    });
    expect(r.body.query).toEqual({ user_id: 'u1' });
  });

  it('anonymous-safe: no token passes without a user; naming a user needs a token; a bad token is still refused', async () => {
    const anon = await send('GET', '/v1/test/anon');
    expect(anon.status).toBe(200);
    expect(anon.body.actor.client.endUserId).toBeNull();
    expect(anon.body.query).toEqual({});
    expect((await send('GET', '/v1/test/anon?user_id=u1')).body.error.code).toBe('user_token_required');
    expect((await send('GET', '/v1/test/anon', { token: 'garbage' })).body.error.code).toBe('user_token_invalid');
  });

  it('several user fields: each filled or checked; an absent body is made', async () => {
    const token = await mintUserToken(signer, 'u2');
    expect((await send('POST', '/v1/test/multi', { token, body: {} })).body.body).toEqual({ user_id: 'u2', friend_id: 'u2' });
    expect((await send('POST', '/v1/test/multi', { token })).body.body).toEqual({ user_id: 'u2', friend_id: 'u2' });
    const other = await send('POST', '/v1/test/multi', { token, body: { friend_id: 'u3' } });
    expect([other.status, other.body.error.code, other.body.error.details.field]).toEqual([403, 'user_mismatch', 'body.friend_id']);
    // Not an object: left to validation.
    expect((await send('POST', '/v1/test/multi', { token, body: ['x'] })).body.error.code).toBe('invalid_request');
  });

  it('a public route outside /v1 with config.client authenticates the client; without config.client a public route refuses it', async () => {
    const token = await mintUserToken(signer, 'u4');
    const r = await send('POST', '/api/test/public', { token, body: {} });
    expect([r.status, r.body.body, r.body.actor.client.endUserId]).toEqual([200, { userId: 'u4' }, 'u4']);
    expect((await send('POST', '/api/test/public', { body: {} })).body.error.code).toBe('user_token_required');
    const health = await send('GET', '/health', { token });
    expect([health.status, health.body.error.code]).toEqual([403, 'client_route_not_allowed']);
    // An unknown key is refused before anything else.
    expect((await send('GET', '/health', { token, key: 'pk_unknown_unknown_unknown_unknown' })).body.error.code).toBe('publishable_key_invalid');
  });

  it('server keys call client routes as before', async () => {
    const res = await api.inject({ method: 'POST', url: '/v1/test/multi', headers: { authorization: `Bearer ${t.service}`, 'content-type': 'application/json' }, payload: JSON.stringify({ user_id: 'a', friend_id: 'b' }) });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).actor.client).toBeUndefined();
  });
});
