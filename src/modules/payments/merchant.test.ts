import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { must, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { newPhone, orderBody, referralCampaign } from '../referrals/testing/referral-fixtures.js';
import { generateSandboxKeys } from './index.js';
import { sandboxKeys } from './merchant.repo.js';
import { createMerchantService } from './merchant.service.js';
import { randomBytes } from 'node:crypto';
import type { Actor } from '../../platform/actor.js';
import { systemClock } from '../../platform/clock.js';
import { createSecretBox } from '../../platform/secret-box.js';
import type { WechatPayPeer } from './testing/wechat-pay-peer.js';
import { TEST_CERTIFICATE_PEM, TEST_CERTIFICATE_SERIAL } from './testing/test-certificate.js';
import { deliverNotice, merchantCredentials, peerFor } from './testing/merchant-peers.js';

/** Two merchants, as WeChat would issue them, each with its local peer. */
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

async function wechatOrder(a: TestApp, t: TenantFixture, referrer: string) {
  const { campaignId } = await referralCampaign(t, { payment: { amount: 9900, currency: 'CNY', provider: 'wechat_pay' } });
  const order = must(await a.call('POST', '/api/v1/orders', orderBody(campaignId, newPhone(), { u_id: referrer }), keyless), 201).body as { order_id: string };
  return { campaignId, orderId: order.order_id };
}

describe('WeChat Pay merchant credentials per tenant', () => {
  it('are checked, stored sealed, never answered; a wechat_pay order is paid through them end to end', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const referrer = `ref-${newPhone()}`;
    const { orderId } = await wechatOrder(a, t, referrer);
    // No credentials yet: the payment cannot start.
    const before = await a.call('POST', `/api/v1/orders/${orderId}/pay`, { scene: 'native' }, keyless);
    expect(before.status).toBe(503);
    expect(before.body.error.code).toBe('payment_provider_unavailable');
    expect((await t.call('GET', '/v1/payments/wechat-pay', undefined, { key: t.admin })).body.error.code).toBe('payment_merchant_not_found');

    // Refusals, each naming the field; nothing is stored.
    const bad: [Record<string, unknown>, string][] = [
      [{ private_key_pem: 'not a pem' }, 'private_key_pem'],
      [{ apiv3_key: keysA.apiv3_key.slice(1) }, 'apiv3_key'],
      [{ platform_certificates: [{ serial_no: 'AB12', public_key_pem: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' }] }, 'platform_certificates[0].public_key_pem'],
      [{ platform_certificates: [{ serial_no: 'AB12', public_key_pem: keysA.platform.public_key_pem }, { serial_no: 'AB12', public_key_pem: keysA.platform.public_key_pem }] }, 'platform_certificates[1].serial_no'],
    ];
    for (const [override, field] of bad) {
      const res = await t.call('PUT', '/v1/payments/wechat-pay', merchantCredentials(keysA, peerA.url, override), { key: t.admin });
      expect(res.status, field).toBe(400);
      expect(res.body.error, field).toMatchObject({ code: 'payment_credentials_invalid', details: { field } });
    }
    expect((await t.call('GET', '/v1/payments/wechat-pay', undefined, { key: t.admin })).status).toBe(404);
    // A service key may not store credentials.
    expect((await t.call('PUT', '/v1/payments/wechat-pay', merchantCredentials(keysA, peerA.url))).status).toBe(403);

    // An X.509 certificate is accepted as a platform certificate too, next to the public key.
    const put = must(
      await t.call('PUT', '/v1/payments/wechat-pay', merchantCredentials(keysA, peerA.url, { platform_certificates: [{ serial_no: keysA.platform.serial_no, public_key_pem: keysA.platform.public_key_pem }, { serial_no: TEST_CERTIFICATE_SERIAL, public_key_pem: TEST_CERTIFICATE_PEM }] }), { key: t.admin }),
      200,
    ).body;
    expect(put).toMatchObject({ configured: true, mchid: keysA.mchid, appid: keysA.appid, serial_no: keysA.merchant.serial_no, platform_serials: [keysA.platform.serial_no, TEST_CERTIFICATE_SERIAL], base_url: peerA.url });
    const got = must(await t.call('GET', '/v1/payments/wechat-pay', undefined, { key: t.admin }), 200);
    expect(got.body).toEqual(put);
    expect(JSON.stringify(got.body)).not.toContain('PRIVATE KEY');
    expect(JSON.stringify(got.body)).not.toContain(keysA.apiv3_key);
    const row = await a.database.db.selectFrom('payment_merchant' as never).selectAll().where('tenant_id' as never, '=', t.tenantId as never).executeTakeFirstOrThrow() as Record<string, string>;
    expect(row.secret_sealed).not.toContain('PRIVATE');
    expect(row.secret_sealed).not.toContain(keysA.apiv3_key);

    // Prepay through the peer with the tenant's merchant key; the peer checked the signature.
    const start = must(await a.call('POST', `/api/v1/orders/${orderId}/pay`, { scene: 'native' }, keyless), 200).body;
    expect(start).toMatchObject({ provider: 'wechat_pay', out_trade_no: orderId, code_url: expect.stringMatching(/^weixin:\/\/wxpay\//) });
    expect(peerA.requests.at(-1)).toMatchObject({ url: '/v3/pay/transactions/native', verified: true, status: 200 });
    expect(JSON.parse(peerA.requests.at(-1)!.body)).toMatchObject({ mchid: keysA.mchid, notify_url: 'http://localhost:8105/api/v1/orders/payment/notify' });

    // WeChat's callback, signed by the platform key, at the path given as notify_url (no query string).
    const paid = await deliverNotice(a, peerA.callback(orderId));
    expect(paid.statusCode, paid.body).toBe(200);
    expect(JSON.parse(paid.body)).toEqual({ code: 'SUCCESS' });
    expect(must(await a.call('GET', `/api/v1/orders/${orderId}`, undefined, keyless), 200).body).toMatchObject({ status: 'paid', pay_status: 'paid' });
    expect(must(await t.call('GET', `/api/v1/rewards/balance/${referrer}`), 200).body).toMatchObject({ balance: 1000, total_reward: 1000 });
    // Delivered again: acknowledged, nothing moves.
    expect((await deliverNotice(a, peerA.callback(orderId), '/api/v1/orders/payment/callback')).statusCode).toBe(200);
    expect(must(await t.call('GET', `/api/v1/rewards/balance/${referrer}`), 200).body.balance).toBe(1000);

    // Deleted: the next payment start is 503 again.
    const next = await wechatOrder(a, t, referrer);
    must(await t.call('DELETE', '/v1/payments/wechat-pay', undefined, { key: t.admin }), 204);
    expect((await a.call('POST', `/api/v1/orders/${next.orderId}/pay`, { scene: 'native' }, keyless)).body.error.code).toBe('payment_provider_unavailable');
  });

  it("another tenant's credentials cannot pay this tenant's order; an unknown serial and another mchid are refused", async () => {
    const a = await testApp();
    const victim = await a.newTenant();
    const other = await a.newTenant();
    must(await victim.call('PUT', '/v1/payments/wechat-pay', merchantCredentials(keysA, peerA.url), { key: victim.admin }), 200);
    must(await other.call('PUT', '/v1/payments/wechat-pay', merchantCredentials(keysB, peerB.url), { key: other.admin }), 200);
    const referrer = `ref-${newPhone()}`;
    const { orderId } = await wechatOrder(a, victim, referrer);
    must(await a.call('POST', `/api/v1/orders/${orderId}/pay`, { scene: 'native' }, keyless), 200);

    // The other merchant's WeChat Pay (its platform key, its APIv3 key) "pays" the victim's order: not found for it.
    peerB.orders.set(orderId, { ...peerA.orders.get(orderId)! });
    const foreign = await deliverNotice(a, peerB.callback(orderId));
    expect(foreign.statusCode).toBe(404);
    expect(JSON.parse(foreign.body).error.code).toBe('order_not_found');
    // The other tenant also registers the victim's platform certificate (public material): a callback
    // signed with the victim's platform key is still decrypted only by the victim's APIv3 key.
    must(await other.call('PUT', '/v1/payments/wechat-pay', merchantCredentials(keysB, peerB.url, { platform_certificates: [{ serial_no: keysA.platform.serial_no, public_key_pem: keysA.platform.public_key_pem }] }), { key: other.admin }), 200);
    expect(must(await a.call('GET', `/api/v1/orders/${orderId}`, undefined, keyless), 200).body.status).toBe('pending');

    // A serial nobody registered.
    const unknown = peerA.callback(orderId);
    const res = await deliverNotice(a, { ...unknown, headers: { ...unknown.headers, 'wechatpay-serial': 'FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000' } }, '/api/v1/orders/payment/notify?provider=wechat_pay');
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body).error.code).toBe('payment_certificate_unknown');

    // Credentials whose mchid is not the one in the decrypted notice: refused.
    must(await other.call('PUT', '/v1/payments/wechat-pay', merchantCredentials(keysB, peerB.url), { key: other.admin }), 200);
    must(await victim.call('PUT', '/v1/payments/wechat-pay', merchantCredentials(keysA, peerA.url, { mchid: '1900000001' }), { key: victim.admin }), 200);
    const mismatch = await deliverNotice(a, peerA.callback(orderId));
    expect(mismatch.statusCode).toBe(401);
    expect(JSON.parse(mismatch.body).error.code).toBe('payment_merchant_mismatch');
    expect(must(await a.call('GET', `/api/v1/orders/${orderId}`, undefined, keyless), 200).body.status).toBe('pending');

    // Back to the right mchid: the victim's own callback pays it, once.
    must(await victim.call('PUT', '/v1/payments/wechat-pay', merchantCredentials(keysA, peerA.url), { key: victim.admin }), 200);
    expect((await deliverNotice(a, peerA.callback(orderId))).statusCode).toBe(200);
    expect(must(await victim.call('GET', `/api/v1/rewards/balance/${referrer}`), 200).body.balance).toBe(1000);
    expect(must(await other.call('GET', `/api/v1/rewards/balance/${referrer}`), 200).body.balance).toBe(0);
  });
});

describe('base_url', () => {
  it('is https and never a loopback or private address unless private networks are allowed (tests)', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const merchants = createMerchantService({ db: a.database.db, clock: systemClock, box: createSecretBox(randomBytes(32)), allowPrivateNetworks: false });
    const actor: Actor = { kind: 'tenant', tenantId: t.tenantId, keyId: 'k', role: 'admin', productCodes: null };
    for (const url of ['http://203.0.113.9', 'https://127.0.0.1:9', 'https://10.1.2.3', 'https://169.254.169.254', 'https://[::1]']) {
      await expect(merchants.put(actor, merchantCredentials(keysA, url) as never), url).rejects.toMatchObject({ code: 'payment_credentials_invalid', details: { field: 'base_url' } });
    }
    await expect(merchants.get(actor)).rejects.toMatchObject({ code: 'payment_merchant_not_found' });
    expect(await merchants.put(actor, merchantCredentials(keysA, 'https://203.0.113.9') as never)).toMatchObject({ configured: true, base_url: 'https://203.0.113.9' });
  });
});

describe('sandbox keys', () => {
  it('100 processes storing their own keys at once all end with the one stored first', async () => {
    const a = await testApp();
    const name = `race-${newPhone()}`;
    const stored = await Promise.all(Array.from({ length: 100 }, (_, i) => sandboxKeys(a.database.db, name, `sealed-${i}`, new Date())));
    expect(new Set(stored).size).toBe(1);
    expect(await a.database.db.selectFrom('payment_sandbox_key' as never).selectAll().where('name' as never, '=', name as never).execute()).toHaveLength(1);
  });

  it('are stored once, sealed: a second API process over the same database verifies the first one\'s sandbox callbacks', async () => {
    const a = await testApp();
    const b = await testApp({ clock: { now: () => new Date() } });
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t);
    const referrer = `ref-${newPhone()}`;
    const order = must(await a.call('POST', '/api/v1/orders', orderBody(campaignId, newPhone(), { u_id: referrer }), keyless), 201).body as { order_id: string };
    const [ka, kb] = await Promise.all([a.app.services.referralSandbox.ready(), b.app.services.referralSandbox.ready()]);
    expect(ka).not.toBe(kb);
    // Signed in process a, delivered to process b.
    const res = await deliverNotice(b, a.app.services.referralSandbox.notice(order.order_id, { amount: 9900 }));
    expect(res.statusCode, res.body).toBe(200);
    expect(must(await t.call('GET', `/api/v1/rewards/balance/${referrer}`), 200).body.balance).toBe(1000);
    const rows = (await a.database.db.selectFrom('payment_sandbox_key' as never).selectAll().where('name' as never, '=', 'default' as never).execute()) as { keys_sealed: string }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]!.keys_sealed).not.toContain('PRIVATE');
    await b.app.close();
  });
});
