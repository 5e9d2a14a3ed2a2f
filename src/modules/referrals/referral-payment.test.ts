import { describe, expect, it } from 'vitest';
import { must, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { newPhone, orderBody, referralCampaign } from './testing/referral-fixtures.js';

const keyless = { key: null };

async function signUp(a: TestApp, campaignId: string, extra: Record<string, unknown> = {}, phone = newPhone()) {
  return must(await a.call('POST', '/api/v1/orders', orderBody(campaignId, phone, extra), keyless), 201).body as { order_id: string };
}

/** Posts a signed callback as the provider would, to the document's path. */
function deliver(a: TestApp, notice: { headers: Record<string, string>; body: string }, path = '/api/v1/orders/payment/callback') {
  return a.app.inject({ method: 'POST', url: path, headers: { ...notice.headers, 'content-type': 'application/json' }, payload: notice.body });
}

/** The document's balance path, with a tenant key (it answers that tenant's user). */
async function balance(t: TenantFixture, _campaignId: string, userId: string) {
  return must(await t.call('GET', `/api/v1/rewards/balance/${userId}`), 200).body;
}

describe('payment and settlement', () => {
  it('pay start answers the sandbox; the sandbox pays; the referrer is credited once through the ledger; records under /api and /v1', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t);
    const referrer = `ref-${newPhone()}`;
    const order = await signUp(a, campaignId, { u_id: referrer, c_id: 'poster' });
    const start = must(await a.call('POST', `/api/v1/orders/${order.order_id}/pay`, { scene: 'h5' }, keyless), 200).body;
    expect(start).toMatchObject({ order_id: order.order_id, provider: 'sandbox', out_trade_no: order.order_id });
    expect(start.sandbox_pay_url).toContain(`/api/v1/orders/${order.order_id}/sandbox-pay`);
    expect(must(await a.call('GET', `/api/v1/orders/${order.order_id}`, undefined, keyless), 200).body.pay_status).toBe('paying');
    const paid = must(await a.call('POST', `/api/v1/orders/${order.order_id}/sandbox-pay`, undefined, keyless), 200).body;
    expect(paid).toMatchObject({ status: 'paid', pay_status: 'paid', success_code: order.order_id.slice(-8).toUpperCase() });
    expect(paid.paid_at).toEqual(expect.any(String));
    expect(await balance(t, campaignId, referrer)).toEqual({ user_id: referrer, balance: 1000, total_reward: 1000, currency: 'CNY' });
    const records = must(await t.call('GET', `/api/v1/rewards/${referrer}?campaign_id=${campaignId}`), 200).body;
    expect(records.rewards).toHaveLength(1);
    expect(records.rewards[0]).toMatchObject({ order_id: order.order_id, campaign_id: campaignId, user_id: referrer, level: 1, amount: 1000, status: 'settled' });
    expect(must(await t.call('GET', `/v1/referrals/rewards/balance/${referrer}`), 200).body.balance).toBe(1000);
    expect(must(await t.call('GET', `/v1/referrals/rewards/${referrer}`), 200).body.pagination.total).toBe(1);
    const ledger = must(await t.call('GET', `/v1/users/${referrer}/ledger`), 200).body;
    expect(ledger.entries).toMatchObject([{ asset: 'BALANCE', amount: 1000, entry_type: 'GRANT', cause_type: 'referral_reward', cause_id: `${order.order_id}:1` }]);
    // The order and its reward were handed to the sync module in the payment transaction.
    const synced = must(await t.call('GET', `/api/v1/sync/status/${order.order_id}`), 200).body;
    expect(JSON.stringify(synced)).toContain('"reward"');
    expect(JSON.stringify(synced)).toContain('"order"');
    // Paid: no second payment, no second sandbox pay.
    expect((await a.call('POST', `/api/v1/orders/${order.order_id}/pay`, {}, keyless)).body.error.code).toBe('order_not_payable');
    expect((await a.call('POST', `/api/v1/orders/${order.order_id}/sandbox-pay`, undefined, keyless)).body.error.code).toBe('order_not_payable');
    // Another tenant's key sees nothing of it.
    const other = await a.newTenant();
    expect(must(await other.call('GET', `/v1/referrals/rewards/balance/${referrer}`), 200).body.balance).toBe(0);
  });

  it('the same signed callback 10 times in parallel pays and rewards once; /notify too', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t, { reward_rule: { type: 'percent', percent: 12.5, cap: 1000 }, payment: { amount: 7999, currency: 'CNY', provider: 'sandbox' } });
    const referrer = `ref-${newPhone()}`;
    const order = await signUp(a, campaignId, { u_id: referrer });
    const notice = a.app.services.referralSandbox.notice(order.order_id, { amount: 7999 });
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => deliver(a, notice, i % 2 ? '/api/v1/orders/payment/notify' : '/api/v1/orders/payment/callback')));
    for (const r of replies) {
      expect(r.statusCode, r.body).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ code: 'SUCCESS' });
    }
    // floor(7999 * 12.5%) = 999, under the cap.
    expect(await balance(t, campaignId, referrer)).toMatchObject({ balance: 999, total_reward: 999 });
    const rows = await a.database.db.selectFrom('referral_reward').selectAll().where('order_id', '=', order.order_id).execute();
    expect(rows).toHaveLength(1);
    const entries = await a.database.db.selectFrom('ledger_entry').select('entry_id').where('tenant_id', '=', t.tenantId).where('user_id', '=', referrer).execute();
    expect(entries).toHaveLength(1);
    const stored = await a.database.db.selectFrom('referral_order').selectAll().where('order_id', '=', order.order_id).executeTakeFirstOrThrow();
    expect(stored).toMatchObject({ status: 'paid', trade_no: notice.notice.trade_no, flagged: false });
    // Replayed later: acknowledged, nothing moves.
    expect((await deliver(a, notice)).statusCode).toBe(200);
    expect((await balance(t, campaignId, referrer)).balance).toBe(999);
  });

  it('caps percent rewards; pays the second level when on; no referrer no reward', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t, { reward_rule: { type: 'percent', percent: 20, cap: 1500 }, second_level: { percent: 5 } });
    const top = `top-${newPhone()}`;
    const midPhone = newPhone();
    const mid = await signUp(a, campaignId, { u_id: top }, midPhone);
    must(await a.call('POST', `/api/v1/orders/${mid.order_id}/sandbox-pay`, undefined, keyless), 200);
    // The mid user shares their poster with u_id = their phone: the top referrer gets the second level.
    const leaf = await signUp(a, campaignId, { u_id: midPhone });
    must(await a.call('POST', `/api/v1/orders/${leaf.order_id}/sandbox-pay`, undefined, keyless), 200);
    const none = await signUp(a, campaignId);
    must(await a.call('POST', `/api/v1/orders/${none.order_id}/sandbox-pay`, undefined, keyless), 200);
    // 20% of 9900 = 1980, capped at 1500; second level 5% of 9900 = 495.
    expect((await balance(t, campaignId, top)).balance).toBe(1500 + 495);
    expect((await balance(t, campaignId, midPhone)).balance).toBe(1500);
    const topRecords = must(await t.call('GET', `/api/v1/rewards/${top}?campaign_id=${campaignId}`), 200).body.rewards;
    expect(topRecords.map((r: { level: number; amount: number }) => [r.level, r.amount]).sort()).toEqual([[1, 1500], [2, 495]]);
    expect(await a.database.db.selectFrom('referral_reward').select('reward_id').where('order_id', '=', none.order_id).execute()).toHaveLength(0);
  });

  it('refuses forged and tampered callbacks, and an amount different from the order (flagged, not paid)', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t);
    const referrer = `ref-${newPhone()}`;
    const order = await signUp(a, campaignId, { u_id: referrer });
    const good = a.app.services.referralSandbox.notice(order.order_id, { amount: 9900 });
    const tampered = await deliver(a, { headers: good.headers, body: good.body.replace(/"ciphertext":"./, '"ciphertext":"A') });
    expect(tampered.statusCode).toBeGreaterThanOrEqual(400);
    const forged = await deliver(a, { headers: { ...good.headers, 'wechatpay-signature': Buffer.from('nope').toString('base64') }, body: good.body });
    expect(forged.statusCode).toBeGreaterThanOrEqual(400);
    expect(JSON.parse(forged.body).error.code).toMatch(/^payment_/);
    const unsigned = await a.app.inject({ method: 'POST', url: '/api/v1/orders/payment/callback', headers: { 'content-type': 'application/json' }, payload: '{"id":"x"}' });
    expect(unsigned.statusCode).toBeGreaterThanOrEqual(400);
    const short = a.app.services.referralSandbox.notice(order.order_id, { amount: 1 });
    const mismatch = await deliver(a, short);
    expect(mismatch.statusCode).toBe(422);
    let stored = await a.database.db.selectFrom('referral_order').selectAll().where('order_id', '=', order.order_id).executeTakeFirstOrThrow();
    expect(stored).toMatchObject({ status: 'pending', flagged: true });
    expect(stored.flag_reason).toMatch(/^amount_mismatch/);
    expect((await balance(t, campaignId, referrer)).balance).toBe(0);
    // The right payment still goes through.
    expect((await deliver(a, good)).statusCode).toBe(200);
    stored = await a.database.db.selectFrom('referral_order').selectAll().where('order_id', '=', order.order_id).executeTakeFirstOrThrow();
    expect(stored.status).toBe('paid');
    expect((await balance(t, campaignId, referrer)).balance).toBe(1000);
  });

  it('a wechat_pay campaign without merchant credentials answers 503 on payment start', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t, { payment: { amount: 100, currency: 'CNY', provider: 'wechat_pay' }, reward_rule: { type: 'fixed', amount: 10 } });
    const order = await signUp(a, campaignId);
    const r = await a.call('POST', `/api/v1/orders/${order.order_id}/pay`, {}, keyless);
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('payment_provider_unavailable');
    expect((await a.call('POST', `/api/v1/orders/${order.order_id}/sandbox-pay`, undefined, keyless)).status).toBe(404);
  });
});
