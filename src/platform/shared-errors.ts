import { AppError } from './errors.js';

/**
 * Error codes that several modules answer. Each has one message and one details shape here, so a
 * client sees the same body whichever module refused (they drifted apart when every module wrote
 * its own). The details shape is the richest one any module answered; modules wrap these factories
 * in their own `*.errors.ts` rather than building the error again.
 */
export const sharedErrors = {
  /** 400: product codes that name no app of the tenant (all of them, so the client fixes them at once). */
  unknownProductCode: (codes: readonly string[]) =>
    new AppError('invalid', 'unknown_product_code', `No app with product_code ${codes.join(', ')} in this tenant; create it with POST /v1/apps`, {
      field: 'product_code',
      product_codes: [...codes],
    }),

  /** 403: the API key is limited to `allowed`, the key's products (typed as the actor's list, null when unrestricted). */
  productNotAllowed: (productCode: string, allowed: readonly string[] | null) =>
    new AppError('forbidden', 'product_not_allowed', `This API key may not act on product ${productCode}`, {
      product_code: productCode,
      allowed: allowed === null ? null : [...allowed],
    }),

  /** 400: the body and the X-Product-Code header name different products. */
  productCodeMismatch: (body: string, header: string) =>
    new AppError('invalid', 'product_code_mismatch', 'product_code in the body and the X-Product-Code header differ', {
      field: 'product_code',
      body,
      header,
    }),

  /** 409: the reward's validity has ended. */
  rewardExpired: (validUntil: Date) =>
    new AppError('conflict', 'reward_expired', `Reward was valid until ${validUntil.toISOString()}`, {
      valid_until: validUntil.toISOString(),
    }),

  /** 409: fewer free units of the reward than asked for (`available` may be 0). */
  inventoryExhausted: (rewardId: string, available: number) =>
    new AppError('conflict', 'inventory_exhausted', `Not enough stock left: reward ${rewardId} has ${available} units available`, {
      reward_id: rewardId,
      available,
    }),

  /** 400: the first line of an upload; `field` names the header cell (`header[2]`) or the whole `header`. */
  invalidImportHeader: (field: string, problem: string) =>
    new AppError('invalid', 'invalid_import_header', `${field}: ${problem}`, { field, line: 1 }),
};
