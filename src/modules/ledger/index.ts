// STUB: replaced by the ledger implementation (helper B). Signatures are the contract.
import type { Api } from '../../app/types.js';
import type { UnitOfWork } from '../../app/unit-of-work.js';
import type { Database, Executor } from '../../db/client.js';
import type { Actor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';

export type LedgerAsset = 'POINTS' | 'BALANCE' | 'SUBSCRIPTION_DAYS';
export type LedgerEntryType = 'GRANT' | 'REVOKE' | 'SPEND' | 'EXPIRE' | 'ADJUST';

export interface PostEntryInput {
  tenantId: string;
  userId: string;
  asset: LedgerAsset;
  /** Signed: credits positive, debits negative. Points, minor currency units, or days. */
  amount: number;
  entryType: LedgerEntryType;
  /** What caused it, e.g. ('reward_grant', grant_id) or ('debit', reference_id). */
  causeType: string;
  causeId: string;
  memo?: string | null;
}

export interface LedgerEntryView {
  entry_id: string;
  user_id: string;
  asset: LedgerAsset;
  amount: number;
  balance_after: number;
  entry_type: LedgerEntryType;
  cause_type: string;
  cause_id: string;
  reverses_entry_id: string | null;
  memo: string | null;
  created_at: string;
}

export function createLedgerService(_deps: { db: Database; clock: Clock }) {
  return {
    async post(_exec: Executor, _input: PostEntryInput): Promise<LedgerEntryView> {
      throw new Error('ledger: not implemented yet');
    },
    async reverseCause(
      _exec: Executor,
      _input: { tenantId: string; causeType: string; causeId: string; memo?: string | null },
    ): Promise<LedgerEntryView[]> {
      throw new Error('ledger: not implemented yet');
    },
    async getBalances(_actor: Actor, _userId: string): Promise<{ user_id: string; balances: { asset: LedgerAsset; balance: number }[] }> {
      throw new Error('ledger: not implemented yet');
    },
  };
}

export type LedgerService = ReturnType<typeof createLedgerService>;

export function ledgerRoutes(_app: Api, _deps: { ledger: LedgerService; uow: UnitOfWork }): void {}
