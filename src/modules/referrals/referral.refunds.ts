import { type Database, type Executor, inTransaction } from '../../db/client.js';
import { type Actor, requireTenant, type TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { isAppError } from '../../platform/errors.js';
import type { LedgerService } from '../ledger/index.js';
import { referralErrors } from './referral.errors.js';
import type { ProviderName, ReferralPorts, VerifiedPayment } from './referral.ports.js';
import * as repo from './referral.repo.js';
import * as refunds from './referral.refunds.repo.js';
import type { RefundView } from './referral.withdrawals.schemas.js';

/**
 * Refunds of paid referral orders. The request asks the order's provider (out_refund_no derived
 * from the order: a retry is the same refund); the refund settles when the provider confirms it
 * with a signed refund notice (WeChat's REFUND.SUCCESS, the sandbox's the same), in one
 * transaction: the refund requested -> succeeded (conditional: of parallel notices one wins), the
 * order refunded, its settled rewards reversed, and each referrer's BALANCE debited by the reward
 * through the ledger, never below zero: what the balance cannot cover becomes the user's debt,
 * paid first from their next referral rewards (payDebtFirst).
 */
export const REVERSAL_CAUSE = 'referral_reversal';

export const outRefundNo = (orderId: string) => `rf_${orderId}`;

export type RefundOutcome =
  | { kind: 'refunded'; order_id: string; reversed: number }
  | { kind: 'duplicate'; order_id: string }
  | { kind: 'ignored'; order_id: string; reason: string };

const serviceActor = (tenantId: string): TenantActor => ({ kind: 'tenant', tenantId, keyId: 'referrals', role: 'readonly', productCodes: null });

export function toRefundView(row: refunds.RefundRow, order: repo.OrderRow): RefundView {
  return {
    order_id: row.order_id,
    out_refund_no: row.out_refund_no,
    refund_id: row.refund_id,
    status: row.status,
    amount: Number(row.amount),
    currency: row.currency,
    reason: row.reason,
    order_status: order.status,
    requested_at: row.requested_at.toISOString(),
    settled_at: row.settled_at?.toISOString() ?? null,
  };
}

/**
 * A new reward's credit pays the user's debt first, on the reward's transaction: answers what
 * went to the debt (the ledger then credits the rest).
 */
export function payDebtFirst(trx: Executor, tenantId: string, userId: string, reward: number, now: Date): Promise<number> {
  return refunds.payDebt(trx, tenantId, userId, reward, now);
}

export function createReferralRefunds(deps: { db: Database; clock: Clock; ledger: LedgerService; ports: ReferralPorts; notifyUrl: string }) {
  const { db, clock, ledger, ports } = deps;

  /**
   * Takes `amount` back from the user's BALANCE as far as it goes, the rest as debt. The ledger's
   * conditional update refuses a debit below zero; when a concurrent spend moved the balance
   * between the read and the debit, it is read again.
   */
  async function clawBack(trx: Executor, tenantId: string, userId: string, amount: number, causeId: string, now: Date) {
    for (let attempt = 0; ; attempt++) {
      const { balances } = await ledger.getBalances(serviceActor(tenantId), userId, trx);
      const take = Math.min(Math.max(balances.find((b) => b.asset === 'BALANCE')?.balance ?? 0, 0), amount);
      if (take > 0) {
        try {
          await ledger.post(trx, { tenantId, userId, asset: 'BALANCE', amount: -take, entryType: 'REVOKE', causeType: REVERSAL_CAUSE, causeId, memo: `referral reward reversed (refund), ${causeId}` });
        } catch (err) {
          if (isAppError(err) && err.code === 'insufficient_balance' && attempt < 50) continue;
          throw err;
        }
      }
      if (amount > take) await refunds.addDebt(trx, tenantId, userId, amount - take, now);
      return { clawedBack: take, debt: amount - take };
    }
  }

  /** A verified refund notice (trade_state REFUND); `tenantId` is whose credentials verified it (null: the sandbox). */
  async function settle(notice: VerifiedPayment, provider: ProviderName, tenantId: string | null = null): Promise<RefundOutcome> {
    const orderId = notice.out_trade_no;
    const order = await repo.findOrder(db, orderId);
    if (!order || order.provider !== provider || (tenantId !== null && order.tenant_id !== tenantId)) throw referralErrors.orderNotFound(orderId);
    const refundNo = notice.out_refund_no ?? '';
    const refundId = notice.refund_id ?? '';
    if (notice.amount !== Number(order.amount)) {
      // Only a full refund reverses; a partial one (made outside this service) waits for an operator.
      await repo.flagOrder(db, orderId, `partial_refund: ${notice.amount} of ${order.amount}, ${refundNo}`, clock.now());
      return { kind: 'ignored', order_id: orderId, reason: 'partial_refund' };
    }
    return inTransaction(db, async (trx) => {
      const now = clock.now();
      const won =
        (await refunds.succeedRefund(trx, refundNo, refundId, now)) ??
        // A refund made outside this service (the merchant console): recorded as it is settled.
        (await refunds.insertRefund(trx, { out_refund_no: refundNo, tenant_id: order.tenant_id, order_id: orderId, amount: notice.amount, currency: notice.currency, status: 'succeeded', refund_id: refundId, reason: 'refunded outside the service', requested_at: now, settled_at: now }));
      if (!won) {
        if (await refunds.findRefund(trx, refundNo)) return { kind: 'duplicate', order_id: orderId };
        await repo.flagOrder(trx, orderId, `second_refund: ${refundNo}`, now);
        return { kind: 'ignored', order_id: orderId, reason: 'second_refund' };
      }
      await refunds.markRefunded(trx, orderId, now);
      const reversed = await refunds.reverseRewards(trx, orderId, now);
      for (const reward of reversed) {
        const { clawedBack, debt } = await clawBack(trx, reward.tenant_id, reward.user_id, Number(reward.amount), `${orderId}:${reward.level}`, now);
        await refunds.setReversal(trx, reward.reward_id, clawedBack, debt);
      }
      return { kind: 'refunded', order_id: orderId, reversed: reversed.length };
    });
  }

  return {
    settle,

    /**
     * An operator refunds a paid order through its provider. Answers the refund: `succeeded` once
     * the provider's notice settled it (the sandbox's arrives during the call), else `requested`.
     */
    async request(actor: Actor, orderId: string, reason: string | undefined): Promise<RefundView> {
      const tenantId = requireTenant(actor).tenantId;
      const order = await repo.findOrder(db, orderId);
      if (!order || order.tenant_id !== tenantId) throw referralErrors.orderNotFound(orderId);
      let refund = await refunds.findRefundByOrder(db, orderId);
      if (refund?.status === 'succeeded') return toRefundView(refund, order);
      if (!refund) {
        if (order.status !== 'paid') throw referralErrors.orderNotRefundable(orderId, order.status);
        const now = clock.now();
        refund =
          (await refunds.insertRefund(db, { out_refund_no: outRefundNo(orderId), tenant_id: tenantId, order_id: orderId, amount: Number(order.amount), currency: order.currency, status: 'requested', refund_id: null, reason: reason ?? null, requested_at: now, settled_at: null })) ??
          (await refunds.findRefundByOrder(db, orderId));
        if (!refund) throw referralErrors.orderNotFound(orderId);
        if (refund.status === 'succeeded') return toRefundView(refund, order);
      }
      const provider = await ports.provider(order.tenant_id, order.provider as ProviderName);
      if (!provider) throw referralErrors.providerUnavailable(order.provider);
      const answer = await provider.refund({
        out_trade_no: orderId,
        out_refund_no: refund.out_refund_no,
        amount: Number(refund.amount),
        total: Number(order.amount),
        currency: order.currency,
        notify_url: deps.notifyUrl,
      });
      await refunds.setRefundId(db, refund.out_refund_no, answer.refund_id);
      const [after, orderAfter] = [await refunds.findRefund(db, refund.out_refund_no), await repo.findOrder(db, orderId)];
      return toRefundView(after ?? refund, orderAfter ?? order);
    },

    /** What the user owes from reversed rewards (fen), paid first from their next rewards. */
    debt(tenantId: string, userId: string, exec: Executor = db): Promise<number> {
      return refunds.findDebt(exec, tenantId, userId);
    },
  };
}

export type ReferralRefunds = ReturnType<typeof createReferralRefunds>;
