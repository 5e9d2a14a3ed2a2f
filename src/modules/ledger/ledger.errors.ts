import { AppError, type ErrorDetails } from '../../platform/errors.js';
import type { LedgerAsset } from './ledger.schemas.js';

/**
 * The ledger module's error codes and messages, one factory per refusal. `code` is the contract
 * with clients: never change an existing one. Plain field checks use `invalidRequest`.
 */
export const ledgerErrors = {
  /** 409: a debit larger than the balance; `extra` adds the refusal's own details. */
  insufficientBalance: (asset: LedgerAsset, balance: number, requested: number, extra: ErrorDetails = {}) =>
    new AppError('conflict', 'insufficient_balance', `The ${asset} balance is ${balance}; ${requested} requested`, {
      asset,
      balance,
      requested,
      ...extra,
    }),

  /** 409: a credit would take the balance past the largest safe integer (check constraint). */
  balanceLimitExceeded: () => new AppError('conflict', 'balance_limit_exceeded', 'The balance would exceed 9007199254740991', {}),

  /** 409: an API reference_id that already posted a different entry. */
  referenceIdReused: (referenceId: string | undefined, entryId: string) =>
    new AppError('conflict', 'reference_id_reused', 'This reference_id was used for another operation', {
      reference_id: referenceId,
      entry_id: entryId,
    }),

  /** 409: a module's (cause, entry type, asset) that already posted a different entry. */
  causeReused: (causeType: string, causeId: string, entryType: string, entryId: string) =>
    new AppError('conflict', 'ledger_cause_reused', `${causeType} ${causeId} already posted a different ${entryType} entry`, {
      cause_type: causeType,
      cause_id: causeId,
      entry_id: entryId,
    }),
};
