import { type Database, type Executor, inTransaction } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { type ErrorDetails, invalidRequest } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import { ledgerErrors } from './ledger.errors.js';
import * as repo from './ledger.repo.js';
import {
  type AdjustInput,
  type DebitInput,
  LEDGER_ASSETS,
  LEDGER_ENTRY_TYPES,
  type LedgerAsset,
  type LedgerEntryType,
  type LedgerListInput,
  MAX_ENTRY_AMOUNT,
} from './ledger.schemas.js';

export type { LedgerAsset, LedgerEntryType } from './ledger.schemas.js';

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

/** A credit ready for the grant statement (mh_grant_set; see prepareCredit). */
export interface PreparedCredit {
  entry_id: string;
  asset: LedgerAsset;
  amount: number;
  cause_type: string;
  memo: string | null;
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

/** What a write answers: the entry, and whether this call created it (false: it was already posted). */
export interface PostResult {
  entry: LedgerEntryView;
  created: boolean;
}

export interface BalancesView {
  user_id: string;
  balances: { asset: LedgerAsset; balance: number }[];
}

export type LedgerService = ReturnType<typeof createLedgerService>;

export function toEntryView(row: repo.LedgerEntryRow): LedgerEntryView {
  return {
    entry_id: row.entry_id,
    user_id: row.user_id,
    asset: row.asset as LedgerAsset,
    amount: Number(row.amount),
    balance_after: Number(row.balance_after),
    entry_type: row.entry_type as LedgerEntryType,
    cause_type: row.cause_type,
    cause_id: row.cause_id,
    reverses_entry_id: row.reverses_entry_id,
    memo: row.memo,
    created_at: new Date(row.created_at).toISOString(),
  };
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

function checkId(field: string, value: unknown, max: number): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || CONTROL_CHARS.test(value)) {
    throw invalidRequest(field, `must be 1-${max} characters without control characters`);
  }
}

/** Checks what other modules hand to post(): they are callers too, and a bad entry is forever. */
function checkPostInput(input: PostEntryInput): void {
  checkId('tenant_id', input.tenantId, 64);
  checkId('user_id', input.userId, 128);
  checkId('cause_type', input.causeType, 64);
  checkId('cause_id', input.causeId, 256);
  if (!(LEDGER_ASSETS as readonly string[]).includes(input.asset)) throw invalidRequest('asset', `must be one of ${LEDGER_ASSETS.join(', ')}`);
  if (!(LEDGER_ENTRY_TYPES as readonly string[]).includes(input.entryType)) {
    throw invalidRequest('entry_type', `must be one of ${LEDGER_ENTRY_TYPES.join(', ')}`);
  }
  checkAmount(input.amount);
  const sign = Math.sign(input.amount);
  if (input.entryType === 'GRANT' && sign < 0) throw invalidRequest('amount', 'must be positive for a GRANT');
  if ((input.entryType === 'SPEND' || input.entryType === 'EXPIRE') && sign > 0) {
    throw invalidRequest('amount', `must be negative for ${input.entryType}`);
  }
  checkMemo(input.memo);
}

function checkMemo(memo: string | null | undefined): void {
  if (memo !== undefined && memo !== null && (typeof memo !== 'string' || memo.length > 1000 || memo.includes('\u0000'))) {
    throw invalidRequest('memo', 'must be at most 1000 characters, without NUL');
  }
}

function checkAmount(amount: number): void {
  if (!Number.isSafeInteger(amount) || amount === 0 || Math.abs(amount) > MAX_ENTRY_AMOUNT) {
    throw invalidRequest('amount', `must be a non-zero integer between -${MAX_ENTRY_AMOUNT} and ${MAX_ENTRY_AMOUNT}`);
  }
}

const sameEntry = (row: repo.LedgerEntryRow, e: repo.NewEntry) =>
  row.user_id === e.userId && row.asset === e.asset && Number(row.amount) === e.amount && row.entry_type === e.entryType;

export function createLedgerService(deps: { db: Database; clock: Clock }) {
  const { db, clock } = deps;

  /**
   * Posts `e` once, on a transaction (the undo of a lost race must hold the row lock of the
   * change it undoes). Throws insufficient_balance when a debit would go below zero.
   */
  async function postOnce(trx: Executor, e: repo.NewEntry, refusal: ErrorDetails = {}) {
    const outcome = await repo.applyEntry(trx, e);
    switch (outcome.kind) {
      case 'posted':
      case 'duplicate':
        return outcome;
      case 'refused': {
        // A repeat racing its first post can be refused for the balance the first one left (the
        // balance condition is re-checked after the wait, the duplicate check is not): if the
        // first has committed by now, this is a repeat, not an overdraft.
        const entry = e.causeId === e.entryId && !e.reversesEntryId ? undefined : await repo.findDuplicate(trx, e);
        if (entry) return { kind: 'duplicate' as const, entry };
        throw ledgerErrors.insufficientBalance(e.asset, await repo.readBalance(trx, e.tenantId, e.userId, e.asset), -e.amount, refusal);
      }
      case 'raced': {
        await repo.undoAccountChange(trx, e);
        const entry = await repo.findDuplicate(trx, e);
        if (!entry) throw new Error('ledger: a concurrent post won the cause, but its entry is not visible');
        return { kind: 'duplicate' as const, entry };
      }
    }
  }

  type EntryFields = Omit<repo.NewEntry, 'tenantId' | 'entryId' | 'createdAt' | 'causeId'> & { causeId?: string | undefined };

  function newEntry(tenantId: string, fields: EntryFields): repo.NewEntry {
    const now = clock.now();
    const entryId = newId('led', now.getTime());
    // Without a reference the entry is its own cause: nothing to repeat.
    return { ...fields, tenantId, entryId, causeId: fields.causeId ?? entryId, createdAt: now };
  }

  /** A debit or adjustment from the API: its reference_id makes a repeat return the first entry. */
  async function postReferenced(exec: Executor, e: repo.NewEntry, referenceId: string | undefined): Promise<PostResult> {
    const { kind, entry } = await inTransaction(exec, (trx) => postOnce(trx, e));
    if (kind === 'posted') return { entry: toEntryView(entry), created: true };
    if (!sameEntry(entry, e)) {
      throw ledgerErrors.referenceIdReused(referenceId, entry.entry_id);
    }
    return { entry: toEntryView(entry), created: false };
  }

  const service = {
    /**
     * Posts one entry and moves the balance with it, on the caller's transaction (`exec`). The
     * same (cause, entry type, asset) posts once: a repeat with the same user and amount answers
     * the first entry with created = false; anything else is 409 ledger_cause_reused.
     */
    async postEntry(exec: Executor, input: PostEntryInput): Promise<PostResult> {
      checkPostInput(input);
      const e = newEntry(input.tenantId, {
        userId: input.userId,
        asset: input.asset,
        amount: input.amount,
        entryType: input.entryType,
        causeType: input.causeType,
        causeId: input.causeId,
        reversesEntryId: null,
        memo: input.memo ?? null,
      });
      const { kind, entry } = await inTransaction(exec, (trx) => postOnce(trx, e));
      if (kind === 'posted') return { entry: toEntryView(entry), created: true };
      if (!sameEntry(entry, e)) {
        throw ledgerErrors.causeReused(input.causeType, input.causeId, entry.entry_type, entry.entry_id);
      }
      return { entry: toEntryView(entry), created: false };
    },

    /**
     * The checked fields and id of a credit whose cause is new (a grant being made), for a caller
     * that applies it inside its own statement (mh_grant_set, through the ledger's mh_ledger_credit_set).
     */
    prepareCredit(input: Omit<PostEntryInput, 'entryType'>): PreparedCredit {
      checkPostInput({ ...input, entryType: 'GRANT' });
      const { entryId } = newEntry(input.tenantId, { ...input, entryType: 'GRANT', reversesEntryId: null, memo: input.memo ?? null });
      return { entry_id: entryId, asset: input.asset, amount: input.amount, cause_type: input.causeType, memo: input.memo ?? null };
    },

    /** postEntry, answering only the entry (the new one, or the one this cause already posted). */
    async post(exec: Executor, input: PostEntryInput): Promise<LedgerEntryView> {
      return (await service.postEntry(exec, input)).entry;
    },

    /**
     * Reverses every entry of a cause not reversed yet with a REVOKE entry (reverses_entry_id
     * links them), on the caller's transaction. Reversing again posts nothing and answers [].
     * 409 insufficient_balance when the user already spent what a reversal would take back.
     */
    async reverseCause(
      exec: Executor,
      input: { tenantId: string; causeType: string; causeId: string; memo?: string | null },
    ): Promise<LedgerEntryView[]> {
      checkId('tenant_id', input.tenantId, 64);
      checkId('cause_type', input.causeType, 64);
      checkId('cause_id', input.causeId, 256);
      checkMemo(input.memo);
      return inTransaction(exec, async (trx) => {
        const originals = await repo.findUnreversed(trx, input.tenantId, input.causeType, input.causeId);
        const reversals: LedgerEntryView[] = [];
        for (const original of originals) {
          const e = newEntry(input.tenantId, {
            userId: original.user_id,
            asset: original.asset as LedgerAsset,
            amount: -Number(original.amount),
            entryType: 'REVOKE',
            causeType: original.cause_type,
            causeId: original.cause_id,
            reversesEntryId: original.entry_id,
            memo: input.memo ?? null,
          });
          const { kind, entry } = await postOnce(trx, e, { user_id: original.user_id, entry_id: original.entry_id });
          // A concurrent reversal of the same entry won: it is reversed, which is what was asked.
          if (kind === 'posted') reversals.push(toEntryView(entry));
        }
        return reversals;
      });
    },

    /** The user's balance of every asset (0 where there is no account yet). */
    async getBalances(actor: Actor, userId: string, exec: Executor = db): Promise<BalancesView> {
      const tenant = requireTenant(actor);
      const rows = await repo.listBalances(exec, tenant.tenantId, userId);
      const byAsset = new Map(rows.map((r) => [r.asset, Number(r.balance)]));
      return { user_id: userId, balances: LEDGER_ASSETS.map((asset) => ({ asset, balance: byAsset.get(asset) ?? 0 })) };
    },

    /** The user's entries, newest first, filtered by asset and entry type. */
    async listEntries(actor: Actor, userId: string, query: LedgerListInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const page = toPage(query);
      const { rows, total } = await repo.listEntries(exec, tenant.tenantId, userId, { asset: query.asset, entryType: query.entry_type }, page);
      return { entries: rows.map(toEntryView), pagination: pagination(total, page) };
    },

    /** Spends points or balance (a SPEND entry); 409 insufficient_balance below zero. */
    async debit(actor: Actor, userId: string, input: DebitInput, exec: Executor = db): Promise<PostResult> {
      const tenant = requireTenant(actor);
      const e = newEntry(tenant.tenantId, {
        userId,
        asset: input.asset,
        amount: -input.amount,
        entryType: 'SPEND',
        causeType: 'debit',
        causeId: input.reference_id,
        reversesEntryId: null,
        memo: input.memo ?? null,
      });
      return postReferenced(exec, e, input.reference_id);
    },

    /** A manual correction (an ADJUST entry, either sign); never takes the balance below zero. */
    async adjust(actor: Actor, userId: string, input: AdjustInput, exec: Executor = db): Promise<PostResult> {
      const tenant = requireTenant(actor);
      checkAmount(input.amount);
      const e = newEntry(tenant.tenantId, {
        userId,
        asset: input.asset,
        amount: input.amount,
        entryType: 'ADJUST',
        causeType: 'adjust',
        causeId: input.reference_id,
        reversesEntryId: null,
        memo: input.reason,
      });
      return postReferenced(exec, e, input.reference_id);
    },
  };
  return service;
}
