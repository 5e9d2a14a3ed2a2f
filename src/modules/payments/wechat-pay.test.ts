import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWechatPayProvider, generateSandboxKeys, verifyJsapiParams, type PaymentProvider, type PaymentStartInput } from './index.js';
import { startWechatPayPeer, type WechatPayPeer } from './testing/wechat-pay-peer.js';
import { TEST_CERTIFICATE_KEY_PEM, TEST_CERTIFICATE_PEM, TEST_CERTIFICATE_SERIAL } from './testing/test-certificate.js';
import { encryptResource, parseAuthorization, platformHeaders, privateKey, requestMessage, rsaVerify } from './wechat-pay.crypto.js';

/** Keys as WeChat would hand them out: the merchant's pair, the platform's pair, the APIv3 key. */
const keys = generateSandboxKeys();
const notifyUrl = 'https://shop.example.invalid/api/v1/orders/payment/callback';
let peer: WechatPayPeer;
let wechat: PaymentProvider;
let seq = 0;
const tradeNo = () => `wx_test_${Date.now()}_${++seq}`;

function provider(overrides: Partial<Parameters<typeof createWechatPayProvider>[0]> = {}): PaymentProvider {
  return createWechatPayProvider({
    mchid: keys.mchid,
    appid: keys.appid,
    serial_no: keys.merchant.serial_no,
    private_key_pem: keys.merchant.private_key_pem,
    apiv3_key: keys.apiv3_key,
    platform_certificates: [{ serial_no: keys.platform.serial_no, public_key_pem: keys.platform.public_key_pem }],
    base_url: peer.url,
    ...overrides,
  });
}

const input = (scene: PaymentStartInput['scene'], extra: Partial<PaymentStartInput> = {}): PaymentStartInput => ({
  out_trade_no: tradeNo(),
  amount: 9900,
  currency: 'CNY',
  description: '少儿编程体验课',
  scene,
  notify_url: notifyUrl,
  ...extra,
});

beforeAll(async () => {
  peer = await startWechatPayPeer({
    mchid: keys.mchid,
    appid: keys.appid,
    merchant: { serial_no: keys.merchant.serial_no, public_key_pem: keys.merchant.public_key_pem },
    platform: { serial_no: keys.platform.serial_no, private_key_pem: keys.platform.private_key_pem },
    apiv3_key: keys.apiv3_key,
  });
  wechat = provider();
});
afterAll(async () => {
  await peer.close();
});

/** Re-checks, independently of the peer, the signature of the last request the peer received. */
function lastRequestSignatureVerifies(): boolean {
  const r = peer.requests.at(-1)!;
  const auth = parseAuthorization(r.authorization)!;
  expect(auth).toMatchObject({ mchid: keys.mchid, serial_no: keys.merchant.serial_no });
  expect(auth.nonce_str).toMatch(/^[0-9A-Z]{32}$/);
  return rsaVerify(keys.merchant.public_key_pem, requestMessage(r.method, r.url, auth.timestamp, auth.nonce_str, r.body), auth.signature);
}

describe('WeChat Pay v3 prepay against the local peer', () => {
  it('jsapi: signed request, verified answer, prepay_id and a paySign that verifies', async () => {
    const i = input('jsapi', { payer_openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' });
    const start = await wechat.start(i);
    expect(peer.requests.at(-1)).toMatchObject({ method: 'POST', url: '/v3/pay/transactions/jsapi', verified: true, status: 200 });
    expect(lastRequestSignatureVerifies()).toBe(true);
    expect(JSON.parse(peer.requests.at(-1)!.body)).toEqual({
      appid: keys.appid,
      mchid: keys.mchid,
      description: i.description,
      out_trade_no: i.out_trade_no,
      notify_url: notifyUrl,
      amount: { total: 9900, currency: 'CNY' },
      payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
    });
    expect(start.provider).toBe('wechat_pay');
    expect(start.prepay_id).toMatch(/^wx\d{30}$/);
    const p = start.jsapi_params!;
    expect(p).toMatchObject({ appId: keys.appid, package: `prepay_id=${start.prepay_id}`, signType: 'RSA' });
    expect(verifyJsapiParams(p, keys.merchant.public_key_pem)).toBe(true);
    expect(rsaVerify(keys.merchant.public_key_pem, `${p.appId}\n${p.timeStamp}\n${p.nonceStr}\n${p.package}\n`, p.paySign!)).toBe(true);
    expect(verifyJsapiParams({ ...p, package: 'prepay_id=wx000' }, keys.merchant.public_key_pem)).toBe(false);
  });

  it('h5: scene_info with the client IP, answers h5_url', async () => {
    const start = await wechat.start(input('h5', { client_ip: '203.0.113.7' }));
    expect(peer.requests.at(-1)).toMatchObject({ url: '/v3/pay/transactions/h5', verified: true });
    expect(lastRequestSignatureVerifies()).toBe(true);
    expect(JSON.parse(peer.requests.at(-1)!.body).scene_info).toEqual({ payer_client_ip: '203.0.113.7', h5_info: { type: 'Wap' } });
    expect(start.h5_url).toMatch(new RegExp(`^${peer.url}/h5pay/checkmweb\\?prepay_id=wx\\d{30}&package=`));
  });

  it('native: answers code_url', async () => {
    const start = await wechat.start(input('native'));
    expect(peer.requests.at(-1)).toMatchObject({ url: '/v3/pay/transactions/native', verified: true });
    expect(lastRequestSignatureVerifies()).toBe(true);
    expect(start.code_url).toMatch(/^weixin:\/\/wxpay\/bizpayurl\?pr=/);
  });

  it('refuses bad input before calling out', async () => {
    const before = peer.requests.length;
    await expect(wechat.start(input('jsapi'))).rejects.toMatchObject({ code: 'invalid_request', details: { field: 'payer_openid' } });
    await expect(wechat.start(input('h5'))).rejects.toMatchObject({ details: { field: 'client_ip' } });
    await expect(wechat.start(input('native', { amount: 0.5 }))).rejects.toMatchObject({ details: { field: 'amount' } });
    await expect(wechat.start(input('native', { out_trade_no: 'a'.repeat(33) }))).rejects.toMatchObject({ details: { field: 'out_trade_no' } });
    expect(peer.requests.length).toBe(before);
  });

  it('a request signed with another merchant key is refused by the peer (payment_provider_error SIGN_ERROR)', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await expect(provider({ private_key_pem: other }).start(input('native'))).rejects.toMatchObject({
      code: 'payment_provider_error',
      details: { status: 401, provider_code: 'SIGN_ERROR' },
    });
    expect(peer.requests.at(-1)!.verified).toBe(false);
    // A request whose clock is 10 minutes off is refused too.
    await expect(provider({ now: () => Date.now() - 600_000 }).start(input('native'))).rejects.toMatchObject({ details: { provider_code: 'SIGN_ERROR' } });
  });

  it('an answer not signed by the platform certificate is not trusted (payment_response_invalid)', async () => {
    try {
      peer.answerSigning = 'forged';
      await expect(wechat.start(input('native'))).rejects.toMatchObject({ code: 'payment_response_invalid', details: { cause: 'payment_signature_invalid' } });
      peer.answerSigning = 'unknown_serial';
      await expect(wechat.start(input('native'))).rejects.toMatchObject({ code: 'payment_response_invalid', details: { cause: 'payment_certificate_unknown' } });
    } finally {
      peer.answerSigning = 'valid';
    }
  });

  it('an unreachable provider is payment_provider_unreachable', async () => {
    await expect(provider({ base_url: 'http://127.0.0.1:1' }).start(input('native'))).rejects.toMatchObject({ code: 'payment_provider_unreachable' });
  });
});

describe('WeChat Pay v3 callbacks', () => {
  async function paidOrder() {
    const i = input('jsapi', { payer_openid: 'o-payer' });
    await wechat.start(i);
    return i.out_trade_no;
  }

  it('a valid callback verifies and decrypts to the notice', async () => {
    const no = await paidOrder();
    const { headers, body } = peer.callback(no);
    expect(body).not.toContain(no);
    const notice = await wechat.verifyCallback(headers, body);
    expect(notice).toMatchObject({
      out_trade_no: no,
      trade_no: peer.orders.get(no)!.transaction_id,
      amount: 9900,
      currency: 'CNY',
      trade_state: 'SUCCESS',
      event_type: 'TRANSACTION.SUCCESS',
      raw: { payer: { openid: 'o-payer' }, trade_type: 'JSAPI' },
    });
    expect(notice.success_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
    // Header names in any case (Fastify lowercases, others may not).
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.replace(/(^|-)\w/g, (c) => c.toUpperCase()), v]));
    expect((await wechat.verifyCallback(upper, body)).out_trade_no).toBe(no);
    expect(wechat.callbackAnswer(true)).toEqual({ status: 200, body: { code: 'SUCCESS' } });
    expect(wechat.callbackAnswer(false, 'order busy')).toEqual({ status: 500, body: { code: 'FAIL', message: 'order busy' } });
  });

  it('a forged signature is payment_signature_invalid', async () => {
    const no = await paidOrder();
    const { headers, body } = peer.callback(no);
    const forger = { serial_no: keys.platform.serial_no, key: privateKey(keys.merchant.private_key_pem) };
    const forged = platformHeaders(forger, body, headers['wechatpay-timestamp'], headers['wechatpay-nonce']);
    await expect(wechat.verifyCallback(forged, body)).rejects.toMatchObject({ code: 'payment_signature_invalid', kind: 'unauthorized' });
    await expect(wechat.verifyCallback({ ...headers, 'wechatpay-signature': '' }, body)).rejects.toMatchObject({ code: 'payment_signature_invalid' });
    await expect(wechat.verifyCallback({ ...headers, 'wechatpay-signature': 'bm90IGEgc2lnbmF0dXJl' }, body)).rejects.toMatchObject({ code: 'payment_signature_invalid' });
    // The same signature over another nonce does not verify either.
    // (Another first character: a random nonce may itself start with X.)
    const nonce = headers['wechatpay-nonce']!;
    const otherNonce = (nonce.startsWith('X') ? 'Y' : 'X') + nonce.slice(1);
    await expect(wechat.verifyCallback({ ...headers, 'wechatpay-nonce': otherNonce }, body)).rejects.toMatchObject({ code: 'payment_signature_invalid' });
  });

  it('an unknown serial (or none) is payment_certificate_unknown', async () => {
    const { headers, body } = peer.callback(await paidOrder());
    await expect(wechat.verifyCallback({ ...headers, 'wechatpay-serial': 'ABCDEF' }, body)).rejects.toMatchObject({ code: 'payment_certificate_unknown' });
    await expect(wechat.verifyCallback({}, body)).rejects.toMatchObject({ code: 'payment_certificate_unknown' });
  });

  it('a timestamp more than 5 minutes away is payment_timestamp_stale (a replay later on)', async () => {
    const no = await paidOrder();
    const old = peer.callback(no, { nowMs: Date.now() - 301_000 });
    await expect(wechat.verifyCallback(old.headers, old.body)).rejects.toMatchObject({ code: 'payment_timestamp_stale' });
    const future = peer.callback(no, { nowMs: Date.now() + 301_000 });
    await expect(wechat.verifyCallback(future.headers, future.body)).rejects.toMatchObject({ code: 'payment_timestamp_stale' });
    const recent = peer.callback(no, { nowMs: Date.now() - 240_000 });
    expect((await wechat.verifyCallback(recent.headers, recent.body)).out_trade_no).toBe(no);
    // The same callback replayed 6 minutes later (a provider whose clock moved on).
    const later = provider({ now: () => Date.now() + 360_000 });
    await expect(later.verifyCallback(recent.headers, recent.body)).rejects.toMatchObject({ code: 'payment_timestamp_stale' });
    await expect(wechat.verifyCallback({ ...recent.headers, 'wechatpay-timestamp': 'soon' }, recent.body)).rejects.toMatchObject({ code: 'payment_timestamp_stale' });
  });

  it('a tampered body is payment_signature_invalid', async () => {
    const { headers, body } = peer.callback(await paidOrder());
    const parsed = JSON.parse(body) as { summary: string };
    await expect(wechat.verifyCallback(headers, JSON.stringify({ ...parsed, summary: 'x' }))).rejects.toMatchObject({ code: 'payment_signature_invalid' });
    await expect(wechat.verifyCallback(headers, `${body} `)).rejects.toMatchObject({ code: 'payment_signature_invalid' });
    // Re-serialised (same JSON, other bytes) is refused: the signature covers the exact bytes.
    await expect(wechat.verifyCallback(headers, JSON.stringify(JSON.parse(body), null, 1))).rejects.toMatchObject({ code: 'payment_signature_invalid' });
  });

  it('a tampered ciphertext, even re-signed by the platform, is payment_body_invalid (the GCM tag fails)', async () => {
    const { body } = peer.callback(await paidOrder());
    const parsed = JSON.parse(body) as { resource: { ciphertext: string; associated_data: string } };
    const bytes = Buffer.from(parsed.resource.ciphertext, 'base64');
    bytes[5]! ^= 0x01;
    const platform = { serial_no: keys.platform.serial_no, key: privateKey(keys.platform.private_key_pem) };
    const resign = (b: string) => ({ headers: platformHeaders(platform, b), body: b });
    const flipped = resign(JSON.stringify({ ...parsed, resource: { ...parsed.resource, ciphertext: bytes.toString('base64') } }));
    await expect(wechat.verifyCallback(flipped.headers, flipped.body)).rejects.toMatchObject({ code: 'payment_body_invalid' });
    const otherAad = resign(JSON.stringify({ ...parsed, resource: { ...parsed.resource, associated_data: 'other' } }));
    await expect(wechat.verifyCallback(otherAad.headers, otherAad.body)).rejects.toMatchObject({ code: 'payment_body_invalid' });
    const wrongKey = resign(JSON.stringify({ ...parsed, resource: encryptResource('0'.repeat(32), '{"out_trade_no":"x"}', 'transaction', 'transaction') }));
    await expect(wechat.verifyCallback(wrongKey.headers, wrongKey.body)).rejects.toMatchObject({ code: 'payment_body_invalid' });
    for (const b of ['not json', '{}', '{"resource":{"algorithm":"AES"}}', JSON.stringify({ resource: encryptResource(keys.apiv3_key, '{"x":1}', '', 'transaction') })]) {
      const r = resign(b);
      await expect(wechat.verifyCallback(r.headers, r.body)).rejects.toMatchObject({ code: 'payment_body_invalid', kind: 'invalid' });
    }
  });

  it('callbacks report the amount actually paid, so the caller can refuse a mismatch', async () => {
    const no = await paidOrder();
    const { headers, body } = peer.callback(no, { amount: 1 });
    expect((await wechat.verifyCallback(headers, body)).amount).toBe(1);
    const closed = peer.callback(no, { trade_state: 'CLOSED' });
    expect((await wechat.verifyCallback(closed.headers, closed.body)).trade_state).toBe('CLOSED');
  });

  it('accepts a platform certificate given as an X.509 certificate PEM', async () => {
    const certPeer = await startWechatPayPeer({
      mchid: keys.mchid,
      appid: keys.appid,
      merchant: { serial_no: keys.merchant.serial_no, public_key_pem: keys.merchant.public_key_pem },
      platform: { serial_no: TEST_CERTIFICATE_SERIAL, private_key_pem: TEST_CERTIFICATE_KEY_PEM },
      apiv3_key: keys.apiv3_key,
    });
    try {
      const p = provider({ base_url: certPeer.url, platform_certificates: [{ serial_no: TEST_CERTIFICATE_SERIAL, public_key_pem: TEST_CERTIFICATE_PEM }] });
      const i = input('native');
      expect((await p.start(i)).code_url).toBeTruthy();
      const { headers, body } = certPeer.callback(i.out_trade_no);
      expect((await p.verifyCallback(headers, body)).out_trade_no).toBe(i.out_trade_no);
      expect(createPublicKey(TEST_CERTIFICATE_PEM).asymmetricKeyType).toBe('rsa');
    } finally {
      await certPeer.close();
    }
  });
});

describe('WeChat Pay v3 refunds', () => {
  it('refunds through /v3/refund/domestic/refunds, idempotent by out_refund_no, and reads the refund notice', async () => {
    const i = input('native');
    await wechat.start(i);
    const r = { out_trade_no: i.out_trade_no, out_refund_no: `rf_${i.out_trade_no}`, amount: 4000, total: 9900, currency: 'CNY', notify_url: notifyUrl };
    const refund = await wechat.refund(r);
    expect(peer.requests.at(-1)).toMatchObject({ url: '/v3/refund/domestic/refunds', verified: true });
    expect(lastRequestSignatureVerifies()).toBe(true);
    expect(JSON.parse(peer.requests.at(-1)!.body)).toEqual({
      out_trade_no: i.out_trade_no,
      out_refund_no: r.out_refund_no,
      notify_url: notifyUrl,
      amount: { refund: 4000, total: 9900, currency: 'CNY' },
    });
    expect(refund).toEqual({ refund_id: expect.stringMatching(/^50\d+$/), status: 'PROCESSING' });
    expect(await wechat.refund(r)).toEqual(refund);
    const { headers, body } = peer.refundCallback(r.out_refund_no);
    expect(await wechat.verifyCallback(headers, body)).toMatchObject({
      out_trade_no: i.out_trade_no,
      trade_state: 'REFUND',
      amount: 4000,
      refund_id: refund.refund_id,
      out_refund_no: r.out_refund_no,
      event_type: 'REFUND.SUCCESS',
    });
    // More than what is left: the provider's refusal comes back as payment_provider_error.
    await expect(wechat.refund({ ...r, out_refund_no: `rf2_${i.out_trade_no}`, amount: 6000 })).rejects.toMatchObject({
      code: 'payment_provider_error',
      details: { status: 403, provider_code: 'NOT_ENOUGH' },
    });
    await expect(wechat.refund({ ...r, out_refund_no: 'x', amount: 10_000 })).rejects.toMatchObject({ code: 'invalid_request', details: { field: 'amount' } });
  });
});
