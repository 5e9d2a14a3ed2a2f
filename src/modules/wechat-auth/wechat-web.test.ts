import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorApp } from '../../../test/helpers/mirror-app.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import type { Api } from '../../platform/http/types.js';
import { referralCampaign } from '../referrals/testing/referral-fixtures.js';
import { startWechatPeer, type WechatPeer } from './testing/wechat-peer.js';

/** Sign-in with an official account's web authorisation code (kind web), against the local WeChat peer. */
let peer: WechatPeer;
let app: Api;
const wxId = () => `wx${randomBytes(8).toString('hex')}`;

beforeAll(async () => {
  peer = await startWechatPeer();
  app = (await mirrorApp({ overrides: { 'wechat.api_base_url': peer.url, 'wechat.timeout_ms': 400 } })).api;
});
afterAll(async () => {
  await app.services.close();
  await app.close();
  await peer.close();
});

async function post(url: string, body: unknown, key?: string) {
  const res = await app.inject({ method: 'POST', url, remoteAddress: '198.51.100.78', headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, payload: JSON.stringify(body) });
  return { status: res.statusCode, body: JSON.parse(res.body) };
}

async function tenantWithApps(count: number) {
  const t = await (await testApp()).newTenant();
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = wxId();
    const secret = `secret-${randomBytes(6).toString('hex')}`;
    peer.addApp(id, secret);
    must(await t.call('PUT', `/v1/wechat/apps/${id}`, { secret }, { key: t.admin }), 200);
    ids.push(id);
  }
  return { t, ids };
}

describe('WeChat web authorisation (kind web)', () => {
  it('with a key: a good code -> openid (and unionid); used, unknown or mini-program codes are 400 wechat_code_invalid', async () => {
    const { t, ids } = await tenantWithApps(1);
    const appId = ids[0]!;
    const calls = peer.webSessionCalls;
    const code = peer.issueWebCode(appId, 'o_web_1', 'u_web_1');
    const signed = await post('/v1/auth/wechat', { code, kind: 'web' }, t.service);
    expect(signed.status, JSON.stringify(signed.body)).toBe(200);
    expect(signed.body).toEqual({ openid: 'o_web_1', unionid: 'u_web_1' });
    expect(peer.webSessionCalls).toBe(calls + 1);

    const reused = await post('/v1/auth/wechat', { code, kind: 'web' }, t.service);
    expect(reused.status).toBe(400);
    expect(reused.body.error).toMatchObject({ code: 'wechat_code_invalid', details: { field: 'code', wechat_errcode: 40163 } });
    const unknown = await post('/v1/auth/wechat', { code: 'w_nope', kind: 'web' }, t.service);
    expect(unknown.body.error).toMatchObject({ code: 'wechat_code_invalid', details: { wechat_errcode: 40029 } });
    // A wx.login code is not a web code, nor the other way round; the default stays the mini-program.
    expect((await post('/v1/auth/wechat', { code: peer.issueCode(appId, 'o_mini'), kind: 'web' }, t.service)).body.error.code).toBe('wechat_code_invalid');
    expect((await post('/v1/auth/wechat', { code: peer.issueWebCode(appId, 'o_w') }, t.service)).body.error.code).toBe('wechat_code_invalid');
    const mini = await post('/v1/auth/wechat', { code: peer.issueCode(appId, 'o_mini2'), kind: 'mini_program' }, t.service);
    expect(mini.body).toEqual({ openid: 'o_mini2', unionid: null });
    // No phone code on the web; an unknown kind is refused by the schema.
    const phone = await post('/v1/auth/wechat', { code: peer.issueWebCode(appId, 'o_w2'), kind: 'web', phone_code: 'p_1' }, t.service);
    expect(phone.status).toBe(400);
    expect(phone.body.error).toMatchObject({ code: 'invalid_request', details: { field: 'phone_code' } });
    expect((await post('/v1/auth/wechat', { code: 'x', kind: 'app' }, t.service)).status).toBe(400);
    // WeChat busy: 503 wechat_unavailable.
    const busy = await post('/v1/auth/wechat', { code: 'busy', kind: 'web' }, t.service);
    expect(busy.status).toBe(503);
    expect(busy.body.error.code).toBe('wechat_unavailable');
  });

  it("a wrong AppSecret is 422 wechat_app_rejected", async () => {
    const t = await (await testApp()).newTenant();
    const id = wxId();
    peer.addApp(id, 'the-right-secret');
    must(await t.call('PUT', `/v1/wechat/apps/${id}`, { secret: 'a-wrong-secret' }, { key: t.admin }), 200);
    const refused = await post('/v1/auth/wechat', { code: peer.issueWebCode(id, 'o_x'), kind: 'web' }, t.service);
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: 'wechat_app_rejected', details: { wechat_errcode: 40125 } });
  });

  it("without a key: the campaign's app (wechat_app_id) exchanges the code, never one the caller names", async () => {
    const { t, ids } = await tenantWithApps(2);
    const [first, second] = ids as [string, string];
    const { campaignId } = await referralCampaign(t, { wechat_app_id: second });
    const signed = await post('/api/v1/auth/wechat', { code: peer.issueWebCode(second, 'o_page_web'), campaign_id: campaignId, kind: 'web' });
    expect(signed.status, JSON.stringify(signed.body)).toBe(200);
    expect(signed.body).toEqual({ openid: 'o_page_web', unionid: null });
    // The tenant's other app's code: WeChat refuses it for the campaign's app.
    const wrongApp = await post('/api/v1/auth/wechat', { code: peer.issueWebCode(first, 'o_other'), campaign_id: campaignId, kind: 'web' });
    expect(wrongApp.status).toBe(400);
    expect(wrongApp.body.error.code).toBe('wechat_code_invalid');
    expect((await post('/api/v1/auth/wechat', { code: 'w1', campaign_id: campaignId, app_id: first, kind: 'web' })).body.error).toMatchObject({ code: 'invalid_request', details: { field: 'app_id' } });
    expect((await post('/api/v1/auth/wechat', { code: 'w1', kind: 'web' })).body.error).toMatchObject({ code: 'invalid_request', details: { field: 'campaign_id' } });
    const unknown = await post('/api/v1/auth/wechat', { code: peer.issueWebCode(second, 'o_y'), campaign_id: 'no-such-campaign', kind: 'web' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('campaign_not_found');
  });
});
