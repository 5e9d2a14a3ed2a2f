import { type RawBuilder, type Selectable, sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import { constraintName, isCheckViolation } from '../../db/errors.js';
import type { AppError } from '../../platform/errors.js';
import { ledgerErrors } from './ledger.errors.js';
import type { LedgerAsset, LedgerEntryType } from './ledger.schemas.js';
import type { LedgerEntryTable } from './ledger.tables.js';

export type LedgerEntryRow = Selectable<LedgerEntryTable>;

/**
 * Cause types whose cause_id is a reference_id given by an API client: one entry per reference
 * whatever the asset (the partial unique index ledger_entry_reference of 0005_ledger.sql).
 */
export const REFERENCE_CAUSE_TYPES: readonly string[] = ['debit', 'adjust'];

export interface NewEntry {
  tenantId: string;
  entryId: string;
  userId: string;
  asset: LedgerAsset;
  amount: number;
  entryType: LedgerEntryType;
  causeType: string;
  causeId: string;
  reversesEntryId: string | null;
  memo: string | null;
  createdAt: Date;
}

export type ApplyOutcome =
  /** The account moved and the entry was appended. */
  | { kind: 'posted'; entry: LedgerEntryRow }
  /** Nothing moved: this cause (or reversal) was already posted, as `entry`. */
  | { kind: 'duplicate'; entry: LedgerEntryRow }
  /** Nothing moved: a debit that would take the balance below zero. */
  | { kind: 'refused' }
  /**
   * The account moved but a concurrent post of the same cause appended its entry first (seen
   * only when both were in flight at once): the caller must undo the account change.
   */
  | { kind: 'raced' };

/** The entry that makes `e` a repeat: same reversal, same reference, or same (cause, type, asset). */
function duplicateOf(e: NewEntry): RawBuilder<unknown> {
  if (e.reversesEntryId !== null) {
    return sql`tenant_id = ${e.tenantId} and reverses_entry_id = ${e.reversesEntryId}`;
  }
  const base = sql`tenant_id = ${e.tenantId} and cause_type = ${e.causeType} and cause_id = ${e.causeId} and reverses_entry_id is null`;
  if (REFERENCE_CAUSE_TYPES.includes(e.causeType)) return base;
  return sql`${base} and entry_type = ${e.entryType} and asset = ${e.asset}`;
}

/** The domain error for a database error of a ledger write, if it is one (else undefined). */
export function ledgerWriteError(err: unknown): AppError | undefined {
  if (isCheckViolation(err) && constraintName(err) === 'ledger_account_balance_max') {
    return ledgerErrors.balanceLimitExceeded();
  }
  return undefined;
}

function translate(err: unknown): never {
  throw ledgerWriteError(err) ?? err;
}

/**
 * Moves the balance and appends the entry in ONE statement (one round trip on the grant path):
 * a credit upserts the account; a debit updates it only where `balance + amount >= 0`, a
 * condition PostgreSQL re-checks on the newest row version after waiting for a concurrent
 * writer, so parallel debits can never overdraw. A cause already posted moves nothing.
 */
export async function applyEntry(exec: Executor, e: NewEntry): Promise<ApplyOutcome> {
  const amount = sql`${e.amount}::bigint`;
  const now = sql`${e.createdAt}::timestamptz`;
  const account =
    e.amount > 0
      ? sql`insert into ledger_account (tenant_id, user_id, asset, balance, entry_count, updated_at)
            select ${e.tenantId}::text, ${e.userId}::text, ${e.asset}::text, ${amount}, 1, ${now}
            where not exists (select 1 from dup)
            on conflict (tenant_id, user_id, asset) do update
              set balance = ledger_account.balance + excluded.balance,
                  entry_count = ledger_account.entry_count + 1,
                  updated_at = greatest(ledger_account.updated_at, excluded.updated_at)
            returning balance, entry_count, updated_at`
      : sql`update ledger_account
            set balance = balance + ${amount}, entry_count = entry_count + 1, updated_at = greatest(updated_at, ${now})
            where tenant_id = ${e.tenantId} and user_id = ${e.userId} and asset = ${e.asset}
              and balance + ${amount} >= 0
              and not exists (select 1 from dup)
            returning balance, entry_count, updated_at`;
  const statement = sql<LedgerEntryRow & { outcome: 'posted' | 'duplicate' | 'raced' }>`
    with dup as (
      select * from ledger_entry where ${duplicateOf(e)} limit 1
    ), acct as (
      ${account}
    ), ins as (
      insert into ledger_entry (tenant_id, entry_id, user_id, asset, amount, balance_after, account_seq,
                                entry_type, cause_type, cause_id, reverses_entry_id, memo, created_at)
      select ${e.tenantId}::text, ${e.entryId}::text, ${e.userId}::text, ${e.asset}::text, ${amount},
             acct.balance, acct.entry_count, ${e.entryType}::text, ${e.causeType}::text, ${e.causeId}::text,
             ${e.reversesEntryId}::text, ${e.memo}::text, acct.updated_at
      from acct
      on conflict do nothing
      returning *
    )
    select 'posted' as outcome, ins.* from ins
    union all
    select 'duplicate', dup.* from dup
    union all
    select 'raced', (null::ledger_entry).* from acct where not exists (select 1 from ins)`;
  let rows;
  try {
    rows = (await statement.execute(exec)).rows;
  } catch (err) {
    translate(err);
  }
  const first = rows[0];
  if (!first) return { kind: 'refused' };
  const { outcome, ...entry } = first;
  if (outcome === 'raced') return { kind: 'raced' };
  return { kind: outcome, entry };
}

/**
 * Takes back the account change of a `raced` applyEntry. Exact, because the same transaction
 * still holds the row lock its change took: nobody else moved the balance in between.
 */
export async function undoAccountChange(exec: Executor, e: Pick<NewEntry, 'tenantId' | 'userId' | 'asset' | 'amount'>) {
  await exec
    .updateTable('ledger_account')
    .set((eb) => ({ balance: eb('balance', '-', e.amount), entry_count: eb('entry_count', '-', 1) }))
    .where('tenant_id', '=', e.tenantId)
    .where('user_id', '=', e.userId)
    .where('asset', '=', e.asset)
    .execute();
}

/** The entry that a post like `e` would repeat, if any. */
export async function findDuplicate(exec: Executor, e: NewEntry): Promise<LedgerEntryRow | undefined> {
  const { rows } = await sql<LedgerEntryRow>`select * from ledger_entry where ${duplicateOf(e)} limit 1`.execute(exec);
  return rows[0];
}

export async function readBalance(exec: Executor, tenantId: string, userId: string, asset: LedgerAsset): Promise<number> {
  const row = await exec
    .selectFrom('ledger_account')
    .select('balance')
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('asset', '=', asset)
    .executeTakeFirst();
  return row ? Number(row.balance) : 0;
}

export function listBalances(exec: Executor, tenantId: string, userId: string) {
  return exec
    .selectFrom('ledger_account')
    .select(['asset', 'balance'])
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .execute();
}

export interface EntryFilter {
  asset?: LedgerAsset | undefined;
  entryType?: LedgerEntryType | undefined;
}

/** A user's entries, newest first, in the exact order they were written (entry_seq). */
export async function listEntries(
  exec: Executor,
  tenantId: string,
  userId: string,
  filter: EntryFilter,
  page: { limit: number; offset: number },
) {
  let query = exec.selectFrom('ledger_entry').where('tenant_id', '=', tenantId).where('user_id', '=', userId);
  if (filter.asset) query = query.where('asset', '=', filter.asset);
  if (filter.entryType) query = query.where('entry_type', '=', filter.entryType);
  const [rows, total] = await Promise.all([
    query
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('entry_seq', 'desc')
      .limit(page.limit)
      .offset(page.offset)
      .execute(),
    query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

/** The entries of a cause that are not reversals and not reversed yet, oldest first. */
export function findUnreversed(exec: Executor, tenantId: string, causeType: string, causeId: string) {
  return exec
    .selectFrom('ledger_entry as e')
    .selectAll('e')
    .where('e.tenant_id', '=', tenantId)
    .where('e.cause_type', '=', causeType)
    .where('e.cause_id', '=', causeId)
    .where('e.reverses_entry_id', 'is', null)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('ledger_entry as r')
            .select('r.entry_id')
            .whereRef('r.tenant_id', '=', 'e.tenant_id')
            .whereRef('r.reverses_entry_id', '=', 'e.entry_id'),
        ),
      ),
    )
    .orderBy('e.created_at')
    .orderBy('e.entry_seq')
    .execute();
}
