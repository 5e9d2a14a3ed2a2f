import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import { paymentErrors } from './payment.errors.js';
import type { PaymentNotice, PaymentProvider, PaymentStart, SandboxKeys } from './payment.types.js';
import { jsapiParams, nonceStr, privateKey } from './wechat-pay.crypto.js';
import { buildSignedNotice, isoBeijing, readSignedNotice, wechatCallbackAnswer, type RefundResource, type TransactionResource } from './wechat-pay.notice.js';
import { certificateMap, checkRefundInput, checkStartInput } from './wechat-pay.provider.js';

/**
 * The sandbox provider: no network, no money. `start` remembers the payment; `pay` builds the
 * notice WeChat would send (resource encrypted with AEAD_AES_256_GCM under the APIv3 key, signed
 * with the generated platform key) and hands it to `deliver`, which posts it to the caller's own
 * callback route, where `verifyCallback` runs the same verification as for WeChat Pay.
 */

export function generateSandboxKeys(): SandboxKeys {
  const pair = () => {
    const { privateKey: priv, publicKey: pub } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return {
      serial_no: randomBytes(20).toString('hex').toUpperCase(),
      private_key_pem: priv.export({ type: 'pkcs8', format: 'pem' }) as string,
      public_key_pem: pub.export({ type: 'spki', format: 'pem' }) as string,
    };
  };
  return {
    mchid: `19${String(randomInt(10_000_000, 99_999_999))}`,
    appid: `wxsandbox${randomBytes(4).toString('hex')}`,
    merchant: pair(),
    platform: pair(),
    apiv3_key: randomBytes(24).toString('base64url').slice(0, 32),
  };
}

export interface SandboxConfig {
  keys: SandboxKeys;
  deliver: (headers: Record<string, string>, body: string) => Promise<void>;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
  /** When given, `start` answers `sandbox_pay_url: pay_url(out_trade_no)` (a local "pay" page). */
  pay_url?: (outTradeNo: string) => string;
  /** Deliver a REFUND.SUCCESS notice after each refund, as WeChat does (default false). */
  notify_refunds?: boolean;
}

export interface SandboxPayOptions {
  /** Pay a different amount than started (tests: an amount mismatch); default the started amount. */
  amount?: number;
  currency?: string;
  /** Default SUCCESS. */
  trade_state?: string;
  /** Pay without a prior `start` (e.g. after a restart): then amount is required. */
  payer_openid?: string;
}

export type SandboxProvider = PaymentProvider & {
  pay(out_trade_no: string, options?: SandboxPayOptions): Promise<PaymentNotice>;
  /** The signed callback `pay` would deliver, without delivering it (tests: replays, tampering). */
  notice(out_trade_no: string, options?: SandboxPayOptions): { headers: Record<string, string>; body: string; notice: PaymentNotice };
};

interface Started {
  amount: number;
  currency: string;
  scene: string;
  openid?: string;
  trade_no: string;
}

export function createSandboxProvider(config: SandboxConfig): SandboxProvider {
  const { keys } = config;
  const now = config.now ?? Date.now;
  const merchantKey = privateKey(keys.merchant.private_key_pem);
  const platform = { serial_no: keys.platform.serial_no, key: privateKey(keys.platform.private_key_pem) };
  const certificates = certificateMap([{ serial_no: keys.platform.serial_no, public_key_pem: keys.platform.public_key_pem }]);
  /** Started payments of this process (bounded: the oldest are forgotten first). */
  const started = new Map<string, Started>();
  const MAX_STARTED = 100_000;
  /** Refund ids by out_refund_no (bounded the same way). */
  const refunds = new Map<string, string>();
  const tradeNo = () => `42${String(Date.now()).slice(-10)}${String(randomInt(0, 1e9)).padStart(9, '0')}`;

  function build(outTradeNo: string, options: SandboxPayOptions = {}) {
    const s = started.get(outTradeNo);
    const amount = options.amount ?? s?.amount;
    if (amount === undefined) throw paymentErrors.tradeUnknown(outTradeNo);
    const currency = options.currency ?? s?.currency ?? 'CNY';
    const state = options.trade_state ?? 'SUCCESS';
    const resource: TransactionResource = {
      mchid: keys.mchid,
      appid: keys.appid,
      out_trade_no: outTradeNo,
      transaction_id: s?.trade_no ?? tradeNo(),
      trade_type: (s?.scene ?? 'native') === 'h5' ? 'MWEB' : (s?.scene ?? 'native').toUpperCase(),
      trade_state: state,
      trade_state_desc: state === 'SUCCESS' ? '支付成功' : state,
      success_time: isoBeijing(now()),
      payer: { openid: options.payer_openid ?? s?.openid ?? 'sandbox-openid' },
      amount: { total: amount, payer_total: amount, currency, payer_currency: currency },
    };
    if (state !== 'SUCCESS') delete resource.success_time;
    const signed = buildSignedNotice(platform, keys.apiv3_key, resource, { nowMs: now() });
    const notice = readSignedNotice(certificates, keys.apiv3_key, signed.headers, signed.body, now());
    return { ...signed, notice };
  }

  return {
    kind: 'sandbox',

    async start(input) {
      checkStartInput(input);
      if (started.size >= MAX_STARTED) started.delete(started.keys().next().value as string);
      const prev = started.get(input.out_trade_no);
      started.set(input.out_trade_no, {
        amount: input.amount,
        currency: input.currency,
        scene: input.scene,
        openid: input.payer_openid,
        trade_no: prev?.trade_no ?? tradeNo(),
      });
      const prepayId = `wx_sandbox_${nonceStr().toLowerCase()}`;
      const out: PaymentStart = { provider: 'sandbox', out_trade_no: input.out_trade_no, prepay_id: prepayId };
      if (input.scene === 'jsapi') out.jsapi_params = jsapiParams(keys.appid, prepayId, merchantKey, String(Math.floor(now() / 1000)));
      if (input.scene === 'h5') out.h5_url = config.pay_url?.(input.out_trade_no) ?? `sandbox://pay/${input.out_trade_no}`;
      if (input.scene === 'native') out.code_url = `weixin://wxpay/bizpayurl?pr=sandbox_${input.out_trade_no}`;
      if (config.pay_url) out.sandbox_pay_url = config.pay_url(input.out_trade_no);
      return out;
    },

    notice: build,

    async pay(outTradeNo, options) {
      const { headers, body, notice } = build(outTradeNo, options);
      await config.deliver(headers, body);
      return notice;
    },

    async verifyCallback(headers, rawBody) {
      return readSignedNotice(certificates, keys.apiv3_key, headers, rawBody, now());
    },

    callbackAnswer: wechatCallbackAnswer,

    async refund(input) {
      checkRefundInput(input);
      // As WeChat: a refund is one per out_refund_no; a retry answers (and notifies) the same refund_id.
      const refundId = refunds.get(input.out_refund_no) ?? `50${String(Date.now()).slice(-10)}${String(randomInt(0, 1e9)).padStart(9, '0')}`;
      if (refunds.size >= MAX_STARTED) refunds.delete(refunds.keys().next().value as string);
      refunds.set(input.out_refund_no, refundId);
      if (config.notify_refunds) {
        const resource: RefundResource = {
          mchid: keys.mchid,
          out_trade_no: input.out_trade_no,
          transaction_id: started.get(input.out_trade_no)?.trade_no ?? tradeNo(),
          out_refund_no: input.out_refund_no,
          refund_id: refundId,
          refund_status: 'SUCCESS',
          success_time: isoBeijing(now()),
          amount: { total: input.total, refund: input.amount, payer_total: input.total, payer_refund: input.amount, currency: input.currency },
        };
        const signed = buildSignedNotice(platform, keys.apiv3_key, resource, { nowMs: now() });
        await config.deliver(signed.headers, signed.body);
      }
      return { refund_id: refundId, status: 'SUCCESS' };
    },
  };
}
