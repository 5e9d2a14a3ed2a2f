/**
 * The payments module's contract with the modules that take money (referral orders, ...): one
 * `PaymentProvider` per configured provider. Amounts are integer minor units (fen).
 */
export type PaymentScene = 'jsapi' | 'h5' | 'native';

export interface PaymentStartInput {
  /** 6-32 characters of [0-9A-Za-z_-|*], unique per merchant (WeChat's rule; a UUID without dashes fits). */
  out_trade_no: string;
  amount: number;
  currency: string;
  description: string;
  scene: PaymentScene;
  /** Required for the jsapi scene (the payer's openid under `appid`). */
  payer_openid?: string;
  /** Required for the h5 scene (WeChat checks it against the paying browser). */
  client_ip?: string;
  notify_url: string;
}

export interface PaymentStart {
  provider: string;
  out_trade_no: string;
  prepay_id?: string;
  /** h5 scene: the page the payer's mobile browser opens. */
  h5_url?: string;
  /** native scene: the text to show as a QR code. */
  code_url?: string;
  /** jsapi scene: the parameters for WeixinJSBridge `getBrandWCPayRequest` / `wx.chooseWXPay`. */
  jsapi_params?: Record<string, string>;
  /** sandbox: where a local "pay" page could be (only when the sandbox is given a `pay_url`). */
  sandbox_pay_url?: string;
}

export interface PaymentNotice {
  out_trade_no: string;
  /** The provider's transaction id (WeChat `transaction_id`). */
  trade_no: string;
  /** Paid amount (a payment notice) or refunded amount (a refund notice), minor units. */
  amount: number;
  currency: string;
  /** A payment's `trade_state`; a refund notice gives 'REFUND' when it succeeded, else 'REFUND_<status>'. */
  trade_state: 'SUCCESS' | 'REFUND' | 'CLOSED' | 'NOTPAY' | 'PAYERROR' | string;
  success_time: string | null;
  /** The callback's event id (WeChat `id`), when there is one. */
  event_id?: string;
  /** 'TRANSACTION.SUCCESS', 'REFUND.SUCCESS', ... */
  event_type?: string;
  /** Refund notices only. */
  out_refund_no?: string;
  refund_id?: string;
  /** The decrypted resource as the provider sent it. */
  raw: unknown;
}

export interface RefundInput {
  out_trade_no: string;
  out_refund_no: string;
  amount: number;
  total: number;
  currency: string;
  notify_url: string;
}

export interface PaymentProvider {
  readonly kind: 'wechat_pay' | 'sandbox';
  start(input: PaymentStartInput): Promise<PaymentStart>;
  /**
   * Verifies signature, timestamp freshness (5 minutes), and decrypts; throws an AppError with a
   * stable code (payment_signature_invalid, payment_timestamp_stale, payment_certificate_unknown,
   * payment_body_invalid) otherwise. rawBody is the exact bytes received.
   */
  verifyCallback(headers: Record<string, string | undefined>, rawBody: string): Promise<PaymentNotice>;
  /** What the provider expects as the HTTP answer to its callback. */
  /** `status` (4xx/5xx) for a refusal; default 500. WeChat retries any non-2xx answer. */
  callbackAnswer(ok: boolean, message?: string, status?: number): { status: number; body: unknown };
  refund(input: RefundInput): Promise<{ refund_id: string; status: string }>;
}

export interface KeyPairPem {
  serial_no: string;
  private_key_pem: string;
  public_key_pem: string;
}

/** Everything the sandbox needs, as plain strings (JSON-serialisable, storable sealed). */
export interface SandboxKeys {
  mchid: string;
  appid: string;
  /** The merchant's key pair: signs requests (and the JSAPI paySign). */
  merchant: KeyPairPem;
  /** The "platform" key pair: signs answers and callbacks, as WeChat's platform certificate does. */
  platform: KeyPairPem;
  /** 32 ASCII characters, the AES-256-GCM key of callback resources. */
  apiv3_key: string;
}

export interface WechatPayConfig {
  mchid: string;
  appid: string;
  /** Serial number of the merchant API certificate. */
  serial_no: string;
  private_key_pem: string;
  /** 32 characters. */
  apiv3_key: string;
  /** Platform certificates or WeChat Pay public keys (PEM, certificate or public key), by serial / key id. */
  platform_certificates: { serial_no: string; public_key_pem: string }[];
  /** Default https://api.mch.weixin.qq.com; tests point it at the local peer. */
  base_url?: string;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
  /** Per request; default 10 s. */
  timeout_ms?: number;
}
