export {
  createLedgerService,
  toEntryView,
  type BalancesView,
  type LedgerAsset,
  type LedgerEntryType,
  type LedgerEntryView,
  type LedgerService,
  type PostEntryInput,
  type PostResult,
  type PreparedCredit,
} from './ledger.service.js';
export { ledgerWriteError } from './ledger.repo.js';
export { ledgerRoutes } from './ledger.routes.js';
export { LEDGER_ASSETS, LEDGER_ENTRY_TYPES, MAX_ENTRY_AMOUNT } from './ledger.schemas.js';
