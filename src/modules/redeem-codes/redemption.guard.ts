import type { RedemptionGuard } from '../../platform/rate-limit/index.js';
import type { RedeemAttempt, RedeemGuard } from './redemption.service.js';

/**
 * Refusals that suggest guessing codes: they count towards the lock-out. Refusals of a real code
 * for business reasons (stock, campaign, limits) and our own errors do not.
 */
const GUESS_LIKE = new Set(['code_not_found', 'code_mistyped', 'code_already_redeemed', 'code_expired', 'code_voided', 'code_not_assigned_to_user']);

const subject = (a: RedeemAttempt) => ({ tenantId: a.tenantId, productCode: a.productCode, userId: a.userId, clientIp: a.limitIp });

/** The platform's attempt limits and lock-out (src/platform/rate-limit) in front of redemptions. */
export function redemptionLimits(guard: RedemptionGuard): RedeemGuard {
  return {
    async before(attempt) {
      await guard.admit(subject(attempt));
    },
    async after(attempt, outcome) {
      if (GUESS_LIKE.has(outcome)) await guard.recordFailure(subject(attempt));
    },
  };
}
