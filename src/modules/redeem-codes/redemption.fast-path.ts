/**
 * The decision the fast path makes from a mirror probe (redeem-code.mirror.ts): the checks of
 * redemption.checks.ts, in their one order and with the same errors as the read and the row lock,
 * minus the campaign (not mirrored; the database checks it on success). Only refusals come out of
 * here; a code that looks fine goes on to the database.
 */
import type { TenantActor } from '../../platform/actor.js';
import { canSeeProduct } from '../../platform/actor.js';
import type { AppError } from '../../platform/errors.js';
import { redeemCodeErrors } from './redeem-code.errors.js';
import { type FastPathResult, type Probe, STORED_STATUS } from './redeem-code.mirror.js';
import type { CodeWithBatch } from './redeem-code.repo.js';
import { displayCode, isCaseSensitive, stripInput } from './redeem-code.rules.js';
import { type CodeFacts, type CodeRefusal, firstRefusal, refusalOf } from './redemption.checks.js';
import type { RedeemAttempt } from './redemption.service.js';

/** The fast path's metric label of each refusal. */
const RESULT: Record<CodeRefusal, FastPathResult> = {
  code_voided: 'refused_voided',
  code_expired: 'refused_expired',
  code_not_assigned_to_user: 'refused_not_assigned',
  product_not_applicable: 'refused_product',
  code_already_redeemed: 'refused_used',
};

export function fastPathDecision(probe: Probe, tenant: TenantActor, a: RedeemAttempt, now: Date): { result: FastPathResult; refusal?: AppError } {
  if (probe.kind === 'unavailable') return { result: 'unavailable' };
  if (probe.kind === 'miss') return { result: 'miss' };
  if (probe.kind === 'unknown') return { result: 'refused_unknown', refusal: redeemCodeErrors.codeNotFound(a.code) };
  const { state, batch, code } = probe;
  // A case-sensitive code is only the exact spelling; anything else is the database's to judge.
  if (isCaseSensitive(batch.codeType) && code !== stripInput(a.code)) return { result: 'miss' };
  // A product-limited key does not see other products' batches: to it the code does not exist.
  if (!canSeeProduct(tenant, batch.productCode)) return { result: 'refused_unknown', refusal: redeemCodeErrors.codeNotFound(a.code) };
  const facts: CodeFacts = {
    display: displayCode(code, { code_type: batch.codeType, prefix: batch.prefix, group_size: batch.groupSize }),
    voided: state.status === 'V' || batch.status === 'V',
    expiresAt: batch.expiresAt === null ? null : new Date(batch.expiresAt),
    assignedUserId: state.assignedUserId,
    applicableProducts: batch.applicableProducts,
    uses: state.uses,
    maxUses: state.maxUses,
    redeemed: state.status === 'R',
  };
  const refusal = firstRefusal(facts, a.userId, a.productCode, now);
  if (refusal) return { result: RESULT[refusal], refusal: refusalOf(refusal, facts, a.productCode) };
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
    extra_data: null,
    campaign_id: batch.campaignId,
    reward_id: batch.rewardId,
    product_code: batch.productCode,
    code_type: batch.codeType,
    prefix: batch.prefix,
    group_size: batch.groupSize,
    expires_at: batch.expiresAt === null ? null : new Date(batch.expiresAt),
    max_uses: batch.maxUses,
    applicable_products: batch.applicableProducts,
    // A batch with a reward has no reward rules (either one or the other).
    reward_rules: null,
    batch_status: batch.status === 'V' ? 'VOIDED' : 'DONE',
  };
}
