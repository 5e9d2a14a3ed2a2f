import { type Database, type Executor, inTransaction } from '../../db/client.js';
import type { Clock } from '../../platform/clock.js';
import { AppError, isAppError } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import type { LedgerService } from '../ledger/index.js';
import { referralErrors } from './referral.errors.js';
import type { PaymentProviderPort, ProviderName, ReferralPorts, VerifiedPayment } from './referral.ports.js';
import * as repo from './referral.repo.js';
import type { PayInput } from './referral.schemas.js';
import { computeReward, type ReferralService, toPublicOrder, toRewardView } from './referral.service.js';
import { createReferralRefunds, payDebtFirst, type RefundOutcome } from './referral.refunds.js';
import { setRewardDebtPaid } from './referral.refunds.repo.js';
import { createReferralWithdrawals } from './referral.withdrawals.js';

export interface ReferralPaymentDeps {
  db: Database;
  clock: Clock;
  ledger: LedgerService;
  referrals: ReferralService;
  ports: ReferralPorts;
  /** Where providers post their callbacks (`{public_url}/api/v1/orders/payment/notify`). */
  notifyUrl: string;
  /** A pending order older than this is cancelled by the sweep (cancelUnpaid). */
  unpaidTimeoutMs?: number;
}

/** The ledger cause of a referral reward: one credit per (order, level), whatever repeats. */
export const REWARD_CAUSE = 'referral_reward';

export type SettleOutcome =
  | { kind: 'paid'; order_id: string; rewards: number }
  | { kind: 'duplicate'; order_id: string }
  | { kind: 'ignored'; order_id: string; reason: string };

export type ReferralPayments = ReturnType<typeof createReferralPayments>;

export function createReferralPayments(deps: ReferralPaymentDeps) {
  const { db, clock, ledger, referrals, ports } = deps;

  /** Credits one level's reward once (the reward row's unique (order, level) and the ledger cause both dedupe). */
  async function reward(trx: Executor, order: repo.OrderRow, userId: string, level: 1 | 2, amount: number, now: Date) {
    if (amount <= 0) return null;
    const row = await repo.insertReward(trx, {
      reward_id: newId('rfr', now.getTime()),
      tenant_id: order.tenant_id,
      order_id: order.order_id,
      campaign_id: order.campaign_id,
      user_id: userId,
      level,
      amount,
      status: 'settled',
      ledger_entry_id: null,
      settled_at: now,
      created_at: now,
    });
    if (!row) return null;
    // The user's debt (rewards reversed by refunds that the balance could not cover) is paid first.
    const debtPaid = await payDebtFirst(trx, order.tenant_id, userId, amount, now);
    if (debtPaid > 0) await setRewardDebtPaid(trx, row.reward_id, debtPaid);
    if (debtPaid >= amount) return { ...row, debt_paid: debtPaid };
    const entry = await ledger.post(trx, {
      tenantId: order.tenant_id,
      userId,
      asset: 'BALANCE',
      amount: amount - debtPaid,
      entryType: 'GRANT',
      causeType: REWARD_CAUSE,
      causeId: `${order.order_id}:${level}`,
      memo: `referral reward, order ${order.order_id}`,
    });
    await repo.setRewardEntry(trx, row.reward_id, entry.entry_id);
    return { ...row, debt_paid: debtPaid, ledger_entry_id: entry.entry_id };
  }

  /**
   * One transaction: the order pending -> paid (conditional: of parallel callbacks one wins), the
   * referrer's reward (and the second level's, when on) written and credited to BALANCE through
   * the ledger, and the sync jobs of the order and its rewards enqueued.
   */
  async function settle(notice: VerifiedPayment, provider: ProviderName, tenantId: string | null = null): Promise<SettleOutcome> {
    const orderId = notice.out_trade_no;
    const order = await repo.findOrder(db, orderId);
    if (!order) throw referralErrors.orderNotFound(orderId);
    if (order.provider !== provider) throw referralErrors.orderNotFound(orderId);
    // A tenant's merchant credentials pay that tenant's orders only.
    if (tenantId !== null && order.tenant_id !== tenantId) throw referralErrors.orderNotFound(orderId);
    if (notice.amount !== Number(order.amount) || notice.currency !== order.currency) {
      await repo.flagOrder(db, orderId, `amount_mismatch: paid ${notice.amount} ${notice.currency}, trade_no ${notice.trade_no}`, clock.now());
      throw referralErrors.amountMismatch(orderId, Number(order.amount), notice.amount);
    }
    return inTransaction(db, async (trx) => {
      const now = clock.now();
      const paidAt = notice.success_time ? new Date(notice.success_time) : now;
      const paid = await repo.markPaid(trx, orderId, notice.trade_no, notice.amount, Number.isNaN(paidAt.getTime()) ? now : paidAt, now);
      if (!paid) {
        const current = await repo.findOrder(trx, orderId);
        if (current?.trade_no === notice.trade_no) return { kind: 'duplicate', order_id: orderId };
        // Money arrived for an order that is not pending (cancelled, or paid by another trade): an operator refunds it.
        await repo.flagOrder(trx, orderId, `unexpected_payment: ${notice.trade_no} while ${current?.status ?? 'missing'}`, now);
        return { kind: 'ignored', order_id: orderId, reason: current?.status ?? 'missing' };
      }
      const settings = await repo.findSettings(trx, paid.tenant_id, paid.campaign_id);
      const rewards = [];
      if (settings && paid.referrer_id) {
        const amount = computeReward(settings.reward_kind, Number(settings.reward_value), settings.reward_cap === null ? null : Number(settings.reward_cap), Number(paid.amount));
        const first = await reward(trx, paid, paid.referrer_id, 1, amount, now);
        if (first) rewards.push(first);
        if (settings.second_level_rate !== null) {
          const up = await repo.findReferrerOf(trx, paid.tenant_id, paid.campaign_id, paid.referrer_id);
          const second = up?.referrer_id;
          if (second && second !== paid.referrer_id && second !== paid.phone) {
            const level2 = await reward(trx, paid, second, 2, computeReward('percent', settings.second_level_rate, null, Number(paid.amount)), now);
            if (level2) rewards.push(level2);
          }
        }
      }
      if (ports.syncEnqueue) {
        const { form_data: formData, ...orderFields } = paid;
        // The order and its rewards in one call (one statement and one job insert, not one each).
        await ports.syncEnqueue(trx, [
          {
            tenant_id: paid.tenant_id,
            kind: 'order',
            record_id: paid.order_id,
            order_id: paid.order_id,
            record: { ...orderFields, form_data: formData, amount: Number(paid.amount), created_at: paid.created_at.toISOString(), paid_at: paid.paid_at?.toISOString() ?? null },
          },
          ...rewards.map((r) => ({ tenant_id: r.tenant_id, kind: 'reward' as const, record_id: r.reward_id, order_id: r.order_id, record: { ...toRewardView(r), tenant_id: r.tenant_id } })),
        ]);
      }
      return { kind: 'paid', order_id: orderId, rewards: rewards.length };
    });
  }

  const refunds = createReferralRefunds({ db, clock, ledger, ports, notifyUrl: deps.notifyUrl });

  const service = {
    /** Keyless: starts the payment of a pending order through the campaign's provider. */
    async startPayment(orderId: string, input: PayInput, clientIp: string) {
      const order = await repo.findOrder(db, orderId);
      if (!order) throw referralErrors.orderNotFound(orderId);
      const { campaign } = await referrals.openPage(order.campaign_id);
      if (order.status !== 'pending') throw referralErrors.orderNotPayable(orderId, order.status);
      const provider = await ports.provider(order.tenant_id, order.provider as ProviderName);
      if (!provider) throw referralErrors.providerUnavailable(order.provider);
      await repo.markPaying(db, orderId, clock.now());
      const started = await provider.start({
        out_trade_no: order.order_id,
        amount: Number(order.amount),
        currency: order.currency,
        description: campaign.campaign_name.slice(0, 120),
        scene: input.scene ?? 'h5',
        ...(input.payer_openid !== undefined ? { payer_openid: input.payer_openid } : {}),
        client_ip: clientIp,
        notify_url: deps.notifyUrl,
      });
      return { order_id: orderId, ...started };
    },

    settle,

    /** Refunds (referral.refunds.ts): an operator's request, a verified refund notice, a user's debt. */
    refund: refunds.request,
    settleRefund: refunds.settle,
    debt: refunds.debt,
    /** Withdrawals of a user's BALANCE (referral.withdrawals.ts). */
    withdrawals: createReferralWithdrawals({ db, clock, ledger }),

    /**
     * The sweep: pending orders older than `unpaidTimeoutMs` become `cancelled` (a payment arriving
     * later is acknowledged and the order flagged `unexpected_payment` for a refund). Answers how many.
     */
    async cancelUnpaid(limit = 1000): Promise<number> {
      const now = clock.now();
      return repo.cancelUnpaid(db, new Date(now.getTime() - (deps.unpaidTimeoutMs ?? 30 * 60_000)), now, limit);
    },

    /**
     * Keyless, sandbox campaigns only: pays a pending order as the payer would, through the
     * sandbox's signed callback (the same verification and settlement as a real one).
     */
    async sandboxPay(orderId: string) {
      const order = await repo.findOrder(db, orderId);
      if (!order || order.provider !== 'sandbox' || !ports.sandboxPay) throw referralErrors.orderNotFound(orderId);
      await referrals.openPage(order.campaign_id);
      if (order.status !== 'pending') throw referralErrors.orderNotPayable(orderId, order.status);
      await ports.sandboxPay(orderId, Number(order.amount));
      const after = await repo.findOrder(db, orderId);
      return toPublicOrder(after ?? order);
    },

    /**
     * A provider's callback: verified by the provider named in `hint` or, without one, by the
     * first configured provider whose keys accept it; then settled. Answers what the provider expects.
     */
    async handleCallback(headers: Record<string, string | undefined>, rawBody: string, hint?: ProviderName): Promise<{ status: number; body: unknown; outcome?: SettleOutcome | RefundOutcome; error?: AppError }> {
      const candidates = await ports.callbackProviders(headers, hint);
      const answerer = candidates[0]?.provider;
      if (!answerer) {
        // No provider knows the callback's Wechatpay-Serial (no tenant registered that platform serial).
        const error = new AppError('unauthorized', 'payment_certificate_unknown', 'The payment message is signed with an unknown certificate', { serial: headers['wechatpay-serial'] ?? null });
        return { status: error.status, body: { code: 'FAIL', message: error.code }, error };
      }
      let verified: { name: ProviderName; tenantId: string | null; provider: PaymentProviderPort; notice: VerifiedPayment } | null = null;
      let refusal: AppError | null = null;
      for (const { name, tenantId, provider } of candidates) {
        try {
          verified = { name, tenantId, provider, notice: await provider.verifyCallback(headers, rawBody) };
          break;
        } catch (err) {
          if (!isAppError(err)) throw err;
          // A provider that does not know the serial says least about the callback: any other refusal wins.
          if (!refusal || refusal.code === 'payment_certificate_unknown') refusal = err;
        }
      }
      if (!verified) {
        const error = refusal ?? new AppError('unauthorized', 'payment_signature_invalid', 'The callback could not be verified');
        return { ...answerer.callbackAnswer(false, error.code, error.status), error };
      }
      const { provider, notice } = verified;
      // A successful refund settles the refund (other refund states are acknowledged).
      if (notice.trade_state === 'REFUND') {
        try {
          return { ...provider.callbackAnswer(true), outcome: await refunds.settle(notice, verified.name, verified.tenantId) };
        } catch (err) {
          if (!isAppError(err)) throw err;
          return { ...provider.callbackAnswer(false, err.code, err.status), error: err };
        }
      }
      // Only a successful payment moves an order; other notices (NOTPAY, CLOSED, refunds) are acknowledged.
      if (notice.trade_state !== 'SUCCESS') return { ...provider.callbackAnswer(true), outcome: { kind: 'ignored', order_id: notice.out_trade_no, reason: notice.trade_state } };
      try {
        const outcome = await settle(notice, verified.name, verified.tenantId);
        return { ...provider.callbackAnswer(true), outcome };
      } catch (err) {
        if (!isAppError(err)) throw err;
        return { ...provider.callbackAnswer(false, err.code, err.status), error: err };
      }
    },
  };
  return service;
}
