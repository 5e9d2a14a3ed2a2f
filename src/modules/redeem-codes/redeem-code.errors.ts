import { AppError } from '../../platform/errors.js';
import { sharedErrors } from '../../platform/shared-errors.js';

/**
 * The redeem-codes module's error codes and messages (batches, codes and redemptions), one
 * factory per refusal. `code` is the contract with clients: never change an existing one. The
 * redemption's refusals are shared by the database path and the Redis fast path, so both answer
 * with the same message and details. Plain field checks use `invalidRequest`.
 */
export const redeemCodeErrors = {
  // Batches

  /** 400: the batch would make its codes guessable; names the length that would do. */
  codeSpaceTooSmall: (p: { count: number; length: number; alphabetSize: number; oneIn: number; needed: number; entropyBits: number; guessProbability: number; maxGuessProbability: number }) =>
    new AppError('invalid', 'code_space_too_small', `${p.count} codes of ${p.length} characters from ${p.alphabetSize} symbols could be guessed (1 in ${p.oneIn} per try); use length ${p.needed} or more`, {
      field: 'length',
      count: p.count,
      alphabet_size: p.alphabetSize,
      entropy_bits: p.entropyBits,
      guess_probability: p.guessProbability,
      max_guess_probability: p.maxGuessProbability,
      needed_length: p.needed,
    }),

  /** 409: new codes kept colliding with existing ones. */
  codeSpaceExhausted: () =>
    new AppError('conflict', 'code_space_exhausted', 'New codes keep colliding with existing ones; use longer codes', { field: 'length' }),

  /** 400: reward_id (or a REWARD rule's id, named by `field`) names no reward of the tenant. */
  unknownReward: (rewardId: string, field = 'reward_id') =>
    new AppError('invalid', 'unknown_reward', `No reward ${rewardId} in this tenant`, { field }),

  /** 400: the reward belongs to another campaign than the batch. */
  rewardCampaignMismatch: (rewardId: string, rewardCampaignId: string) =>
    new AppError('invalid', 'reward_campaign_mismatch', `Reward ${rewardId} belongs to campaign ${rewardCampaignId}`, {
      field: 'reward_id',
      reward_campaign_id: rewardCampaignId,
    }),

  /** 409: voiding a batch that is voided already. */
  batchAlreadyVoided: (batchId: string) =>
    new AppError('conflict', 'batch_already_voided', `Batch ${batchId} is already voided`, { batch_id: batchId }),

  /** 400: one setting given in both spellings (snake_case and the product document's camelCase). */
  fieldSpelledTwice: (snake: string, camel: string) =>
    new AppError('invalid', 'field_spelled_twice', `${snake} and ${camel} are the same setting: give one of them`, { field: camel, fields: [snake, camel] }),

  /** 400: extra_data is larger than allowed. */
  extraDataTooLarge: (bytes: number, max: number) =>
    new AppError('invalid', 'extra_data_too_large', `extra_data is ${bytes} bytes as JSON; at most ${max}`, { field: 'extra_data', bytes, max_bytes: max }),

  /** 400: a COUPON reward rule names no coupon template of the tenant. */
  unknownCouponTemplate: (templateId: string, index: number) =>
    new AppError('invalid', 'unknown_coupon_template', `No coupon template ${templateId} in this tenant`, { field: `reward_rules/${index}/id`, template_id: templateId }),

  /** 409: a hand-out from a voided or expired batch. */
  batchClosed: (batchId: string, reason: 'voided' | 'expired') =>
    new AppError('conflict', 'batch_closed', `Batch ${batchId} is ${reason}: no code is handed out`, { batch_id: batchId, reason }),

  /** 409: a hand-out found no free code left in the batch. */
  batchExhausted: (batchId: string) => new AppError('conflict', 'batch_exhausted', 'No free code is left in the batch', { batch_id: batchId }),

  // Codes: look-up, assignment and voiding

  /** 404 on the code endpoints, naming the code asked for. */
  codeNotFound: (code: string) => new AppError('not_found', 'code_not_found', 'No such code', { code }),

  /** 409: the code is assigned to another user already. */
  alreadyAssigned: (assignedUserId: string) =>
    new AppError('conflict', 'code_already_assigned', 'The code is assigned to another user', { assigned_user_id: assignedUserId }),

  // The state of a code: one message and one details shape per error code, whichever route (redeem,
  // assign, void) and whichever check (the Redis fast path, the read, the row lock) finds it.

  /** 409: the code or its batch is voided. */
  codeVoided: (display: string) => new AppError('conflict', 'code_voided', 'The code was voided', { code: display }),

  /** 409: the code's batch has expired, with the time it did. */
  codeExpired: (display: string, expiresAt: string | null) =>
    new AppError('conflict', 'code_expired', 'The code has expired', { code: display, expires_at: expiresAt }),

  /** 409: the code has no use left (or this user redeemed this multi-use code already). */
  alreadyRedeemed: (display: string, maxUses: number) =>
    new AppError('conflict', 'code_already_redeemed', 'The code was already redeemed', { code: display, max_uses: maxUses }),

  // Redemption (database path and Redis fast path)

  /** 404: no such code (or one of a product the key may not see). */

  /** 400: the code's check character does not match (a typing mistake, not a guess). */
  codeMistyped: () => new AppError('invalid', 'code_mistyped', 'The code is mistyped: its check character does not match', { field: 'code' }),

  /** 403: the code is assigned to another user. */
  notAssignedToUser: (display: string) =>
    new AppError('forbidden', 'code_not_assigned_to_user', 'The code is assigned to another user', { code: display }),

  /** 403: the code's batch is limited to other products. */
  productNotApplicable: (productCode: string | null, applicableProducts: readonly string[]) =>
    new AppError('forbidden', 'product_not_applicable', `The code cannot be redeemed from ${productCode ?? 'an unnamed product'}`, {
      product_code: productCode,
      applicable_products: applicableProducts,
    }),

  /** 403: a batch with reward rules has no rule whose condition this user meets; nothing was written. */
  noRewardRuleMatched: (display: string, userId: string) =>
    new AppError('forbidden', 'no_reward_rule_matched', 'No reward rule of this code applies to the user', { code: display, user_id: userId }),

  /** 400: the body and the X-Product-Code header name different products. */
  productCodeMismatch: (body: string, header: string) => sharedErrors.productCodeMismatch(body, header),

  /** 403: the API key is limited to other products. */
  productNotAllowed: (productCode: string, allowed: readonly string[] | null) => sharedErrors.productNotAllowed(productCode, allowed),
};
