/**
 * The decision the fast path makes from a mirror probe (redeem-code.mirror.ts): the same checks,
 * in the same order and with the same error codes and details, as the transaction in
 * redemption.service.ts, minus the campaign (not mirrored; the database checks it on success).
 * Only refusals come out of here; a code that looks fine goes on to the database.
 */
import type { TenantActor } from '../../platform/actor.js';
import { canSeeProduct } from '../../platform/actor.js';
import type { AppError } from '../../platform/errors.js';
import { redeemCodeErrors } from './redeem-code.errors.js';
import { type FastPathResult, type Probe, STORED_STATUS } from './redeem-code.mirror.js';
import type { CodeWithBatch } from './redeem-code.repo.js';
import { displayCode, isCaseSensitive, stripInput } from './redeem-code.rules.js';
import type { RedeemAttempt } from './redemption.service.js';

export function fastPathDecision(probe: Probe, tenant: TenantActor, a: RedeemAttempt, now: Date): { result: FastPathResult; refusal?: AppError } {
  if (probe.kind === 'unavailable') return { result: 'unavailable' };
  if (probe.kind === 'miss') return { result: 'miss' };
  if (probe.kind === 'unknown') return { result: 'refused_unknown', refusal: redeemCodeErrors.codeNotFound() };
  const { state, batch, code } = probe;
  // A case-sensitive code is only the exact spelling; anything else is the database's to judge.
  if (isCaseSensitive(batch.codeType) && code !== stripInput(a.code)) return { result: 'miss' };
  // A product-limited key does not see other products' batches: to it the code does not exist.
  if (!canSeeProduct(tenant, batch.productCode)) return { result: 'refused_unknown', refusal: redeemCodeErrors.codeNotFound() };
  const display = displayCode(code, { code_type: batch.codeType, prefix: batch.prefix, group_size: batch.groupSize });
  if (state.status === 'V' || batch.status === 'V') {
    return { result: 'refused_voided', refusal: redeemCodeErrors.codeVoided(display) };
  }
  if (batch.expiresAt !== null && batch.expiresAt <= now.getTime()) {
    return {
      result: 'refused_expired',
      refusal: redeemCodeErrors.codeExpired(display, new Date(batch.expiresAt).toISOString()),
    };
  }
  if (state.assignedUserId !== null && state.assignedUserId !== a.userId) {
    return { result: 'refused_not_assigned', refusal: redeemCodeErrors.notAssignedToUser(display) };
  }
  if (batch.applicableProducts && (a.productCode === null || !batch.applicableProducts.includes(a.productCode))) {
    return {
      result: 'refused_product',
      refusal: redeemCodeErrors.productNotApplicable(a.productCode, batch.applicableProducts),
    };
  }
  if (state.status === 'R' || state.uses >= state.maxUses) {
    return {
      result: 'refused_used',
      refusal: redeemCodeErrors.alreadyRedeemed(display, state.maxUses),
    };
  }
  return { result: 'passed' };
}

/**
 * The code and its batch as the mirror has them, for a redemption the fast path passed: the
 * redemption then skips reading them from the database, and its statement verifies them instead
 * (expect_batch in mh_redeem_batch, sql/mh_redeem_batch.sql; a mismatch is refused code_changed and the
 * redemption reads and tries again). Null for entries written before the mirror kept a code's seq
 * and its batch's reward.
 */
export function rowFromProbe(tenantId: string, probe: Extract<Probe, { kind: 'found' }>): CodeWithBatch | null {
  const { state, batch, code } = probe;
  if (state.seq === null || batch.rewardId === null) return null;
  return {
    tenant_id: tenantId,
    batch_id: state.batchId,
    seq: state.seq,
    code,
    status: STORED_STATUS[state.status],
    uses: state.uses,
    assigned_user_id: state.assignedUserId,
    assigned_at: null,
    last_redeemed_at: null,
    voided_at: null,
    campaign_id: batch.campaignId,
    reward_id: batch.rewardId,
    product_code: batch.productCode,
    code_type: batch.codeType,
    prefix: batch.prefix,
    group_size: batch.groupSize,
    expires_at: batch.expiresAt === null ? null : new Date(batch.expiresAt),
    max_uses: batch.maxUses,
    applicable_products: batch.applicableProducts,
    batch_status: batch.status === 'V' ? 'VOIDED' : 'DONE',
  };
}
