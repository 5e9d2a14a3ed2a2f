import { randomUUID, type KeyObject } from 'node:crypto';
import { paymentErrors } from './payment.errors.js';
import type { PaymentNotice } from './payment.types.js';
import { decryptResource, encryptResource, platformHeaders, verifyPlatformSignature } from './wechat-pay.crypto.js';

/**
 * WeChat Pay v3 callback notices: building a signed, encrypted one (the sandbox and the test
 * peer) and verifying, decrypting and reading one (every provider). One code path for both.
 */

/** The decrypted resource of a TRANSACTION.* notice (the fields this module reads). */
export interface TransactionResource {
  mchid?: string;
  appid?: string;
  out_trade_no: string;
  transaction_id: string;
  trade_type?: string;
  trade_state: string;
  trade_state_desc?: string;
  success_time?: string;
  payer?: { openid?: string };
  amount: { total: number; payer_total?: number; currency: string; payer_currency?: string };
}

/** The decrypted resource of a REFUND.* notice. */
export interface RefundResource {
  mchid?: string;
  out_trade_no: string;
  transaction_id: string;
  out_refund_no: string;
  refund_id: string;
  refund_status: string;
  success_time?: string;
  amount: { total: number; refund: number; payer_total?: number; payer_refund?: number; currency?: string };
}

export function eventTypeOf(resource: TransactionResource | RefundResource): string {
  if ('refund_status' in resource) return `REFUND.${resource.refund_status === 'SUCCESS' ? 'SUCCESS' : resource.refund_status === 'CLOSED' ? 'CLOSED' : 'ABNORMAL'}`;
  return resource.trade_state === 'SUCCESS' ? 'TRANSACTION.SUCCESS' : `TRANSACTION.${resource.trade_state}`;
}

/** A notice exactly as WeChat sends it: JSON body with the encrypted resource, Wechatpay-* headers. */
export function buildSignedNotice(
  platform: { serial_no: string; key: KeyObject },
  apiv3Key: string,
  resource: TransactionResource | RefundResource,
  options: { nowMs?: number; eventId?: string; associatedData?: string } = {},
): { headers: Record<string, string>; body: string } {
  const nowMs = options.nowMs ?? Date.now();
  const isRefund = 'refund_status' in resource;
  const eventType = eventTypeOf(resource);
  const body = JSON.stringify({
    id: options.eventId ?? randomUUID(),
    create_time: isoBeijing(nowMs),
    resource_type: 'encrypt-resource',
    event_type: eventType,
    summary: isRefund ? '退款成功' : '支付成功',
    resource: encryptResource(apiv3Key, JSON.stringify(resource), options.associatedData ?? (isRefund ? 'refund' : 'transaction'), isRefund ? 'refund' : 'transaction'),
  });
  return { headers: platformHeaders(platform, body, String(Math.floor(nowMs / 1000))), body };
}

/** RFC 3339 at +08:00, the way WeChat writes times. */
export function isoBeijing(ms: number): string {
  return `${new Date(ms + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): v is string => typeof v === 'string';
const int = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Verifies (signature, certificate, 5-minute freshness) and decrypts a callback, then reads it
 * as a PaymentNotice. Throws payment_certificate_unknown, payment_timestamp_stale,
 * payment_signature_invalid or payment_body_invalid.
 */
export function readSignedNotice(
  certificates: ReadonlyMap<string, KeyObject>,
  apiv3Key: string,
  headers: Record<string, string | undefined>,
  rawBody: string,
  nowMs: number,
): PaymentNotice {
  verifyPlatformSignature(certificates, headers, rawBody, nowMs);
  let envelope: unknown;
  try {
    envelope = JSON.parse(rawBody);
  } catch {
    throw paymentErrors.bodyInvalid('The notice body is not JSON');
  }
  if (!isRecord(envelope) || !isRecord(envelope.resource)) throw paymentErrors.bodyInvalid('The notice has no resource');
  const r = envelope.resource;
  if (r.algorithm !== 'AEAD_AES_256_GCM' || !str(r.ciphertext) || !str(r.nonce) || (r.associated_data !== undefined && !str(r.associated_data))) {
    throw paymentErrors.bodyInvalid('The notice resource is not AEAD_AES_256_GCM');
  }
  const plaintext = decryptResource(apiv3Key, { ciphertext: r.ciphertext, nonce: r.nonce, associated_data: r.associated_data as string | undefined });
  let data: unknown;
  try {
    data = JSON.parse(plaintext);
  } catch {
    throw paymentErrors.bodyInvalid('The notice resource is not JSON');
  }
  const eventId = str(envelope.id) ? envelope.id : undefined;
  const eventType = str(envelope.event_type) ? envelope.event_type : undefined;
  if (!isRecord(data) || !str(data.out_trade_no) || !str(data.transaction_id) || !isRecord(data.amount) || !int(data.amount.total)) {
    throw paymentErrors.bodyInvalid('The notice resource lacks out_trade_no, transaction_id or amount');
  }
  const successTime = str(data.success_time) ? data.success_time : null;
  if (str(data.refund_status)) {
    if (!str(data.out_refund_no) || !str(data.refund_id) || !int(data.amount.refund)) {
      throw paymentErrors.bodyInvalid('The refund notice lacks out_refund_no, refund_id or amount.refund');
    }
    return {
      out_trade_no: data.out_trade_no,
      trade_no: data.transaction_id,
      amount: data.amount.refund,
      currency: str(data.amount.currency) ? data.amount.currency : 'CNY',
      trade_state: data.refund_status === 'SUCCESS' ? 'REFUND' : `REFUND_${data.refund_status}`,
      success_time: successTime,
      event_id: eventId,
      event_type: eventType,
      out_refund_no: data.out_refund_no,
      refund_id: data.refund_id,
      raw: data,
    };
  }
  if (!str(data.trade_state) || !str(data.amount.currency)) throw paymentErrors.bodyInvalid('The notice resource lacks trade_state or currency');
  return {
    out_trade_no: data.out_trade_no,
    trade_no: data.transaction_id,
    amount: data.amount.total,
    currency: data.amount.currency,
    trade_state: data.trade_state,
    success_time: successTime,
    event_id: eventId,
    event_type: eventType,
    raw: data,
  };
}

/** WeChat expects 200/204 on success, 4xx/5xx with {"code":"FAIL","message"} otherwise (then it retries). */
export function wechatCallbackAnswer(ok: boolean, message?: string, status?: number): { status: number; body: unknown } {
  if (ok) return { status: 200, body: { code: 'SUCCESS' } };
  const failStatus = status !== undefined && status >= 400 && status <= 599 ? status : 500;
  return { status: failStatus, body: { code: 'FAIL', message: message ?? 'failed' } };
}
