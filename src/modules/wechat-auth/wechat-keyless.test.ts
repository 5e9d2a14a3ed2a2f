import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mirrorApp } from '../../../test/helpers/mirror-app.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import type { Api } from '../../platform/http/types.js';
import { referralCampaign } from '../referrals/testing/referral-fixtures.js';
import { startWechatPeer, type WechatPeer } from './testing/wechat-peer.js';

let peer: WechatPeer;
let app: Api;
const wxId = () => `wx${randomBytes(8).toString('hex')}`;

beforeAll(async () => {
  peer = await startWechatPeer();
  // A second app over the test database (another process): without its page cache, the settings
  // changed through the test app are seen at once (with it, after referrals.page_cache_ms).
  app = (await mirrorApp({ overrides: { 'wechat.api_base_url': peer.url, 'wechat.timeout_ms': 400, 'referrals.page_cache_ms': 0 } })).api;
});
afterAll(async () => {
  await app.services.close();
  await app.close();
  await peer.close();
});

async function post(url: string, body: unknown, key?: string) {
  const res = await app.inject({ method: 'POST', url, remoteAddress: '198.51.100.77', headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, payload: JSON.stringify(body) });
  return { status: res.statusCode, body: JSON.parse(res.body) };
}

describe('keyless WeChat sign-in from a published campaign page', () => {
  it("resolves the tenant's app through the campaign's referral settings (wechat_app_id), shown in the public form", async () => {
    const t = await (await testApp()).newTenant();
    const [first, second] = [wxId(), wxId()];
    for (const id of [first, second]) {
      const secret = `secret-${randomBytes(6).toString('hex')}`;
      peer.addApp(id, secret);
      must(await t.call('PUT', `/v1/wechat/apps/${id}`, { secret }, { key: t.admin }), 200);
    }
    const { campaignId, settings } = await referralCampaign(t, { wechat_app_id: second });
    expect(settings.wechat_app_id).toBe(second);
    expect(must(await t.call('GET', `/v1/campaigns/${campaignId}/referral`), 200).body.wechat_app_id).toBe(second);
    const form = must(await (await testApp()).call('GET', `/api/v1/campaigns/${campaignId}/form`, undefined, { key: null }), 200).body;
    expect(form.wechat_app_id).toBe(second);

    const signed = await post('/api/v1/auth/wechat', { code: peer.issueCode(second, 'o_page_user'), campaign_id: campaignId });
    expect(signed.status, JSON.stringify(signed.body)).toBe(200);
    expect(signed.body).toEqual({ openid: 'o_page_user', unionid: null });
    // A code of the tenant's other app is not the campaign's app's: WeChat refuses it.
    const wrongApp = await post('/api/v1/auth/wechat', { code: peer.issueCode(first, 'o_other'), campaign_id: campaignId });
    expect(wrongApp.status).toBe(400);
    expect(wrongApp.body.error.code).toBe('wechat_code_invalid');
    // The caller names neither the app nor the tenant; a campaign is required.
    expect((await post('/api/v1/auth/wechat', { code: 'c1', campaign_id: campaignId, app_id: first })).body.error).toMatchObject({ code: 'invalid_request', details: { field: 'app_id' } });
    expect((await post('/api/v1/auth/wechat', { code: 'c1' })).body.error).toMatchObject({ code: 'invalid_request', details: { field: 'campaign_id' } });
    // Disabled: the same 404 as any unpublished campaign. /v1/auth/wechat still needs a key.
    const { image_url: imageUrl, reward_rule: rule, payment } = settings;
    must(await t.call('PUT', `/v1/campaigns/${campaignId}/referral`, { image_url: imageUrl, reward_rule: rule, payment, wechat_app_id: second, status: 'disabled' }, { key: t.admin }), 200);
    const gone = await post('/api/v1/auth/wechat', { code: peer.issueCode(second, 'o_x'), campaign_id: campaignId });
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('campaign_not_found');
    expect((await post('/v1/auth/wechat', { code: 'c', campaign_id: campaignId })).status).toBe(401);
  });

  it("without wechat_app_id the tenant's only app signs in", async () => {
    const t = await (await testApp()).newTenant();
    const only = wxId();
    const secret = `secret-${randomBytes(6).toString('hex')}`;
    peer.addApp(only, secret);
    must(await t.call('PUT', `/v1/wechat/apps/${only}`, { secret }, { key: t.admin }), 200);
    const { campaignId } = await referralCampaign(t);
    const signed = await post('/api/v1/auth/wechat', { code: peer.issueCode(only, 'o_only', 'u_only'), campaign_id: campaignId });
    expect(signed.body).toEqual({ openid: 'o_only', unionid: 'u_only' });
  });
});
