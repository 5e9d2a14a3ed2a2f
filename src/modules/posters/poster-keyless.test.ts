import jsQRModule from 'jsqr';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { mirrorApp } from '../../../test/helpers/mirror-app.js';
import { newCampaign } from '../../../test/helpers/factories.js';
import { must, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { referralCampaign } from '../referrals/testing/referral-fixtures.js';

const PUBLIC_URL = 'http://localhost:8105';
const jsQR = jsQRModule as unknown as typeof jsQRModule.default;

async function keyless(a: TestApp, body: Record<string, unknown>, ip = '198.51.100.20') {
  const res = await a.app.inject({ method: 'POST', url: '/api/v1/qrcode/generate', remoteAddress: ip, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  return { status: res.statusCode, raw: res.rawPayload, json: () => JSON.parse(res.body) };
}

async function decode(png: Buffer) {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return jsQR(new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength), info.width, info.height)?.data ?? null;
}

async function pixel(png: Buffer, x: number, y: number) {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

describe('the keyless poster of a published referral campaign', () => {
  it('answers the poster with the landing URL and the uploaded main image (/media/, read without the network)', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const red = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#d02020' } }).png().toBuffer();
    const up = await a.app.inject({ method: 'POST', url: '/v1/media', headers: { authorization: `Bearer ${t.admin}`, 'content-type': 'image/png' }, payload: red });
    const mediaUrl = JSON.parse(up.body).url as string;
    const { campaignId } = await referralCampaign(t, { image_url: mediaUrl });
    // The page's form answers the uploaded image's path.
    expect(must(await a.call('GET', `/api/v1/campaigns/${campaignId}/form`, undefined, { key: null }), 200).body.image_url).toBe(mediaUrl);
    const orderId = 'rfo_paid_order_1';
    const res = await keyless(a, { campaign_id: campaignId, user_id: orderId, channel_id: 'poster', user_name: 'Li' });
    expect(res.status).toBe(200);
    expect(await decode(res.raw)).toBe(`${PUBLIC_URL}/p/${campaignId}?u_id=${orderId}&c_id=poster`);
    const [r, g, b] = await pixel(res.raw, 375, 375);
    expect(r).toBeGreaterThan(180);
    expect(g! + b!).toBeLessThan(100);
    // A keyless caller names neither the image nor the title.
    for (const extra of [{ image_url: 'http://169.254.169.254/latest/meta-data' }, { title: 'Free money' }]) {
      const refused = await keyless(a, { campaign_id: campaignId, user_id: orderId, ...extra });
      expect(refused.status).toBe(400);
      expect(refused.json().error.code).toBe('invalid_request');
    }
    // With a key, the same path is the tenant's poster as before (any campaign of the key).
    const keyed = await a.app.inject({ method: 'POST', url: '/api/v1/qrcode/generate', headers: { authorization: `Bearer ${t.readonly}`, 'content-type': 'application/json' }, payload: JSON.stringify({ campaign_id: campaignId, user_id: 'u1' }) });
    expect(keyed.statusCode).toBe(200);
  });

  it('is 404 campaign_not_found for a draft, a disabled, a settings-less or an unknown campaign; a bad key is 401', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const draft = (await newCampaign(t)).campaign_id as string;
    const { campaignId: disabled } = await referralCampaign(t, { status: 'disabled' });
    const unpublished = must(await t.call('POST', '/v1/campaigns', { campaign_name: 'x', campaign_type: 'PROMOTION', product_code: t.productCode }, { key: t.admin }), 201).body.campaign_id as string;
    must(await t.call('PUT', `/v1/campaigns/${unpublished}/referral`, { reward_rule: { type: 'fixed', amount: 1 }, payment: { amount: 100, currency: 'CNY', provider: 'sandbox' } }, { key: t.admin }), 200);
    for (const id of [draft, disabled, unpublished, 'cmp_nope']) {
      const res = await keyless(a, { campaign_id: id, user_id: 'u1' });
      expect(res.status, id).toBe(404);
      expect(res.json().error.code, id).toBe('campaign_not_found');
    }
    const bad = await a.app.inject({ method: 'POST', url: '/api/v1/qrcode/generate', headers: { authorization: 'Bearer nope', 'content-type': 'application/json' }, payload: JSON.stringify({ campaign_id: draft, user_id: 'u1' }) });
    expect(bad.statusCode).toBe(401);
  });

  it('counts against rate_limits.referral_page per IP (429 past it)', async () => {
    const app = (await mirrorApp({ overrides: { 'rate_limits.referral_page.per_client_ip.limit': 2 } })).api;
    try {
      const from = (ip: string) => app.inject({ method: 'POST', url: '/api/v1/qrcode/generate', remoteAddress: ip, headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ campaign_id: 'cmp_nope', user_id: 'u1' }) });
      expect((await from('203.0.113.40')).statusCode).toBe(404);
      expect((await from('203.0.113.40')).statusCode).toBe(404);
      const refused = await from('203.0.113.40');
      expect(refused.statusCode).toBe(429);
      expect(JSON.parse(refused.body).error.code).toBe('rate_limited');
      const signIn = await app.inject({ method: 'POST', url: '/api/v1/auth/wechat', remoteAddress: '203.0.113.40', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ code: 'c', campaign_id: 'cmp_nope' }) });
      expect(signIn.statusCode).toBe(429);
      expect((await from('203.0.113.41')).statusCode).toBe(404);
    } finally {
      await app.services.close();
      await app.close();
    }
  });
});
