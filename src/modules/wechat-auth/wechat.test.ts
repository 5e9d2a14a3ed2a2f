import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../../../test/helpers/database.js';
import { mirrorApp } from '../../../test/helpers/mirror-app.js';
import { testApp } from '../../../test/helpers/test-app.js';
import { ManualClock } from '../../platform/clock.js';
import type { Api } from '../../platform/http/types.js';
import { createWechatClient } from './wechat.client.js';
import { startWechatPeer, type WechatPeer } from './testing/wechat-peer.js';

let peer: WechatPeer;
let app: Api;
const clock = new ManualClock(new Date());
const uid = () => Math.random().toString(36).slice(2, 10);
const wxId = () => `wx${randomBytes(8).toString('hex')}`;

beforeAll(async () => {
  peer = await startWechatPeer();
  // An app of its own over the shared test database: WeChat is the local peer, time is the manual clock.
  app = (await mirrorApp({ clock, overrides: { 'wechat.api_base_url': peer.url, 'wechat.timeout_ms': 400 } })).api;
});
afterAll(async () => {
  await app.services.close();
  await app.close();
  await peer.close();
});

async function call(method: 'GET' | 'POST' | 'PUT', url: string, key: string, body?: unknown) {
  const res = await app.inject({ method, url, headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { payload: JSON.stringify(body) } : {}) });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined, text: res.body, headers: res.headers };
}

/** A tenant with admin and service keys, and (unless `apps` is 0) one WeChat app known to the peer. */
async function tenant(apps = 1) {
  const { tenantId, admin, service } = await (await testApp()).newTenant();
  const appIds: string[] = [];
  for (let i = 0; i < apps; i++) {
    const appId = wxId();
    const secret = `secret-${uid()}-${uid()}`;
    peer.addApp(appId, secret);
    const put = await call('PUT', `/v1/wechat/apps/${appId}`, admin, { secret, name: 'Mini program' });
    expect(put.status).toBe(200);
    appIds.push(appId);
  }
  return { tenantId, admin, service, appId: appIds[0]!, appIds };
}

describe('WeChat sign-in', () => {
  it('code -> openid and unionid, with and without the phone number, on both paths', async () => {
    const t = await tenant();
    const plain = await call('POST', '/api/v1/auth/wechat', t.service, { code: peer.issueCode(t.appId, 'o_user1') });
    expect(plain.status).toBe(200);
    expect(plain.body).toEqual({ openid: 'o_user1', unionid: null });
    const phoneCode = peer.issuePhoneCode(t.appId, '13800138000');
    const full = await call('POST', '/v1/auth/wechat', t.service, { code: peer.issueCode(t.appId, 'o_user2', 'u_union2'), phone_code: phoneCode, app_id: t.appId });
    expect(full.status).toBe(200);
    expect(full.body).toEqual({ openid: 'o_user2', unionid: 'u_union2', phone_number: '13800138000' });
    expect(full.text).not.toContain('session_key');
  });

  it('maps WeChat errors to stable codes: invalid or used code, rate limit, busy, down, slow, garbage', async () => {
    const t = await tenant();
    const expectError = async (body: Record<string, unknown>, status: number, code: string) => {
      const res = await call('POST', '/api/v1/auth/wechat', t.service, body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error.code, JSON.stringify(body)).toBe(code);
      return res;
    };
    const invalid = await expectError({ code: 'never-issued' }, 400, 'wechat_code_invalid');
    expect(invalid.body.error.details).toMatchObject({ field: 'code', wechat_errcode: 40029 });
    const code = peer.issueCode(t.appId, 'o_once');
    expect((await call('POST', '/api/v1/auth/wechat', t.service, { code })).status).toBe(200);
    expect((await expectError({ code }, 400, 'wechat_code_invalid')).body.error.details.wechat_errcode).toBe(40163);
    const limited = await expectError({ code: 'limited' }, 429, 'wechat_rate_limited');
    expect(limited.headers['retry-after']).toBe('60');
    await expectError({ code: 'busy' }, 503, 'wechat_unavailable');
    await expectError({ code: 'http-500' }, 503, 'wechat_unavailable');
    await expectError({ code: 'garbage' }, 503, 'wechat_unavailable');
    const started = Date.now();
    await expectError({ code: 'slow' }, 503, 'wechat_unavailable');
    expect(Date.now() - started).toBeLessThan(3000);
    // A phone code WeChat does not know, after a good login code.
    const phone = await expectError({ code: peer.issueCode(t.appId, 'o_p'), phone_code: 'p_nope' }, 400, 'wechat_code_invalid');
    expect(phone.body.error.details.field).toBe('phone_code');
  });

  it('refuses a wrong app: unknown, none, several, and a secret WeChat rejects', async () => {
    const none = await tenant(0);
    const res0 = await call('POST', '/api/v1/auth/wechat', none.service, { code: 'x' });
    expect([res0.status, res0.body.error.code]).toEqual([400, 'wechat_app_required']);
    const two = await tenant(2);
    const res2 = await call('POST', '/api/v1/auth/wechat', two.service, { code: 'x' });
    expect([res2.status, res2.body.error.code]).toEqual([400, 'wechat_app_required']);
    const ok = await call('POST', '/api/v1/auth/wechat', two.service, { code: peer.issueCode(two.appIds[1]!, 'o_two'), app_id: two.appIds[1] });
    expect(ok.body.openid).toBe('o_two');
    const unknown = await call('POST', '/api/v1/auth/wechat', two.service, { code: 'x', app_id: 'wx0000000000000000' });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'wechat_app_not_found']);
    // Another tenant's app is not this tenant's.
    const other = await call('POST', '/api/v1/auth/wechat', none.service, { code: 'x', app_id: two.appId });
    expect([other.status, other.body.error.code]).toEqual([404, 'wechat_app_not_found']);
    must200(await call('PUT', `/v1/wechat/apps/${two.appId}`, two.admin, { secret: 'a-wrong-secret' }));
    const rejected = await call('POST', '/api/v1/auth/wechat', two.service, { code: 'x', app_id: two.appId });
    expect([rejected.status, rejected.body.error.code, rejected.body.error.details.wechat_errcode]).toEqual([422, 'wechat_app_rejected', 40125]);
    for (const body of [{}, { code: '' }, { code: 'has space' }, { code: 'x', app_id: 'bad/id' }, { code: 'x', app_id: 'wx1234' }, { code: 'x', app_id: 'WX1234567890ABCDEF' }, { code: 'x', extra: 1 }]) {
      const bad = await call('POST', '/api/v1/auth/wechat', two.service, body);
      expect([bad.status, bad.body.error.code], JSON.stringify(body)).toEqual([400, 'invalid_request']);
    }
  });

  it('caches the access token until it is near expiry, shares one fetch, and takes a new one when WeChat says it is stale', async () => {
    const t = await tenant();
    const signIn = (openid: string) => call('POST', '/api/v1/auth/wechat', t.service, { code: peer.issueCode(t.appId, openid), phone_code: peer.issuePhoneCode(t.appId, '13900000000') });
    const before = peer.tokenCalls;
    const parallel = await Promise.all(Array.from({ length: 8 }, (_, i) => signIn(`o_${i}`)));
    expect(parallel.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(parallel.every((r) => r.body.phone_number === '13900000000')).toBe(true);
    expect(peer.tokenCalls - before).toBe(1);
    expect((await signIn('o_again')).status).toBe(200);
    expect(peer.tokenCalls - before).toBe(1);
    // 7200 s tokens are renewed 5 minutes early: at 1 h 54 min still the same token, at 1 h 56 min a new one.
    clock.advance((7200 - 360) * 1000);
    expect((await signIn('o_late')).status).toBe(200);
    expect(peer.tokenCalls - before).toBe(1);
    clock.advance(120 * 1000);
    expect((await signIn('o_renewed')).status).toBe(200);
    expect(peer.tokenCalls - before).toBe(2);
    // WeChat invalidated the token early (taken again elsewhere): one 40001, a new token, the call succeeds.
    peer.expireTokens();
    const phoneCalls = peer.phoneCalls;
    expect((await signIn('o_stale')).body.phone_number).toBe('13900000000');
    expect(peer.tokenCalls - before).toBe(3);
    expect(peer.phoneCalls - phoneCalls).toBe(2);
  });

  it('keeps the app secret sealed: never answered, not stored in clear; admin keys only', async () => {
    const t = await tenant(0);
    const secret = `very-secret-${uid()}`;
    const sealedId = wxId();
    const put = await call('PUT', `/v1/wechat/apps/${sealedId}`, t.admin, { secret, name: 'Shop' });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ app_id: sealedId, name: 'Shop', secret_set: true });
    const got = await call('GET', `/v1/wechat/apps/${sealedId}`, t.admin);
    expect(got.status).toBe(200);
    for (const text of [put.text, got.text]) expect(text).not.toContain(secret);
    const { rows } = await sql<{ secret_sealed: string }>`select secret_sealed from wechat_app where tenant_id = ${t.tenantId}`.execute((await testDatabase()).db);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.secret_sealed).not.toContain(secret);
    expect(rows[0]!.secret_sealed.startsWith('v1.')).toBe(true);
    expect((await call('GET', `/v1/wechat/apps/${sealedId}`, t.service)).status).toBe(403);
    expect((await call('PUT', `/v1/wechat/apps/${sealedId}`, t.service, { secret })).status).toBe(403);
    expect((await call('GET', '/v1/wechat/apps/wx00000000000000ff', t.admin)).body.error.code).toBe('wechat_app_not_found');
    const other = await tenant(0);
    expect((await call('GET', `/v1/wechat/apps/${sealedId}`, other.admin)).status).toBe(404);
    expect((await call('PUT', `/v1/wechat/apps/${sealedId}`, t.admin, { secret: 'short' })).status).toBe(400);
  });
});

describe('WeChat client', () => {
  it('answers wechat_unavailable when WeChat cannot be reached', async () => {
    const client = createWechatClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1000, clock });
    await expect(client.session({ appId: 'wx', secret: 's' }, 'c')).rejects.toMatchObject({ code: 'wechat_unavailable', kind: 'unavailable' });
    await expect(client.phoneNumber({ appId: 'wx', secret: 's' }, 'p')).rejects.toMatchObject({ code: 'wechat_unavailable' });
  });
});

function must200(res: { status: number; text: string }) {
  if (res.status !== 200) throw new Error(`expected 200, got ${res.status}: ${res.text}`);
}
