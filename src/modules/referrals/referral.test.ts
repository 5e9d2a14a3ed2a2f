import { describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { computeReward, normalizePhone } from './index.js';
import { FORM, newPhone, orderBody, referralCampaign, SETTINGS } from './testing/referral-fixtures.js';

const keyless = { key: null };

describe('referral settings', () => {
  it('from nothing to the public form answering through the API in under a minute', async () => {
    const started = Date.now();
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId, settings } = await referralCampaign(t);
    const form = must(await a.call('GET', `/api/v1/campaigns/${campaignId}/form`, undefined, keyless), 200).body;
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(60_000);
    expect(form).toEqual({
      campaign_id: campaignId,
      title: '暑期编程课',
      description: null,
      image_url: SETTINGS.image_url,
      wechat_app_id: null,
      form_fields: FORM,
      amount: 9900,
      currency: 'CNY',
      start_time: '2020-01-01T00:00:00.000Z',
      end_time: '2099-12-31T23:59:59.000Z',
    });
    expect(settings).toMatchObject({ campaign_id: campaignId, reward_rule: { type: 'fixed', amount: 1000 }, payment: { amount: 9900, currency: 'CNY', provider: 'sandbox' }, status: 'enabled', second_level: null, version: 1 });
    expect(settings.page_url).toMatch(new RegExp(`/p/${campaignId}$`));
  });

  it('stores percent rules with a cap and a second level; validates; admin only; 404 for another tenant', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const other = await a.newTenant();
    const { campaignId } = await referralCampaign(t);
    const put = must(
      await t.call('PUT', `/v1/campaigns/${campaignId}/referral`, { ...SETTINGS, reward_rule: { type: 'percent', percent: 12.5, cap: 800 }, second_level: { percent: 2 }, status: 'disabled' }, { key: t.admin }),
      200,
    ).body;
    expect(put).toMatchObject({ reward_rule: { type: 'percent', percent: 12.5, cap: 800 }, second_level: { percent: 2 }, status: 'disabled', version: 2 });
    expect(must(await t.call('GET', `/v1/campaigns/${campaignId}/referral`, undefined, { key: t.readonly }), 200).body).toEqual(put);
    for (const [body, field] of [
      [{ ...SETTINGS, reward_rule: { type: 'percent', percent: 120 } }, 'reward_rule'],
      [{ ...SETTINGS, reward_rule: { type: 'fixed', amount: 10_000 } }, 'reward_rule.amount'],
      [{ ...SETTINGS, payment: { amount: 0, currency: 'CNY', provider: 'sandbox' } }, 'payment'],
      [{ ...SETTINGS, payment: { amount: 100, currency: 'USD', provider: 'sandbox' } }, 'payment'],
      [{ ...SETTINGS, payment: { amount: 100, currency: 'CNY', provider: 'alipay' } }, 'payment'],
      [{ ...SETTINGS, image_url: 'javascript:alert(1)' }, 'image_url'],
    ] as const) {
      const r = await t.call('PUT', `/v1/campaigns/${campaignId}/referral`, body, { key: t.admin });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(String(r.body.error.details.field)).toContain(field);
    }
    expect((await t.call('PUT', `/v1/campaigns/${campaignId}/referral`, SETTINGS, { key: t.service })).status).toBe(403);
    expect((await other.call('GET', `/v1/campaigns/${campaignId}/referral`)).body.error.code).toBe('campaign_not_found');
    expect((await other.call('PUT', `/v1/campaigns/${campaignId}/referral`, SETTINGS, { key: other.admin })).body.error.code).toBe('campaign_not_found');
    expect((await a.call('GET', `/v1/campaigns/${campaignId}/referral`, undefined, keyless)).status).toBe(401);
  });

  it('computes rewards in integer fen, rounded down, capped', () => {
    expect(computeReward('fixed', 1000, null, 9900)).toBe(1000);
    expect(computeReward('percent', 1250, null, 9999)).toBe(1249);
    expect(computeReward('percent', 1250, 800, 9999)).toBe(800);
    expect(computeReward('percent', 1, null, 99)).toBe(0);
    expect(normalizePhone('+86 139-1234-5678')).toBe('13912345678');
    expect(normalizePhone('12912345678')).toBeNull();
  });
});

describe('keyless page routes: walls', () => {
  it('draft, paused, disabled, unknown and settings-less campaigns are the same 404; nothing of the tenant leaks', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t);
    const draft = must(await t.call('POST', '/v1/campaigns', { campaign_name: 'd', campaign_type: 'PROMOTION', product_code: t.productCode, form_fields: FORM }, { key: t.admin }), 201).body.campaign_id;
    must(await t.call('PUT', `/v1/campaigns/${draft}/referral`, SETTINGS, { key: t.admin }), 200);
    const plain = must(await t.call('POST', '/v1/campaigns', { campaign_name: 'p', campaign_type: 'PROMOTION', product_code: t.productCode }, { key: t.admin }), 201).body.campaign_id;
    must(await t.call('POST', `/v1/campaigns/${plain}/publish`, undefined, { key: t.admin }), 200);
    for (const id of [draft, plain, 'cmp_nope']) {
      const r = await a.call('GET', `/api/v1/campaigns/${id}/form`, undefined, keyless);
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('campaign_not_found');
      expect((await a.call('POST', '/api/v1/orders', orderBody(id, newPhone()), keyless)).status).toBe(404);
      expect((await a.call('POST', `/api/v1/campaigns/${id}/views`, {}, keyless)).status).toBe(404);
    }
    // Disabled by the operator: 404 at once in this process, and orders are refused. (Paused: 404
    // once the page cache's entry expires, in referral-page-cache.test.ts.)
    must(await t.call('PUT', `/v1/campaigns/${campaignId}/referral`, { ...SETTINGS, status: 'disabled' }, { key: t.admin }), 200);
    expect((await a.call('GET', `/api/v1/campaigns/${campaignId}/form`, undefined, keyless)).status).toBe(404);
    expect((await a.call('POST', '/api/v1/orders', orderBody(campaignId, newPhone()), keyless)).status).toBe(404);
    must(await t.call('PUT', `/v1/campaigns/${campaignId}/referral`, SETTINGS, { key: t.admin }), 200);
    must(await a.call('GET', `/api/v1/campaigns/${campaignId}/form`, undefined, keyless), 200);
    // A user's rewards and balance are personal: their routes, the document's included, need a tenant key.
    expect((await a.call('GET', '/api/v1/rewards/balance/u1', undefined, keyless)).status).toBe(401);
    expect((await a.call('GET', `/api/v1/rewards/u1?campaign_id=${campaignId}`, undefined, keyless)).status).toBe(401);
    expect((await a.call('GET', '/v1/referrals/rewards/balance/u1', undefined, keyless)).status).toBe(401);
    expect((await a.call('GET', `/v1/campaigns/${campaignId}/funnel`, undefined, keyless)).status).toBe(401);
  });

  it('an order answers only its own status; another tenant never sees the funnel or the rewards of a campaign', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const other = await a.newTenant();
    const { campaignId } = await referralCampaign(t);
    const phone = newPhone();
    const order = must(await a.call('POST', '/api/v1/orders', orderBody(campaignId, phone, { c_id: 'wx', u_id: 'ref-1' }), keyless), 201).body;
    const seen = must(await a.call('GET', `/api/v1/orders/${order.order_id}`, undefined, keyless), 200).body;
    expect(Object.keys(seen).sort()).toEqual(['amount', 'campaign_id', 'created_at', 'currency', 'order_id', 'paid_at', 'pay_status', 'status', 'success_code']);
    expect(JSON.stringify(seen)).not.toContain(phone);
    expect((await a.call('GET', '/api/v1/orders/rfo_nope', undefined, keyless)).body.error.code).toBe('order_not_found');
    expect((await other.call('GET', `/v1/campaigns/${campaignId}/funnel`)).body.error.code).toBe('campaign_not_found');
    const { campaignId: otherCampaign } = await referralCampaign(other);
    // Another tenant's key answers its own tenant: nothing of this campaign's referrer.
    const r = must(await other.call('GET', `/api/v1/rewards/ref-1?campaign_id=${otherCampaign}`), 200).body;
    expect(r.rewards).toEqual([]);
  });
});

describe('orders', () => {
  it('validates the phone and the form on the server; refuses self-referral; 409 already_registered with the first id', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t);
    const phone = newPhone();
    for (const [body, code] of [
      [orderBody(campaignId, '12345'), 'invalid_request'],
      [{ ...orderBody(campaignId, phone), form_data: { phone } }, 'form_invalid'],
      [{ ...orderBody(campaignId, phone), form_data: { name: 'x', phone, age: 'ten' } }, 'form_invalid'],
      [{ ...orderBody(campaignId, phone), form_data: { name: 'x', phone, grade: '大学' } }, 'form_invalid'],
      [{ ...orderBody(campaignId, phone), form_data: { name: 'x', phone, extra: 1 } }, 'form_invalid'],
      [orderBody(campaignId, phone, { u_id: phone }), 'self_referral'],
      [orderBody(campaignId, phone, { u_id: `+86${phone}` }), 'self_referral'],
    ] as const) {
      const r = await a.call('POST', '/api/v1/orders', body, keyless);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe(code);
    }
    const first = must(await a.call('POST', '/api/v1/orders', orderBody(campaignId, phone, { c_id: 'ch1', u_id: 'u-ref' }), keyless), 201).body;
    expect(first).toMatchObject({ campaign_id: campaignId, status: 'pending', pay_status: 'unpaid', amount: 9900, currency: 'CNY', success_code: null, paid_at: null });
    const again = await a.call('POST', '/api/v1/orders', { ...orderBody(campaignId, phone), phone: `+86 ${phone}` }, keyless);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'already_registered', details: { order_id: first.order_id } });
  });

  it('100 parallel sign-ups of one phone give exactly one order; the others 409 with its id', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t);
    const phone = newPhone();
    const replies = await Promise.all(Array.from({ length: 100 }, () => a.call('POST', '/api/v1/orders', orderBody(campaignId, phone), keyless)));
    const created = replies.filter((r) => r.status === 201);
    expect(created).toHaveLength(1);
    const refused = replies.filter((r) => r.status === 409);
    expect(refused).toHaveLength(99);
    for (const r of refused) expect(r.body.error.details.order_id).toBe(created[0]!.body.order_id);
    const funnel = must(await t.call('GET', `/v1/campaigns/${campaignId}/funnel`), 200).body;
    expect(funnel.orders).toBe(1);
  });

  it('counts views by channel and referrer for the funnel (views -> orders -> paid)', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t);
    await Promise.all(Array.from({ length: 20 }, (_, i) => a.call('POST', `/api/v1/campaigns/${campaignId}/views`, i < 15 ? { c_id: 'wx', u_id: 'r1' } : {}, keyless)));
    must(await a.call('POST', `/api/v1/campaigns/${campaignId}/views`, {}, keyless), 204);
    must(await a.call('POST', '/api/v1/orders', orderBody(campaignId, newPhone(), { c_id: 'wx' }), keyless), 201);
    const order = must(await a.call('POST', '/api/v1/orders', orderBody(campaignId, newPhone()), keyless), 201).body;
    must(await a.call('POST', `/api/v1/orders/${order.order_id}/sandbox-pay`, undefined, keyless), 200);
    const funnel = must(await t.call('GET', `/v1/campaigns/${campaignId}/funnel`, undefined, { key: t.readonly }), 200).body;
    expect(funnel).toEqual({
      campaign_id: campaignId,
      views: 21,
      orders: 2,
      paid: 1,
      by_channel: [
        { c_id: 'wx', views: 15, orders: 1, paid: 0 },
        { c_id: null, views: 6, orders: 1, paid: 1 },
      ],
    });
  });
});
