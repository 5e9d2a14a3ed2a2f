import type { Executor } from '../../db/client.js';

/**
 * What the referral module needs from modules built beside it (payments, sync), as injected
 * functions (wired in app/services.ts), so that it depends on none of them directly.
 */
export type PaymentScene = 'jsapi' | 'h5' | 'native';
export type ProviderName = 'sandbox' | 'wechat_pay';

export interface PaymentStartInput {
  out_trade_no: string;
  amount: number;
  currency: string;
  description: string;
  scene: PaymentScene;
  payer_openid?: string;
  client_ip?: string;
  notify_url: string;
}

export interface PaymentStartResult {
  provider: string;
  out_trade_no: string;
  prepay_id?: string;
  h5_url?: string;
  code_url?: string;
  jsapi_params?: Record<string, string>;
  sandbox_pay_url?: string;
}

export interface VerifiedPayment {
  out_trade_no: string;
  trade_no: string;
  amount: number;
  currency: string;
  trade_state: string;
  success_time: string | null;
  raw?: unknown;
}

/** The shape of the payments module's provider (start, verify a callback, answer it). */
export interface PaymentProviderPort {
  start(input: PaymentStartInput): Promise<PaymentStartResult>;
  /** Throws an AppError when the signature, timestamp or body is not acceptable. */
  verifyCallback(headers: Record<string, string | undefined>, rawBody: string): Promise<VerifiedPayment>;
  callbackAnswer(ok: boolean, message?: string, status?: number): { status: number; body: unknown };
}

export interface SyncJob {
  tenant_id: string;
  kind: 'order' | 'reward';
  record_id: string;
  order_id: string;
  record: Record<string, unknown>;
}

export interface ReferralPorts {
  /** The configured provider of that name, or null (the campaign's payment then answers 503). */
  provider(name: ProviderName): PaymentProviderPort | null;
  /** Enqueues the copy to the customer's database in the caller's transaction (the sync module). */
  syncEnqueue?: (trx: Executor, job: SyncJob) => Promise<void>;
  /** The sandbox provider's "pay" (a signed callback delivered in-process); absent: no sandbox payments. */
  sandboxPay?: (orderId: string, amount: number) => Promise<void>;
}
