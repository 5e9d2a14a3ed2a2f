import type { KeyObject } from 'node:crypto';
import { invalidRequest } from '../../platform/errors.js';
import { paymentErrors } from './payment.errors.js';
import type { PaymentProvider, PaymentStart, PaymentStartInput, RefundInput, WechatPayConfig } from './payment.types.js';
import { authorizationHeader, jsapiParams, privateKey, publicKey, verifyPlatformSignature, type MerchantSigner } from './wechat-pay.crypto.js';
import { readSignedNotice, wechatCallbackAnswer } from './wechat-pay.notice.js';

/**
 * WeChat Pay API v3: signed requests for prepay (JSAPI, H5, Native) and refunds, answers and
 * callbacks verified with the platform certificate, callback resources decrypted.
 */

export const WECHAT_PAY_BASE_URL = 'https://api.mch.weixin.qq.com';

const PREPAY_PATH: Record<PaymentStartInput['scene'], string> = {
  jsapi: '/v3/pay/transactions/jsapi',
  h5: '/v3/pay/transactions/h5',
  native: '/v3/pay/transactions/native',
};

export function certificateMap(certs: { serial_no: string; public_key_pem: string }[]): Map<string, KeyObject> {
  return new Map(certs.map((c) => [c.serial_no, publicKey(c.public_key_pem)]));
}

/** Field checks shared by every provider, so the sandbox refuses what WeChat would. */
export function checkStartInput(input: PaymentStartInput): void {
  if (!/^[0-9A-Za-z_\-|*]{6,32}$/.test(input.out_trade_no)) throw invalidRequest('out_trade_no', '6-32 characters of [0-9A-Za-z_-|*]');
  if (!Number.isSafeInteger(input.amount) || input.amount < 1) throw invalidRequest('amount', 'a positive integer (minor units)');
  if (!/^[A-Z]{3}$/.test(input.currency)) throw invalidRequest('currency', 'a 3-letter ISO code such as CNY');
  if (input.description.length < 1 || input.description.length > 127) throw invalidRequest('description', '1-127 characters');
  if (input.scene === 'jsapi' && !input.payer_openid) throw invalidRequest('payer_openid', 'required for the jsapi scene');
  if (input.scene === 'h5' && !input.client_ip) throw invalidRequest('client_ip', 'required for the h5 scene');
  if (!/^https?:\/\//.test(input.notify_url)) throw invalidRequest('notify_url', 'an absolute http(s) URL');
}

export function checkRefundInput(input: RefundInput): void {
  if (!/^[0-9A-Za-z_\-|*@]{1,64}$/.test(input.out_refund_no)) throw invalidRequest('out_refund_no', '1-64 characters of [0-9A-Za-z_-|*@]');
  if (!Number.isSafeInteger(input.total) || input.total < 1) throw invalidRequest('total', 'a positive integer (minor units)');
  if (!Number.isSafeInteger(input.amount) || input.amount < 1 || input.amount > input.total) throw invalidRequest('amount', 'a positive integer not above total');
}

/** The body WeChat expects for a prepay request. */
export function prepayBody(config: { appid: string; mchid: string }, input: PaymentStartInput): Record<string, unknown> {
  const body: Record<string, unknown> = {
    appid: config.appid,
    mchid: config.mchid,
    description: input.description,
    out_trade_no: input.out_trade_no,
    notify_url: input.notify_url,
    amount: { total: input.amount, currency: input.currency },
  };
  if (input.scene === 'jsapi') body.payer = { openid: input.payer_openid };
  if (input.scene === 'h5') body.scene_info = { payer_client_ip: input.client_ip, h5_info: { type: 'Wap' } };
  if (input.scene === 'native' && input.client_ip) body.scene_info = { payer_client_ip: input.client_ip };
  return body;
}

export function createWechatPayProvider(config: WechatPayConfig): PaymentProvider {
  const baseUrl = (config.base_url ?? WECHAT_PAY_BASE_URL).replace(/\/+$/, '');
  const now = config.now ?? Date.now;
  const timeoutMs = config.timeout_ms ?? 10_000;
  const key = privateKey(config.private_key_pem);
  const signer: MerchantSigner = { mchid: config.mchid, serial_no: config.serial_no, key };
  const certificates = certificateMap(config.platform_certificates);
  if (Buffer.byteLength(config.apiv3_key, 'utf8') !== 32) throw new Error('wechat pay: apiv3_key must be 32 bytes');

  /** One signed request; the answer's signature is verified before its body is trusted. */
  async function call(method: 'GET' | 'POST', path: string, payload?: unknown): Promise<Record<string, unknown>> {
    const body = payload === undefined ? '' : JSON.stringify(payload);
    const timestamp = String(Math.floor(now() / 1000));
    let res: Response;
    try {
      res = await fetch(baseUrl + path, {
        method,
        headers: {
          authorization: authorizationHeader(signer, method, path, body, timestamp),
          accept: 'application/json',
          'content-type': 'application/json',
          'user-agent': 'marketing-hub-payments',
        },
        body: method === 'GET' ? undefined : body,
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      throw paymentErrors.providerUnreachable(err instanceof Error ? err.message : String(err));
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const answer = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
    if (!res.ok) {
      throw paymentErrors.providerError(res.status, typeof answer?.code === 'string' ? answer.code : undefined, typeof answer?.message === 'string' ? answer.message : undefined);
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    try {
      verifyPlatformSignature(certificates, headers, text, now());
    } catch (err) {
      throw paymentErrors.responseInvalid('The payment provider answer is not signed by a known platform certificate', {
        cause: (err as { code?: string }).code ?? null,
      });
    }
    if (!answer) throw paymentErrors.responseInvalid('The payment provider answer is not JSON');
    return answer;
  }

  return {
    kind: 'wechat_pay',

    async start(input) {
      checkStartInput(input);
      const answer = await call('POST', PREPAY_PATH[input.scene], prepayBody(config, input));
      const out: PaymentStart = { provider: 'wechat_pay', out_trade_no: input.out_trade_no };
      if (input.scene === 'jsapi') {
        if (typeof answer.prepay_id !== 'string') throw paymentErrors.responseInvalid('The prepay answer has no prepay_id');
        out.prepay_id = answer.prepay_id;
        out.jsapi_params = jsapiParams(config.appid, answer.prepay_id, key, String(Math.floor(now() / 1000)));
      } else if (input.scene === 'h5') {
        if (typeof answer.h5_url !== 'string') throw paymentErrors.responseInvalid('The prepay answer has no h5_url');
        out.h5_url = answer.h5_url;
      } else {
        if (typeof answer.code_url !== 'string') throw paymentErrors.responseInvalid('The prepay answer has no code_url');
        out.code_url = answer.code_url;
      }
      return out;
    },

    async verifyCallback(headers, rawBody) {
      const notice = readSignedNotice(certificates, config.apiv3_key, headers, rawBody, now());
      // Verified and decrypted with these credentials, yet about another merchant: not ours to act on.
      const mchid = (notice.raw as { mchid?: unknown } | null)?.mchid;
      if (mchid !== config.mchid) throw paymentErrors.merchantMismatch(config.mchid, mchid);
      return notice;
    },

    callbackAnswer: wechatCallbackAnswer,

    async refund(input) {
      checkRefundInput(input);
      const answer = await call('POST', '/v3/refund/domestic/refunds', {
        out_trade_no: input.out_trade_no,
        out_refund_no: input.out_refund_no,
        notify_url: input.notify_url,
        amount: { refund: input.amount, total: input.total, currency: input.currency },
      });
      if (typeof answer.refund_id !== 'string' || typeof answer.status !== 'string') {
        throw paymentErrors.responseInvalid('The refund answer has no refund_id or status');
      }
      return { refund_id: answer.refund_id, status: answer.status };
    },
  };
}
