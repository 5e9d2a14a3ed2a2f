import { describe, expect, it } from 'vitest';
import { createSandboxProvider, generateSandboxKeys, verifyJsapiParams, type PaymentNotice } from './index.js';

const keys = generateSandboxKeys();

describe('sandbox provider', () => {
  it('generates RSA 2048 key pairs, serials and a 32-byte APIv3 key', () => {
    expect(keys.apiv3_key).toHaveLength(32);
    expect(keys.merchant.serial_no).toMatch(/^[0-9A-F]{40}$/);
    expect(keys.platform.serial_no).not.toBe(keys.merchant.serial_no);
    expect(keys.merchant.private_key_pem).toContain('BEGIN PRIVATE KEY');
    expect(keys.platform.public_key_pem).toContain('BEGIN PUBLIC KEY');
  });

  it('start -> pay delivers a signed, encrypted notice that verifyCallback accepts', async () => {
    const delivered: { headers: Record<string, string>; body: string }[] = [];
    const sandbox = createSandboxProvider({
      keys,
      deliver: async (headers, body) => {
        delivered.push({ headers, body });
      },
      pay_url: (no) => `/sandbox/pay/${no}`,
    });
    expect(sandbox.kind).toBe('sandbox');
    const start = await sandbox.start({
      out_trade_no: 'sbx_order_000001',
      amount: 9900,
      currency: 'CNY',
      description: 'Course',
      scene: 'jsapi',
      payer_openid: 'o-openid',
      notify_url: 'http://127.0.0.1/api/v1/orders/payment/callback',
    });
    expect(start).toMatchObject({ provider: 'sandbox', out_trade_no: 'sbx_order_000001', sandbox_pay_url: '/sandbox/pay/sbx_order_000001' });
    expect(verifyJsapiParams(start.jsapi_params!, keys.merchant.public_key_pem)).toBe(true);

    const paid = await sandbox.pay('sbx_order_000001');
    expect(delivered).toHaveLength(1);
    const { headers, body } = delivered[0]!;
    expect(JSON.parse(body)).toMatchObject({ event_type: 'TRANSACTION.SUCCESS', resource: { algorithm: 'AEAD_AES_256_GCM' } });
    expect(body).not.toContain('sbx_order_000001');
    const notice: PaymentNotice = await sandbox.verifyCallback(headers, body);
    expect(notice).toMatchObject({ out_trade_no: 'sbx_order_000001', amount: 9900, currency: 'CNY', trade_state: 'SUCCESS', trade_no: paid.trade_no });
    expect(notice.success_time).toMatch(/\+08:00$/);
    // The same trade number for a second delivery of the same payment (idempotency key for callers).
    expect((await sandbox.pay('sbx_order_000001')).trade_no).toBe(paid.trade_no);
    expect(sandbox.callbackAnswer(true)).toEqual({ status: 200, body: { code: 'SUCCESS' } });
    expect(sandbox.callbackAnswer(false, 'bad', 401)).toEqual({ status: 401, body: { code: 'FAIL', message: 'bad' } });
  });

  it('refuses to pay an unknown trade and a tampered delivery', async () => {
    const sandbox = createSandboxProvider({ keys, deliver: async () => {} });
    await expect(sandbox.pay('never_started_1')).rejects.toMatchObject({ code: 'payment_trade_unknown' });
    await sandbox.start({ out_trade_no: 'sbx_order_000002', amount: 100, currency: 'CNY', description: 'x', scene: 'native', notify_url: 'http://127.0.0.1/cb' });
    const { headers, body } = sandbox.notice('sbx_order_000002', { amount: 1 });
    await expect(sandbox.verifyCallback(headers, body.replace('"encrypt-resource"', '"encrypt-resourcE"'))).rejects.toMatchObject({ code: 'payment_signature_invalid' });
    expect((await sandbox.verifyCallback(headers, body)).amount).toBe(1);
  });

  it('refund answers SUCCESS and can deliver a REFUND.SUCCESS notice', async () => {
    const delivered: string[] = [];
    const sandbox = createSandboxProvider({ keys, notify_refunds: true, deliver: async (h, b) => void delivered.push(JSON.stringify({ h, b })) });
    await sandbox.start({ out_trade_no: 'sbx_order_000003', amount: 500, currency: 'CNY', description: 'x', scene: 'h5', client_ip: '1.2.3.4', notify_url: 'http://127.0.0.1/cb' });
    const r = await sandbox.refund({ out_trade_no: 'sbx_order_000003', out_refund_no: 'rf_1', amount: 200, total: 500, currency: 'CNY', notify_url: 'http://127.0.0.1/cb' });
    expect(r.status).toBe('SUCCESS');
    const { h, b } = JSON.parse(delivered[0]!) as { h: Record<string, string>; b: string };
    expect(await sandbox.verifyCallback(h, b)).toMatchObject({ trade_state: 'REFUND', amount: 200, refund_id: r.refund_id, out_refund_no: 'rf_1', event_type: 'REFUND.SUCCESS' });
  });
});
