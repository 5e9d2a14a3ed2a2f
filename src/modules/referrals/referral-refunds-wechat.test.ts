import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { createWechatPayProvider, generateSandboxKeys } from '../payments/index.js';
import type { WechatPayPeer } from '../payments/testing/wechat-pay-peer.js';
import { newPhone, orderBody, referralCampaign } from './testing/referral-fixtures.js';
import { deliverNotice, merchantCredentials, peerFor } from '../payments/testing/merchant-peers.js';

/** Refunds of wechat_pay orders against a local peer that speaks WeChat Pay API v3 (two merchants). */
const keysA = generateSandboxKeys();
const keysB = generateSandboxKeys();
let peerA: WechatPayPeer;
let peerB: WechatPayPeer;
const keyless = { key: null };

beforeAll(async () => {
  [peerA, peerB] = await Promise.all([peerFor(keysA), peerFor(keysB)]);
});
afterAll(async () => {
  await Promise.all([peerA.close(), peerB.close()]);
});

describe('refunds of wechat_pay orders', () => {
  it("asks WeChat (PROCESSING), settles on its REFUND.SUCCESS notice once (10 in parallel), refuses another merchant's notice", async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const other = await a.newTenant();
    must(await t.call('PUT', '/v1/payments/wechat-pay', merchantCredentials(keysA, peerA.url), { key: t.admin }), 200);
    must(await other.call('PUT', '/v1/payments/wechat-pay', merchantCredentials(keysB, peerB.url), { key: other.admin }), 200);
    const { campaignId } = await referralCampaign(t, { payment: { amount: 9900, currency: 'CNY', provider: 'wechat_pay' } });
    const referrer = `ref-${randomBytes(4).toString('hex')}`;
    const orderId = must(await a.call('POST', '/api/v1/orders', orderBody(campaignId, newPhone(), { u_id: referrer }), keyless), 201).body.order_id as string;
    must(await a.call('POST', `/api/v1/orders/${orderId}/pay`, { scene: 'native' }, keyless), 200);
    expect((await deliverNotice(a, peerA.callback(orderId))).statusCode).toBe(200);
    expect(must(await t.call('GET', `/api/v1/rewards/balance/${referrer}`), 200).body.balance).toBe(1000);

    const requested = must(await t.call('POST', `/v1/referrals/orders/${orderId}/refund`, { reason: 'cancelled' }, { key: t.admin }), 200).body;
    expect(requested).toMatchObject({ status: 'requested', order_status: 'paid', out_refund_no: `rf_${orderId}`, refund_id: expect.stringMatching(/^50\d+$/) });
    expect(peerA.requests.at(-1)).toMatchObject({ url: '/v3/refund/domestic/refunds', verified: true, status: 200 });
    expect(JSON.parse(peerA.requests.at(-1)!.body)).toMatchObject({ out_trade_no: orderId, out_refund_no: `rf_${orderId}`, amount: { refund: 9900, total: 9900, currency: 'CNY' } });
    // Asked again: the same refund at WeChat (idempotent by out_refund_no).
    expect(must(await t.call('POST', `/v1/referrals/orders/${orderId}/refund`, {}, { key: t.admin }), 200).body.refund_id).toBe(requested.refund_id);

    // Another merchant's platform key signs a refund notice naming this order: refused, nothing moves.
    peerB.orders.set(orderId, { ...peerA.orders.get(orderId)!, refunded: 0 });
    await createWechatPayProvider(merchantCredentials(keysB, peerB.url)).refund({ out_trade_no: orderId, out_refund_no: `rf_${orderId}`, amount: 9900, total: 9900, currency: 'CNY', notify_url: 'http://127.0.0.1/n' });
    const foreign = await deliverNotice(a, peerB.refundCallback(`rf_${orderId}`));
    expect(foreign.statusCode).toBe(404);
    expect(JSON.parse(foreign.body).error.code).toBe('order_not_found');
    const notice = peerA.refundCallback(`rf_${orderId}`);
    const forged = await deliverNotice(a, { headers: { ...notice.headers, 'wechatpay-signature': Buffer.from('forged').toString('base64') }, body: notice.body });
    expect(forged.statusCode).toBeGreaterThanOrEqual(400);
    expect(must(await t.call('GET', `/api/v1/rewards/balance/${referrer}`), 200).body.balance).toBe(1000);

    const replies = await Promise.all(Array.from({ length: 10 }, () => deliverNotice(a, notice)));
    for (const r of replies) expect([r.statusCode, JSON.parse(r.body)]).toEqual([200, { code: 'SUCCESS' }]);
    expect(must(await a.call('GET', `/api/v1/orders/${orderId}`, undefined, keyless), 200).body).toMatchObject({ status: 'refunded', pay_status: 'refunded' });
    expect(must(await t.call('GET', `/api/v1/rewards/balance/${referrer}`), 200).body).toMatchObject({ balance: 0, total_reward: 0 });
    const revokes = await a.database.db.selectFrom('ledger_entry').select('amount').where('tenant_id', '=', t.tenantId).where('user_id', '=', referrer).where('entry_type', '=', 'REVOKE').execute();
    expect(revokes.map((r) => Number(r.amount))).toEqual([-1000]);
    expect(must(await t.call('POST', `/v1/referrals/orders/${orderId}/refund`, {}, { key: t.admin }), 200).body).toMatchObject({ status: 'succeeded', order_status: 'refunded', refund_id: requested.refund_id });
  });
});
