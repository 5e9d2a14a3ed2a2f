/**
 * The checks of a code being redeemed, in THE order every site decides them: the Redis fast path
 * (redemption.fast-path.ts, on the mirror's probe), the service on its read of the code
 * (redemption.service.ts) and the database under the code's row lock (sql/mh_redeem_batch.sql).
 * A code that fails several checks is refused for the first, so a code whose state changed between
 * the read and the lock gets the code, message and details it would have got on a fresh read:
 *
 *   1. code_voided                the code or its batch is voided
 *   2. code_expired               its batch's expiry has passed
 *   3. code_not_assigned_to_user  assigned to another user
 *   4. product_not_applicable     its batch is limited to other products
 *   5. code_already_redeemed      no use left (or, found only under the lock, this user redeemed
 *                                 this multi-use code already)
 *
 * The error of each comes from refusalOf, built from the code as read, wherever it was decided.
 */
import type { AppError } from '../../platform/errors.js';
import { redeemCodeErrors } from './redeem-code.errors.js';

export const CODE_REFUSALS = ['code_voided', 'code_expired', 'code_not_assigned_to_user', 'product_not_applicable', 'code_already_redeemed'] as const;
export type CodeRefusal = (typeof CODE_REFUSALS)[number];

/** What the checks read of a code and its batch, whether from the database or the mirror. */
export interface CodeFacts {
  /** The code as shown to people (display form). */
  display: string;
  voided: boolean;
  expiresAt: Date | null;
  assignedUserId: string | null;
  applicableProducts: readonly string[] | null;
  uses: number;
  maxUses: number;
  redeemed: boolean;
}

/** The first check the code fails for this user and product at `now`, in the order above; null if none. */
export function firstRefusal(code: CodeFacts, userId: string, productCode: string | null, now: Date): CodeRefusal | null {
  if (code.voided) return 'code_voided';
  if (code.expiresAt !== null && code.expiresAt.getTime() <= now.getTime()) return 'code_expired';
  if (code.assignedUserId !== null && code.assignedUserId !== userId) return 'code_not_assigned_to_user';
  if (code.applicableProducts && (productCode === null || !code.applicableProducts.includes(productCode))) return 'product_not_applicable';
  if (code.redeemed || code.uses >= code.maxUses) return 'code_already_redeemed';
  return null;
}

/** The API error of a refusal of `code`: one message and one details shape per error code. */
export function refusalOf(refusal: CodeRefusal, code: CodeFacts, productCode: string | null): AppError {
  switch (refusal) {
    case 'code_voided':
      return redeemCodeErrors.codeVoided(code.display);
    case 'code_expired':
      return redeemCodeErrors.codeExpired(code.display, code.expiresAt?.toISOString() ?? null);
    case 'code_not_assigned_to_user':
      return redeemCodeErrors.notAssignedToUser(code.display);
    case 'product_not_applicable':
      return redeemCodeErrors.productNotApplicable(productCode, code.applicableProducts ?? []);
    case 'code_already_redeemed':
      return redeemCodeErrors.alreadyRedeemed(code.display, code.maxUses);
  }
}

export const isCodeRefusal = (code: string): code is CodeRefusal => (CODE_REFUSALS as readonly string[]).includes(code);
