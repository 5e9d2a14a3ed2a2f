import type { Generated } from 'kysely';

export interface LedgerAccountTable {
  tenant_id: string;
  user_id: string;
  asset: string;
  /** Integer units of the asset (points, minor currency units, days); never below 0. */
  balance: Generated<number>;
  entry_count: Generated<number>;
  updated_at: Date;
}

export interface LedgerEntryTable {
  tenant_id: string;
  entry_id: string;
  user_id: string;
  asset: string;
  /** Signed: credits positive, debits negative. */
  amount: number;
  balance_after: number;
  /** 1, 2, ... within the account (tenant, user, asset). */
  account_seq: number;
  /** One increasing number over all entries: the order they were written in. */
  entry_seq: Generated<number>;
  entry_type: string;
  cause_type: string;
  cause_id: string;
  reverses_entry_id: string | null;
  memo: string | null;
  created_at: Date;
}

export interface LedgerTables {
  ledger_account: LedgerAccountTable;
  ledger_entry: LedgerEntryTable;
}
