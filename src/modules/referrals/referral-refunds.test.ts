import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { must, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { newPhone, orderBody, referralCampaign } from './testing/referral-fixtures.js';

const keyless = { key: null };
const uid = () => randomBytes(5).toString('hex');

async function paidOrder(a: TestApp, campaignId: string, referrer?: string): Promise<string> {
  const order = must(await a.call('POST', '/api/v1/orders', orderBody(campaignId, newPhone(), referrer ? { u_id: referrer } : {}), keyless), 201).body;
  must(await a.call('POST', `/api/v1/orders/${order.order_id}/sandbox-pay`, undefined, keyless), 200);
  return order.order_id as string;
}

async function balance(t: TenantFixture, userId: string) {
  return must(await t.call('GET', `/api/v1/rewards/balance/${userId}`), 200).body as { balance: number; total_reward: number };
}

const debt = (a: TestApp, t: TenantFixture, userId: string) => a.app.services.referralPayments.debt(t.tenantId, userId);

const reward = (a: TestApp, orderId: string) => a.database.db.selectFrom('referral_reward').selectAll().where('order_id', '=', orderId).where('level', '=', 1).executeTakeFirstOrThrow();

function deliver(a: TestApp, notice: { headers: Record<string, string>; body: string }, path = '/api/v1/orders/payment/notify') {
  return a.app.inject({ method: 'POST', url: path, headers: { ...notice.headers, 'content-type': 'application/json' }, payload: notice.body });
}

/** Withdraws `amount` of the user's balance (approved: paid out). */
async function withdraw(t: TenantFixture, userId: string, amount: number) {
  const w = must(await t.call('POST', '/v1/referrals/withdrawals', { user_id: userId, amount }), 201).body;
  must(await t.call('POST', `/v1/referrals/withdrawals/${w.withdrawal_id}/approve`, {}, { key: t.admin }), 200);
}

describe('refunds', () => {
  it('refund through the sandbox: its signed notice refunds the order and reverses the reward through the ledger, once', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t);
    const referrer = `ref-${uid()}`;
    const orderId = await paidOrder(a, campaignId, referrer);
    expect((await balance(t, referrer)).balance).toBe(1000);
    expect((await t.call('POST', `/v1/referrals/orders/${orderId}/refund`, {})).status).toBe(403);
    const refund = must(await t.call('POST', `/v1/referrals/orders/${orderId}/refund`, { reason: 'the student cancelled' }, { key: t.admin }), 200).body;
    expect(refund).toMatchObject({ order_id: orderId, out_refund_no: `rf_${orderId}`, status: 'succeeded', amount: 9900, currency: 'CNY', reason: 'the student cancelled', order_status: 'refunded' });
    expect(refund.refund_id).toMatch(/^50\d+$/);
    expect(must(await a.call('GET', `/api/v1/orders/${orderId}`, undefined, keyless), 200).body).toMatchObject({ status: 'refunded', pay_status: 'refunded' });
    expect(await balance(t, referrer)).toMatchObject({ balance: 0, total_reward: 0 });
    expect(must(await t.call('GET', `/api/v1/rewards/${referrer}`), 200).body.rewards).toMatchObject([{ order_id: orderId, status: 'reversed', amount: 1000 }]);
    expect(await reward(a, orderId)).toMatchObject({ status: 'reversed', clawed_back: 1000, debt: 0 });
    const entries = () => t.call('GET', `/v1/users/${referrer}/ledger`).then((r) => r.body.entries.map((e: { amount: number; entry_type: string; cause_type: string; cause_id: string }) => [e.entry_type, e.amount, e.cause_type, e.cause_id]));
    expect(await entries()).toEqual([
      ['REVOKE', -1000, 'referral_reversal', `${orderId}:1`],
      ['GRANT', 1000, 'referral_reward', `${orderId}:1`],
    ]);
    // Asked again: the same refund (the sandbox answers and notifies the same refund_id); nothing moves.
    const again = must(await t.call('POST', `/v1/referrals/orders/${orderId}/refund`, {}, { key: t.admin }), 200).body;
    expect(again).toMatchObject({ refund_id: refund.refund_id, status: 'succeeded' });
    expect(await entries()).toHaveLength(2);
    expect(await debt(a, t, referrer)).toBe(0);
    // Only a paid order is refunded; another tenant's is not found.
    const pending = must(await a.call('POST', '/api/v1/orders', orderBody(campaignId, newPhone()), keyless), 201).body;
    const refused = await t.call('POST', `/v1/referrals/orders/${pending.order_id}/refund`, {}, { key: t.admin });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'order_not_refundable', details: { status: 'pending' } });
    const other = await a.newTenant();
    expect((await other.call('POST', `/v1/referrals/orders/${orderId}/refund`, {}, { key: other.admin })).body.error.code).toBe('order_not_found');
  });

  it('a partly spent balance: the ledger takes what is there, the rest is debt, paid first from the next rewards', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t);
    const referrer = `ref-${uid()}`;
    const o1 = await paidOrder(a, campaignId, referrer);
    const o2 = await paidOrder(a, campaignId, referrer);
    await withdraw(t, referrer, 1800);
    expect((await balance(t, referrer)).balance).toBe(200);
    must(await t.call('POST', `/v1/referrals/orders/${o1}/refund`, {}, { key: t.admin }), 200);
    expect((await balance(t, referrer)).balance).toBe(0);
    expect(await debt(a, t, referrer)).toBe(800);
    expect(await reward(a, o1)).toMatchObject({ status: 'reversed', clawed_back: 200, debt: 800 });
    must(await t.call('POST', `/v1/referrals/orders/${o2}/refund`, {}, { key: t.admin }), 200);
    expect(await debt(a, t, referrer)).toBe(1800);
    expect(await reward(a, o2)).toMatchObject({ status: 'reversed', clawed_back: 0, debt: 1000 });
    // The next reward goes to the debt in full: no credit.
    const o3 = await paidOrder(a, campaignId, referrer);
    expect(await reward(a, o3)).toMatchObject({ status: 'settled', amount: 1000, debt_paid: 1000, ledger_entry_id: null });
    expect(await debt(a, t, referrer)).toBe(800);
    expect(await balance(t, referrer)).toMatchObject({ balance: 0, total_reward: 1000 });
    // The one after pays the rest of the debt; the balance gets what is left.
    const o4 = await paidOrder(a, campaignId, referrer);
    expect(await reward(a, o4)).toMatchObject({ amount: 1000, debt_paid: 800 });
    expect(await debt(a, t, referrer)).toBe(0);
    expect(await balance(t, referrer)).toMatchObject({ balance: 200, total_reward: 2000 });
    const o5 = await paidOrder(a, campaignId, referrer);
    expect(await reward(a, o5)).toMatchObject({ debt_paid: 0 });
    expect((await balance(t, referrer)).balance).toBe(1200);
    // balance - debt = rewards kept - paid out: 1200 - 0 = 3 * 1000 - 1800.
    const row = await a.database.db.selectFrom('referral_debt').selectAll().where('tenant_id', '=', t.tenantId).where('user_id', '=', referrer).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ amount: 0 });
    expect(Number(row.incurred)).toBe(1800);
    expect(Number(row.paid)).toBe(1800);
  });

  it('a reversal racing 100 parallel withdrawals never takes the balance below zero; balance - debt stays exact', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t);
    const referrer = `ref-${uid()}`;
    const orderId = await paidOrder(a, campaignId, referrer);
    await a.app.services.ledger.post(a.database.db, { tenantId: t.tenantId, userId: referrer, asset: 'BALANCE', amount: 9000, entryType: 'GRANT', causeType: 'test_credit', causeId: uid() });
    const [refund, ...requests] = await Promise.all([
      t.call('POST', `/v1/referrals/orders/${orderId}/refund`, {}, { key: t.admin }),
      ...Array.from({ length: 100 }, () => t.call('POST', '/v1/referrals/withdrawals', { user_id: referrer, amount: 150 })),
    ]);
    expect(refund!.status).toBe(200);
    const withdrawn = requests.filter((r) => r.status === 201).length;
    for (const r of requests.filter((x) => x.status !== 201)) expect(r.body.error.code).toBe('insufficient_balance');
    const { balance: left } = await balance(t, referrer);
    const owed = await debt(a, t, referrer);
    const row = await reward(a, orderId);
    expect(left).toBeGreaterThanOrEqual(0);
    expect(Number(row.clawed_back) + Number(row.debt)).toBe(1000);
    expect(owed).toBe(Number(row.debt));
    expect(left - owed).toBe(10_000 - 1000 - 150 * withdrawn);
    // Every withdrawal that could be held was: what is left is less than one more.
    expect(withdrawn === 100 || left < 150).toBe(true);
    const sum = await a.database.db.selectFrom('ledger_entry').select((eb) => eb.fn.sum<string>('amount').as('s')).where('tenant_id', '=', t.tenantId).where('user_id', '=', referrer).executeTakeFirstOrThrow();
    expect(Number(sum.s)).toBe(left);
  });

  it('a refund notice delivered 10 times in parallel reverses once; a forged one is refused and changes nothing', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t);
    const referrer = `ref-${uid()}`;
    const orderId = await paidOrder(a, campaignId, referrer);
    // The provider's refund notice is lost on its way (captured here instead of delivered).
    const payments = a.app.services.referralPayments;
    const original = payments.handleCallback;
    const captured: { headers: Record<string, string>; body: string }[] = [];
    payments.handleCallback = async (headers, body) => {
      captured.push({ headers: headers as Record<string, string>, body });
      return { status: 200, body: { code: 'SUCCESS' } };
    };
    let requested;
    try {
      requested = must(await t.call('POST', `/v1/referrals/orders/${orderId}/refund`, {}, { key: t.admin }), 200).body;
    } finally {
      payments.handleCallback = original;
    }
    expect(requested).toMatchObject({ status: 'requested', order_status: 'paid' });
    expect(captured).toHaveLength(1);
    const notice = captured[0]!;
    const forged = await deliver(a, { headers: { ...notice.headers, 'wechatpay-signature': Buffer.from('forged').toString('base64') }, body: notice.body });
    expect(forged.statusCode).toBe(401);
    const tampered = await deliver(a, { headers: notice.headers, body: notice.body.replace(/"ciphertext":"./, '"ciphertext":"A') });
    expect(tampered.statusCode).toBeGreaterThanOrEqual(400);
    expect((await balance(t, referrer)).balance).toBe(1000);
    expect(must(await a.call('GET', `/api/v1/orders/${orderId}`, undefined, keyless), 200).body.status).toBe('paid');

    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => deliver(a, notice, i % 2 ? '/api/v1/orders/payment/callback' : '/api/v1/orders/payment/notify')));
    for (const r of replies) expect([r.statusCode, JSON.parse(r.body)]).toEqual([200, { code: 'SUCCESS' }]);
    expect((await balance(t, referrer)).balance).toBe(0);
    const revokes = await a.database.db.selectFrom('ledger_entry').select('amount').where('tenant_id', '=', t.tenantId).where('user_id', '=', referrer).where('entry_type', '=', 'REVOKE').execute();
    expect(revokes.map((r) => Number(r.amount))).toEqual([-1000]);
    const refund = await a.database.db.selectFrom('referral_refund').selectAll().where('order_id', '=', orderId).executeTakeFirstOrThrow();
    expect(refund).toMatchObject({ status: 'succeeded', refund_id: requested.refund_id });
    expect(await reward(a, orderId)).toMatchObject({ status: 'reversed', clawed_back: 1000, debt: 0 });
    // Replayed later: acknowledged, nothing moves.
    expect((await deliver(a, notice)).statusCode).toBe(200);
    expect((await balance(t, referrer)).balance).toBe(0);
    expect(await debt(a, t, referrer)).toBe(0);
  });
});
