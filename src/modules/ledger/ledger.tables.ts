// STUB: ledger tables' Kysely types (helper B fills this in with the migration 0005_ledger.sql).
export interface LedgerTables {
  ledger_account: Record<string, never>;
}
