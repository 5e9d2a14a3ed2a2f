import type { Executor } from '../../db/client.js';
import type { PaymentNotice, PaymentProvider } from '../payments/index.js';

/**
 * What the referral module needs from the payments and sync modules, as injected functions
 * (wired in app/services.ts); the payment types are the payments module's own.
 */
export type ProviderName = 'sandbox' | 'wechat_pay';

/** A verified payment notice (the payments module's PaymentNotice). */
export type VerifiedPayment = PaymentNotice;

/** What the referral module uses of a payments provider (start, verify a callback, answer it). */
export type PaymentProviderPort = Pick<PaymentProvider, 'start' | 'verifyCallback' | 'callbackAnswer'>;

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
