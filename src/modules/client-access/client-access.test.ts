import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { expectError, newBatch } from '../../../test/helpers/redeem-code-helpers.js';
import { must, type Reply, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';
import { activityBody } from '../group-buys/testing/group-buy-fixture.js';
import { ed25519Pair, mintUserToken } from './testing/client-fixture.js';

const ORIGIN = 'https://shop.example.test';
const uid = () => randomBytes(5).toString('hex');

/** A tenant's app with a publishable key (ORIGIN allowed) and an HS256 token key. */
async function clientOf(t: TenantFixture, origins: string[] = [ORIGIN]) {
  const pk = must(await t.call('POST', `/v1/apps/${t.productCode}/publishable-keys`, { name: 'web', allowed_origins: origins }, { key: t.admin }), 201).body;
  const hs = must(await t.call('POST', `/v1/apps/${t.productCode}/user-token-keys`, { alg: 'HS256' }, { key: t.admin }), 201).body;
  const signer = { kid: hs.kid as string, secret: hs.secret as string };
  const call = (method: 'GET' | 'POST' | 'DELETE' | 'PUT', url: string, body: unknown, o: { token?: string | null; headers?: Record<string, string> } = {}): Promise<Reply> =>
    t.call(method, url, body, { key: o.token ?? null, headers: { 'x-publishable-key': pk.key as string, ...o.headers } });
  return { pk, signer, call, token: (sub: string, o?: Parameters<typeof mintUserToken>[2]) => mintUserToken(signer, sub, o) };
}

describe('publishable keys', () => {
  it('are created per app with normalised origins, listed without the key, refused when unknown or revoked', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const created = must(
      await t.call('POST', `/v1/apps/${t.productCode}/publishable-keys`, { allowed_origins: ['https://Shop.Example.test:443', 'http://localhost:5173'] }, { key: t.admin }),
      201,
    ).body;
    expect(created.key).toMatch(/^pk_[A-Za-z0-9_-]{32}$/);
    expect(created.allowed_origins).toEqual(['https://shop.example.test', 'http://localhost:5173']);
    expect(created.product_code).toBe(t.productCode);
    const list = must(await t.call('GET', `/v1/apps/${t.productCode}/publishable-keys`, undefined, { key: t.admin }), 200).body;
    expect(list.publishable_keys).toHaveLength(1);
    expect(JSON.stringify(list)).not.toContain(created.key);

    expectError(await t.call('POST', `/v1/apps/${t.productCode}/publishable-keys`, { allowed_origins: ['https://a.test/path'] }, { key: t.admin }), 400, 'invalid_request');
    expectError(await t.call('POST', `/v1/apps/${t.productCode}/publishable-keys`, { allowed_origins: [] }), 403, 'insufficient_role');
    expectError(await t.call('POST', '/v1/apps/nope/publishable-keys', { allowed_origins: [] }, { key: t.admin }), 404, 'app_not_found');

    const c = await clientOf(t);
    const token = await c.token('u1');
    must(await c.call('GET', '/v1/users/u1/balances', undefined, { token }), 200);
    expectError(await t.call('GET', '/v1/users/u1/balances', undefined, { key: token, headers: { 'x-publishable-key': 'pk_unknown0123456789abcdefghij' } }), 401, 'publishable_key_invalid');
    const revoked = must(await t.call('DELETE', `/v1/apps/${t.productCode}/publishable-keys/${c.pk.key_id}`, undefined, { key: t.admin }), 200).body;
    expect(revoked.revoked_at).not.toBeNull();
    expectError(await c.call('GET', '/v1/users/u1/balances', undefined, { token }), 401, 'publishable_key_invalid');
    expectError(await t.call('DELETE', `/v1/apps/${t.productCode}/publishable-keys/pkid_nope`, undefined, { key: t.admin }), 404, 'publishable_key_not_found');
  });

  it('another tenant cannot see or revoke them, and its clients reach nothing of this tenant', async () => {
    const app = await testApp();
    const [t, other] = [await app.newTenant(), await app.newTenant()];
    const c = await clientOf(t);
    expectError(await other.call('DELETE', `/v1/apps/${t.productCode}/publishable-keys/${c.pk.key_id}`, undefined, { key: other.admin }), 404, 'publishable_key_not_found');
    expect(must(await other.call('GET', `/v1/apps/${other.productCode}/publishable-keys`, undefined, { key: other.admin }), 200).body.publishable_keys).toEqual([]);
    expect(must(await other.call('GET', `/v1/apps/${other.productCode}/user-token-keys`, undefined, { key: other.admin }), 200).body.user_token_keys).toEqual([]);

    // A client of the other tenant reaches none of this tenant's resources through the client routes.
    const o = await clientOf(other);
    const token = await o.token('mallory');
    const templateId = must(await t.call('POST', '/v1/coupons/templates', { name: 'C', coupon_type: 'discount', value: 100 }, { key: t.admin }), 201).body.template_id;
    expectError(await o.call('POST', `/v1/coupons/templates/${templateId}/claim`, {}, { token }), 404, 'coupon_template_not_found');
    const { batch } = await newBatch(t, { count: 1 });
    expect((await o.call('POST', '/v1/redeem', { code: batch.codes[0] }, { token })).status).toBe(404);
    // A token signed with this tenant's key is not a token of the other tenant's app.
    expectError(await o.call('GET', '/v1/users/u1/balances', undefined, { token: await c.token('u1') }), 401, 'user_token_invalid', { reason: 'unknown_kid' });
  });
});

describe('end-user tokens', () => {
  it('HS256: valid, forged, wrong kid, expired, too long, no exp, wrong product, revoked key', async () => {
    const app = await testApp();
    const t = await app.newTenant({ productCodes: ['app1', 'app2'] });
    const c = await clientOf(t);
    const get = (token: string | null) => c.call('GET', '/v1/users/u1/balances', undefined, { token });
    must(await get(await c.token('u1')), 200);
    const tokens = must(await t.call('GET', `/v1/apps/${t.productCode}/user-token-keys`, undefined, { key: t.admin }), 200).body;
    expect(JSON.stringify(tokens)).not.toContain(c.signer.secret);

    expectError(await get(null), 401, 'user_token_required');
    expectError(await get(await mintUserToken({ kid: c.signer.kid, secret: 'x'.repeat(43) }, 'u1')), 401, 'user_token_invalid', { reason: 'signature' });
    expectError(await get(await mintUserToken({ kid: 'kid_unknown', secret: c.signer.secret }, 'u1')), 401, 'user_token_invalid', { reason: 'unknown_kid' });
    const hourAgo = Math.floor(Date.now() / 1000) - 3600;
    expectError(await get(await c.token('u1', { issuedAt: hourAgo, expiresInSeconds: 600 })), 401, 'user_token_expired');
    expectError(await get(await c.token('u1', { expiresInSeconds: 25 * 3600 })), 401, 'user_token_invalid', { reason: 'lifetime_too_long' });
    must(await get(await c.token('u1', { expiresInSeconds: 24 * 3600 })), 200);
    expectError(await get(await c.token('u1', { noExp: true })), 401, 'user_token_invalid');
    expectError(await get(await c.token('u1', { productCodes: ['app2'] })), 403, 'product_not_allowed');
    must(await get(await c.token('u1', { productCodes: ['app2', 'app1'] })), 200);
    expectError(await get('not-a-jwt'), 401, 'user_token_invalid', { reason: 'malformed' });
    // An API key in Authorization is read as a user token, never as an API key.
    expectError(await get(t.admin), 401, 'user_token_invalid');

    // A key of another app of the same tenant does not verify this app's tokens.
    const other = must(await t.call('POST', '/v1/apps/app2/user-token-keys', { alg: 'HS256' }, { key: t.admin }), 201).body;
    expectError(await get(await mintUserToken({ kid: other.kid, secret: other.secret }, 'u1')), 401, 'user_token_invalid', { reason: 'unknown_kid' });

    must(await t.call('DELETE', `/v1/apps/${t.productCode}/user-token-keys/${c.signer.kid}`, undefined, { key: t.admin }), 200);
    expectError(await get(await c.token('u1')), 401, 'user_token_invalid', { reason: 'unknown_kid' });
  });

  it('EdDSA: the public key verifies, another key or the wrong alg does not', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const c = await clientOf(t);
    const pair = ed25519Pair();
    const ed = must(await t.call('POST', `/v1/apps/${t.productCode}/user-token-keys`, { alg: 'EdDSA', public_key: pair.publicKeyPem }, { key: t.admin }), 201).body;
    expect(ed.secret).toBeUndefined();
    expect(ed.public_key).toContain('BEGIN PUBLIC KEY');
    const get = (token: string) => c.call('GET', '/v1/users/u1/balances', undefined, { token });
    must(await get(await mintUserToken({ kid: ed.kid, privateKey: pair.privateKey }, 'u1')), 200);
    expectError(await get(await mintUserToken({ kid: ed.kid, privateKey: ed25519Pair().privateKey }, 'u1')), 401, 'user_token_invalid', { reason: 'signature' });
    // An HS256 token naming the EdDSA key (the public key as an HMAC secret: the classic confusion).
    expectError(await get(await mintUserToken({ kid: ed.kid, secret: pair.publicKeyPem }, 'u1')), 401, 'user_token_invalid', { reason: 'wrong_alg' });
    expectError(await get(await mintUserToken({ kid: c.signer.kid, privateKey: pair.privateKey }, 'u1')), 401, 'user_token_invalid', { reason: 'wrong_alg' });

    expectError(await t.call('POST', `/v1/apps/${t.productCode}/user-token-keys`, { alg: 'EdDSA' }, { key: t.admin }), 400, 'invalid_request');
    expectError(await t.call('POST', `/v1/apps/${t.productCode}/user-token-keys`, { alg: 'EdDSA', public_key: `-----BEGIN PUBLIC KEY-----\n${'A'.repeat(60)}\n-----END PUBLIC KEY-----` }, { key: t.admin }), 400, 'invalid_request');
    expectError(await t.call('POST', `/v1/apps/${t.productCode}/user-token-keys`, { alg: 'HS256', public_key: pair.publicKeyPem }, { key: t.admin }), 400, 'invalid_request');
  });
});

describe('client routes', () => {
  it('redeem a code for the token user: user filled, another user refused, client_ip is the request address', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const c = await clientOf(t);
    const { batch } = await newBatch(t, { count: 4 });
    const token = await c.token('alice');
    // The document's path: userId filled from the token, the device recorded.
    const doc = must(await c.call('POST', '/api/redeem', { code: batch.codes[3] }, { token, headers: { 'x-device-id': 'dev-9' } }), 201).body;
    expect(doc.redemption).toMatchObject({ user_id: 'alice', device_id: 'dev-9', product_code: t.productCode });
    expectError(await c.call('POST', '/api/redeem', { code: batch.codes[3], userId: 'bob' }, { token }), 403, 'user_mismatch', { field: 'body.userId' });
    expectError(await c.call('POST', '/v1/redeem', { code: batch.codes[0], user_id: 'bob' }, { token }), 403, 'user_mismatch', { field: 'body.user_id' });
    const done = must(await c.call('POST', '/v1/redeem', { code: batch.codes[0], client_ip: '203.0.113.9' }, { token }), 201).body;
    expect(done.redemption.user_id).toBe('alice');
    expect(done.redemption.product_code).toBe(t.productCode);
    expect(done.redemption.client_ip).toBe('127.0.0.1');
    must(await c.call('POST', '/v1/redeem', { code: batch.codes[1], user_id: 'alice' }, { token }), 201);
    expectError(await c.call('POST', '/v1/redeem', { code: batch.codes[2] }, { token, headers: { 'x-product-code': 'other' } }), 403, 'product_not_allowed');
    expectError(await c.call('POST', '/v1/redeem', { code: batch.codes[2] }, { token: null }), 401, 'user_token_required');
    const zh = await c.call('POST', '/v1/redeem', { code: batch.codes[2] }, { token: null, headers: { 'accept-language': 'zh-CN' } });
    expectError(zh, 401, 'user_token_required');
    expect(zh.body.error.message).toMatch(/用户令牌/);

    expectError(await c.call('GET', '/v1/users/bob/balances', undefined, { token }), 403, 'user_mismatch');
    expectError(await c.call('GET', '/v1/users/bob/ledger', undefined, { token }), 403, 'user_mismatch');
    const balances = must(await c.call('GET', '/v1/users/alice/balances', undefined, { token }), 200).body;
    expect(balances.balances.find((b: { asset: string }) => b.asset === 'POINTS').balance).toBe(30);
    must(await c.call('GET', '/v1/coupons', undefined, { token }), 200);
    expectError(await c.call('GET', '/v1/coupons?user_id=bob', undefined, { token }), 403, 'user_mismatch', { field: 'query.user_id' });
    must(await c.call('GET', '/v1/users/alice/tasks', undefined, { token }), 200);
  });

  it('claims a coupon and joins a group-buy as the token user', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const c = await clientOf(t);
    const templateId = must(await t.call('POST', '/v1/coupons/templates', { name: 'C', coupon_type: 'discount', value: 100 }, { key: t.admin }), 201).body.template_id;
    const coupon = must(await c.call('POST', `/v1/coupons/templates/${templateId}/claim`, {}, { token: await c.token('carol') }), 201).body;
    expect(coupon.user_id).toBe('carol');
    const available = must(await c.call('GET', '/v1/coupons/available', undefined, { token: await c.token('carol') }), 200).body;
    expect(available.usable.map((u: { coupon: { coupon_id: string } }) => u.coupon.coupon_id)).toEqual([coupon.coupon_id]);
    const quote = await c.call('POST', '/v1/checkout/quote', { cart: { lines: [{ item_id: 'sku', unit_price: 1000, quantity: 1 }] } }, { token: await c.token('carol') });
    must(quote, 200);

    const activityId = must(await t.call('POST', '/v1/group-buys/activities', activityBody(), { key: t.admin }), 201).body.activity_id;
    const group = must(await c.call('POST', `/v1/group-buys/activities/${activityId}/groups`, {}, { token: await c.token('carol') }), 201).body;
    expect(group.leader_user_id).toBe('carol');
    expectError(await c.call('POST', `/v1/group-buys/groups/${group.group_id}/join`, { user_id: 'erin' }, { token: await c.token('dave') }), 403, 'user_mismatch');
    const joined = must(await c.call('POST', `/marketing/group-buy/${group.group_id}/join`, {}, { token: await c.token('dave') }), 200).body;
    expect(joined.members.map((m: { user_id: string }) => m.user_id).sort()).toEqual(['carol', 'dave']);
  });

  it('a publishable key on a server-only route: 403 client_route_not_allowed on every operation not marked client', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const c = await clientOf(t);
    const token = await c.token('u1');
    const spec = must(await app.call('GET', '/openapi.json'), 200).body as { paths: Record<string, Record<string, unknown>> };
    const client = new Set(
      [
        'POST /v1/redeem', 'POST /v1/reward-grants/check', 'GET /v1/users/{user_id}/tasks', 'GET /v1/users/{user_id}/balances', 'GET /v1/users/{user_id}/ledger',
        'GET /v1/coupons', 'GET /v1/coupons/available', 'POST /v1/coupons/available', 'POST /v1/coupons/templates/{coupon_template_id}/claim', 'POST /v1/checkout/quote',
        'POST /v1/group-buys/groups/{group_id}/join', 'POST /v1/group-buys/activities/{activity_id}/groups', 'POST /marketing/group-buy', 'POST /marketing/group-buy/{group_id}/join',
        'GET /marketing/coupons/available', 'POST /api/redeem',
      ],
    );
    let refused = 0;
    const failures: string[] = [];
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const method of Object.keys(methods)) {
        const op = `${method.toUpperCase()} ${path}`;
        if (client.has(op) || method === 'options') continue;
        const url = path.replace(/\{[A-Za-z_]+\}/g, 'x1');
        const reply = await c.call(method.toUpperCase() as 'GET', url, method === 'get' || method === 'delete' ? undefined : {}, { token });
        if (reply.status !== 403 || reply.body?.error?.code !== 'client_route_not_allowed') failures.push(`${op}: ${reply.status} ${JSON.stringify(reply.body).slice(0, 120)}`);
        else refused += 1;
      }
    }
    expect(failures).toEqual([]);
    expect(refused).toBeGreaterThan(150);
  });

  it('CORS: preflight for registered origins, the sending key decides, no Origin passes', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const origin = `https://${uid()}.example.test`;
    const c = await clientOf(t, [origin]);
    const narrow = must(await t.call('POST', `/v1/apps/${t.productCode}/publishable-keys`, { allowed_origins: [] }, { key: t.admin }), 201).body.key as string;
    const token = await c.token('u1');

    const preflight = await app.app.inject({ method: 'OPTIONS', url: '/v1/redeem', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-publishable-key, authorization, content-type' } });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(origin);
    expect(String(preflight.headers['access-control-allow-headers'])).toContain('x-publishable-key');
    const stranger = await app.app.inject({ method: 'OPTIONS', url: '/v1/redeem', headers: { origin: `https://${uid()}.evil.test`, 'access-control-request-method': 'POST' } });
    expect(stranger.statusCode).toBe(403);
    expect(stranger.headers['access-control-allow-origin']).toBeUndefined();
    expect(JSON.parse(stranger.body).error.code).toBe('origin_not_allowed');

    const ok = await c.call('GET', '/v1/users/u1/balances', undefined, { token, headers: { origin } });
    must(ok, 200);
    expect(ok.headers['access-control-allow-origin']).toBe(origin);
    // A refusal with an allowed origin is readable by the page.
    const mismatch = await c.call('GET', '/v1/users/u2/balances', undefined, { token, headers: { origin } });
    expectError(mismatch, 403, 'user_mismatch');
    expect(mismatch.headers['access-control-allow-origin']).toBe(origin);
    // The narrow key allows no origin: from a page it is refused, without the header.
    const refused = await t.call('GET', '/v1/users/u1/balances', undefined, { key: token, headers: { 'x-publishable-key': narrow, origin } });
    expectError(refused, 403, 'origin_not_allowed');
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    // No Origin (a native app): passes.
    must(await t.call('GET', '/v1/users/u1/balances', undefined, { key: token, headers: { 'x-publishable-key': narrow } }), 200);
    // Server calls (no publishable key) get no CORS headers.
    const server = await t.call('GET', '/v1/users/u1/balances', undefined, { headers: { origin } });
    expect(server.headers['access-control-allow-origin']).toBeUndefined();
    // A revoked key's origins no longer pass preflight.
    must(await t.call('DELETE', `/v1/apps/${t.productCode}/publishable-keys/${c.pk.key_id}`, undefined, { key: t.admin }), 200);
    expect((await app.app.inject({ method: 'OPTIONS', url: '/v1/redeem', headers: { origin, 'access-control-request-method': 'POST' } })).statusCode).toBe(403);
    // An OPTIONS that is not a preflight is 404 as before.
    expect((await app.app.inject({ method: 'OPTIONS', url: '/v1/redeem' })).statusCode).toBe(404);
  });

  it('X-Device-Id must be printable', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const c = await clientOf(t);
    expectError(await c.call('GET', '/v1/users/u1/balances', undefined, { token: await c.token('u1'), headers: { 'x-device-id': 'x'.repeat(200) } }), 400, 'invalid_request');
  });
});
