import { generateKeyPairSync, randomInt, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_CLOCK_SKEW_SECONDS, parseAuthorization, platformHeaders, privateKey, publicKey, requestMessage, rsaVerify } from '../wechat-pay.crypto.js';
import { buildSignedNotice, isoBeijing, type RefundResource, type TransactionResource } from '../wechat-pay.notice.js';

/**
 * A local stand-in for api.mch.weixin.qq.com, for tests only: a node:http server that speaks the
 * v3 prepay (jsapi, h5, native) and refund endpoints, verifies the merchant's request signature
 * (Authorization: WECHATPAY2-SHA256-RSA2048 ...), answers with Wechatpay-* signed answers, and
 * produces signed, encrypted callbacks. It follows WeChat's public documentation; it is not WeChat.
 */

export interface WechatPayPeerOptions {
  mchid: string;
  appid: string;
  /** The merchant certificate the peer trusts (what the merchant uploaded to WeChat). */
  merchant: { serial_no: string; public_key_pem: string };
  /** The platform key the peer signs with (WeChat's platform certificate's private key). */
  platform: { serial_no: string; private_key_pem: string };
  apiv3_key: string;
  now?: () => number;
}

export interface PeerRequest {
  method: string;
  url: string;
  body: string;
  authorization: string | undefined;
  /** Whether the merchant signature verified (mchid, serial, 5-minute timestamp, RSA-SHA256). */
  verified: boolean;
  status: number;
}

interface PeerOrder {
  scene: string;
  amount: number;
  currency: string;
  openid?: string;
  notify_url: string;
  transaction_id: string;
  refunded: number;
  answer: Record<string, string>;
}

/** How the peer signs its answers: correctly, with a key that is not the platform's, or under an unknown serial. */
export type AnswerSigning = 'valid' | 'forged' | 'unknown_serial';

export interface WechatPayPeer {
  url: string;
  requests: PeerRequest[];
  orders: Map<string, PeerOrder>;
  answerSigning: AnswerSigning;
  /** A TRANSACTION.* callback for an order the peer has seen, signed and encrypted as WeChat does. */
  callback(outTradeNo: string, options?: { trade_state?: string; amount?: number; nowMs?: number }): { headers: Record<string, string>; body: string };
  /** A REFUND.* callback for a refund the peer has made. */
  refundCallback(outRefundNo: string, options?: { nowMs?: number }): { headers: Record<string, string>; body: string };
  /** POSTs `callback(outTradeNo)` to the order's notify_url; returns the answer. */
  notify(outTradeNo: string, options?: { trade_state?: string; amount?: number }): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

const PREPAY = /^\/v3\/pay\/transactions\/(jsapi|h5|native)$/;

export async function startWechatPayPeer(options: WechatPayPeerOptions): Promise<WechatPayPeer> {
  const now = options.now ?? Date.now;
  const merchantKey = publicKey(options.merchant.public_key_pem);
  const platform = { serial_no: options.platform.serial_no, key: privateKey(options.platform.private_key_pem) };
  const requests: PeerRequest[] = [];
  const orders = new Map<string, PeerOrder>();
  const refunds = new Map<string, RefundResource>();
  const digits = (n: number) => Array.from({ length: n }, () => randomInt(0, 10)).join('');

  function verify(req: IncomingMessage, body: string): string | null {
    const auth = parseAuthorization(req.headers.authorization);
    if (!auth) return 'Authorization is missing or not WECHATPAY2-SHA256-RSA2048';
    if (auth.mchid !== options.mchid) return 'mchid does not match';
    if (auth.serial_no !== options.merchant.serial_no) return 'unknown merchant certificate serial';
    if (Math.abs(Math.floor(now() / 1000) - Number(auth.timestamp)) > MAX_CLOCK_SKEW_SECONDS) return 'timestamp out of range';
    const message = requestMessage(req.method ?? '', req.url ?? '', auth.timestamp, auth.nonce_str, body);
    return rsaVerify(merchantKey, message, auth.signature) ? null : 'signature does not verify';
  }

  function answer(res: ServerResponse, status: number, payload: unknown): number {
    const body = payload === undefined ? '' : JSON.stringify(payload);
    const signer = peer.answerSigning === 'forged' ? { serial_no: platform.serial_no, key: forgeryKey() } : platform;
    const headers = platformHeaders(signer, body, String(Math.floor(now() / 1000)));
    if (peer.answerSigning === 'unknown_serial') headers['wechatpay-serial'] = 'UNKNOWN0SERIAL';
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body);
    return status;
  }

  const fail = (res: ServerResponse, status: number, code: string, message: string) => answer(res, status, { code, message });

  function handle(req: IncomingMessage, res: ServerResponse, raw: string): number {
    const error = verify(req, raw);
    if (error) return fail(res, 401, 'SIGN_ERROR', error);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return fail(res, 400, 'PARAM_ERROR', 'body is not JSON');
    }
    const amount = (body.amount ?? {}) as Record<string, unknown>;
    const prepay = PREPAY.exec(req.url ?? '');
    if (req.method === 'POST' && prepay) {
      const scene = prepay[1]!;
      if (body.appid !== options.appid || body.mchid !== options.mchid) return fail(res, 400, 'PARAM_ERROR', 'appid and mchid do not match');
      const outTradeNo = body.out_trade_no;
      if (typeof outTradeNo !== 'string' || !/^[0-9A-Za-z_\-|*]{6,32}$/.test(outTradeNo)) return fail(res, 400, 'PARAM_ERROR', 'out_trade_no');
      if (!Number.isSafeInteger(amount.total) || (amount.total as number) < 1) return fail(res, 400, 'PARAM_ERROR', 'amount.total');
      if (typeof body.description !== 'string' || typeof body.notify_url !== 'string') return fail(res, 400, 'PARAM_ERROR', 'description, notify_url');
      const payer = (body.payer ?? {}) as Record<string, unknown>;
      const sceneInfo = (body.scene_info ?? {}) as Record<string, unknown>;
      if (scene === 'jsapi' && typeof payer.openid !== 'string') return fail(res, 400, 'PARAM_ERROR', 'payer.openid');
      if (scene === 'h5' && (typeof sceneInfo.payer_client_ip !== 'string' || typeof sceneInfo.h5_info !== 'object')) return fail(res, 400, 'PARAM_ERROR', 'scene_info');
      const existing = orders.get(outTradeNo);
      if (existing) {
        if (existing.amount !== amount.total || existing.scene !== scene) return fail(res, 400, 'INVALID_REQUEST', 'out_trade_no reused with different parameters');
        return answer(res, 200, existing.answer);
      }
      const prepayId = `wx${digits(30)}`;
      const reply: Record<string, string> =
        scene === 'jsapi'
          ? { prepay_id: prepayId }
          : scene === 'h5'
            ? { h5_url: `${peer.url}/h5pay/checkmweb?prepay_id=${prepayId}&package=${digits(10)}` }
            : { code_url: `weixin://wxpay/bizpayurl?pr=${digits(7)}` };
      orders.set(outTradeNo, {
        scene,
        amount: amount.total as number,
        currency: typeof amount.currency === 'string' ? amount.currency : 'CNY',
        openid: payer.openid as string | undefined,
        notify_url: body.notify_url,
        transaction_id: `42000${digits(23)}`,
        refunded: 0,
        answer: reply,
      });
      return answer(res, 200, reply);
    }
    if (req.method === 'POST' && req.url === '/v3/refund/domestic/refunds') {
      const order = typeof body.out_trade_no === 'string' ? orders.get(body.out_trade_no) : undefined;
      if (!order) return fail(res, 404, 'RESOURCE_NOT_EXISTS', 'order not found');
      const outRefundNo = body.out_refund_no;
      if (typeof outRefundNo !== 'string') return fail(res, 400, 'PARAM_ERROR', 'out_refund_no');
      const refund = amount.refund;
      if (amount.total !== order.amount) return fail(res, 400, 'PARAM_ERROR', 'amount.total does not match the order');
      const previous = refunds.get(outRefundNo);
      if (previous) return answer(res, 200, refundView(previous, 'PROCESSING'));
      if (!Number.isSafeInteger(refund) || (refund as number) < 1 || order.refunded + (refund as number) > order.amount) {
        return fail(res, 403, 'NOT_ENOUGH', 'refund exceeds the refundable amount');
      }
      order.refunded += refund as number;
      const record: RefundResource = {
        mchid: options.mchid,
        out_trade_no: body.out_trade_no as string,
        transaction_id: order.transaction_id,
        out_refund_no: outRefundNo,
        refund_id: `50${digits(27)}`,
        refund_status: 'SUCCESS',
        success_time: isoBeijing(now()),
        amount: { total: order.amount, refund: refund as number, payer_total: order.amount, payer_refund: refund as number, currency: order.currency },
      };
      refunds.set(outRefundNo, record);
      return answer(res, 200, refundView(record, 'PROCESSING'));
    }
    return fail(res, 404, 'NOT_FOUND', 'no such endpoint on the peer');
  }

  function refundView(r: RefundResource, status: string) {
    return {
      refund_id: r.refund_id,
      out_refund_no: r.out_refund_no,
      transaction_id: r.transaction_id,
      out_trade_no: r.out_trade_no,
      channel: 'ORIGINAL',
      user_received_account: '支付用户零钱',
      create_time: isoBeijing(now()),
      status,
      amount: { total: r.amount.total, refund: r.amount.refund, payer_total: r.amount.total, payer_refund: r.amount.refund, currency: r.amount.currency },
    };
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const status = handle(req, res, body);
      requests.push({ method: req.method ?? '', url: req.url ?? '', body, authorization: req.headers.authorization, verified: status !== 401, status });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  function callback(outTradeNo: string, opts: { trade_state?: string; amount?: number; nowMs?: number } = {}) {
    const order = orders.get(outTradeNo);
    if (!order) throw new Error(`peer: no order ${outTradeNo}`);
    const state = opts.trade_state ?? 'SUCCESS';
    const total = opts.amount ?? order.amount;
    const resource: TransactionResource = {
      mchid: options.mchid,
      appid: options.appid,
      out_trade_no: outTradeNo,
      transaction_id: order.transaction_id,
      trade_type: order.scene === 'h5' ? 'MWEB' : order.scene.toUpperCase(),
      trade_state: state,
      trade_state_desc: state === 'SUCCESS' ? '支付成功' : state,
      bank_type: 'OTHERS',
      attach: '',
      success_time: isoBeijing(opts.nowMs ?? now()),
      payer: { openid: order.openid ?? 'peer-openid' },
      amount: { total, payer_total: total, currency: order.currency, payer_currency: order.currency },
    } as TransactionResource;
    return buildSignedNotice(platform, options.apiv3_key, resource, { nowMs: opts.nowMs ?? now() });
  }

  const peer: WechatPayPeer = {
    url: `http://127.0.0.1:${port}`,
    requests,
    orders,
    answerSigning: 'valid',
    callback,
    refundCallback(outRefundNo, opts = {}) {
      const r = refunds.get(outRefundNo);
      if (!r) throw new Error(`peer: no refund ${outRefundNo}`);
      return buildSignedNotice(platform, options.apiv3_key, r, { nowMs: opts.nowMs ?? now() });
    },
    async notify(outTradeNo, opts) {
      const order = orders.get(outTradeNo);
      if (!order) throw new Error(`peer: no order ${outTradeNo}`);
      const { headers, body } = callback(outTradeNo, opts);
      const res = await fetch(order.notify_url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      return { status: res.status, body: await res.text() };
    },
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
  return peer;
}

let forgery: KeyObject | undefined;
/** A key that is not the platform's, to sign forged answers with (generated once per process). */
function forgeryKey(): KeyObject {
  forgery ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  return forgery;
}
