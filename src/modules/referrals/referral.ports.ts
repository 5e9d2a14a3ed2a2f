import type { Executor } from '../../db/client.js';
import type { PaymentNotice, PaymentProvider } from '../payments/index.js';

/**
 * What the referral module needs from the payments and sync modules, as injected functions
 * (wired in app/services.ts); the payment types are the payments module's own.
 */
export type ProviderName = 'sandbox' | 'wechat_pay';

/** A verified payment notice (the payments module's PaymentNotice). */
export type VerifiedPayment = PaymentNotice;

/** What the referral module uses of a payments provider (start, verify a callback, answer it, refund). */
export type PaymentProviderPort = Pick<PaymentProvider, 'start' | 'verifyCallback' | 'callbackAnswer' | 'refund'>;

/** A provider a callback may come from; `tenantId` is whose credentials these are (null: the service's sandbox). */
export interface CallbackProvider {
  name: ProviderName;
  tenantId: string | null;
  provider: PaymentProviderPort;
}

export interface SyncJob {
  tenant_id: string;
  kind: 'order' | 'reward';
  record_id: string;
  order_id: string;
  record: Record<string, unknown>;
}

export interface ReferralPorts {
  /**
   * The tenant's provider of that name (the sandbox is the service's; wechat_pay is built from the
   * tenant's stored merchant credentials), or null (the campaign's payment then answers 503).
   */
  provider(tenantId: string, name: ProviderName): Promise<PaymentProviderPort | null>;
  /**
   * The providers that may have signed a callback (by its Wechatpay-Serial): the sandbox (tenant
   * null) and the wechat_pay credentials of each tenant that registered that platform serial.
   */
  callbackProviders(headers: Record<string, string | undefined>, hint?: ProviderName): Promise<CallbackProvider[]>;
  /** Enqueues the copy to the customer's database in the caller's transaction (the sync module); several records in one call. */
  syncEnqueue?: (trx: Executor, job: SyncJob | SyncJob[]) => Promise<void>;
  /** The sandbox provider's "pay" (a signed callback delivered in-process); absent: no sandbox payments. */
  sandboxPay?: (orderId: string, amount: number) => Promise<void>;
}
