import type { Insertable, Selectable } from 'kysely';
import { sql } from 'kysely';
import type { Database, Executor } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import type { LedgerService } from '../ledger/index.js';
import { referralErrors } from './referral.errors.js';
import type { ReferralWithdrawalTable, WithdrawalStatus } from './referral.tables.js';
import type { WithdrawalInput, WithdrawalListInput, WithdrawalView } from './referral.withdrawals.schemas.js';

/**
 * Withdrawals of a user's BALANCE, paid out by hand (the document's MVP). The request debits the
 * amount at once through the ledger (a SPEND entry, cause ('referral_withdrawal', id)): the ledger's
 * conditional update `balance + amount >= 0` refuses an overdraft in the statement that debits, so
 * whatever races, the pending and approved withdrawals never add up to more than was there.
 * Approving only records the payout (pending -> approved, conditional); rejecting gives the amount
 * back by reversing that entry (pending -> rejected, conditional, same transaction).
 */
export const WITHDRAWAL_CAUSE = 'referral_withdrawal';

type WithdrawalRow = Selectable<ReferralWithdrawalTable>;

export function toWithdrawalView(row: WithdrawalRow): WithdrawalView {
  return {
    withdrawal_id: row.withdrawal_id,
    user_id: row.user_id,
    amount: Number(row.amount),
    currency: row.currency,
    account: row.account,
    status: row.status,
    note: row.note,
    reason: row.reason,
    created_at: row.created_at.toISOString(),
    decided_at: row.decided_at?.toISOString() ?? null,
  };
}

function insertWithdrawal(exec: Executor, row: Insertable<ReferralWithdrawalTable>): Promise<WithdrawalRow> {
  return exec.insertInto('referral_withdrawal').values(row).returningAll().executeTakeFirstOrThrow();
}

function findWithdrawal(exec: Executor, tenantId: string, id: string): Promise<WithdrawalRow | undefined> {
  return exec.selectFrom('referral_withdrawal').selectAll().where('tenant_id', '=', tenantId).where('withdrawal_id', '=', id).executeTakeFirst();
}

/** pending -> approved | rejected in one conditional statement: of racing decisions exactly one gets the row. */
function decide(exec: Executor, tenantId: string, id: string, status: Exclude<WithdrawalStatus, 'pending'>, text: { note?: string | null; reason?: string | null }, now: Date) {
  return exec
    .updateTable('referral_withdrawal')
    .set({ status, note: text.note ?? null, reason: text.reason ?? null, decided_at: now })
    .where('tenant_id', '=', tenantId)
    .where('withdrawal_id', '=', id)
    .where('status', '=', 'pending')
    .returningAll()
    .executeTakeFirst();
}

async function listWithdrawals(exec: Executor, tenantId: string, filter: { userId?: string | undefined; status?: WithdrawalStatus | undefined }, page: { limit: number; offset: number }) {
  let base = exec.selectFrom('referral_withdrawal').where('tenant_id', '=', tenantId);
  if (filter.userId !== undefined) base = base.where('user_id', '=', filter.userId);
  if (filter.status !== undefined) base = base.where('status', '=', filter.status);
  const rows = await base.selectAll().orderBy('created_at', 'desc').orderBy('withdrawal_id', 'desc').limit(page.limit).offset(page.offset).execute();
  const { total } = await base.select(sql<number>`count(*)::int8`.as('total')).executeTakeFirstOrThrow();
  return { rows, total: Number(total) };
}

export type ReferralWithdrawals = ReturnType<typeof createReferralWithdrawals>;

export function createReferralWithdrawals(deps: { db: Database; clock: Clock; ledger: LedgerService }) {
  const { db, clock, ledger } = deps;

  async function decideOrExplain(exec: Executor, tenantId: string, id: string, status: 'approved' | 'rejected', text: { note?: string | null; reason?: string | null }) {
    const row = await decide(exec, tenantId, id, status, text, clock.now());
    if (row) return row;
    const current = await findWithdrawal(exec, tenantId, id);
    if (!current) throw referralErrors.withdrawalNotFound(id);
    throw referralErrors.withdrawalDecided(id, current.status);
  }

  return {
    /** A user's request: the amount leaves the BALANCE now (409 insufficient_balance when short). */
    async request(actor: Actor, input: WithdrawalInput, trx: Executor): Promise<WithdrawalView> {
      const tenant = requireTenant(actor);
      const now = clock.now();
      const withdrawalId = newId('rfw', now.getTime());
      const entry = await ledger.post(trx, {
        tenantId: tenant.tenantId,
        userId: input.user_id,
        asset: 'BALANCE',
        amount: -input.amount,
        entryType: 'SPEND',
        causeType: WITHDRAWAL_CAUSE,
        causeId: withdrawalId,
        memo: 'referral withdrawal (held until approved or rejected)',
      });
      const row = await insertWithdrawal(trx, {
        withdrawal_id: withdrawalId,
        tenant_id: tenant.tenantId,
        user_id: input.user_id,
        amount: input.amount,
        currency: 'CNY',
        account: input.account ?? null,
        status: 'pending',
        note: null,
        reason: null,
        ledger_entry_id: entry.entry_id,
        created_at: now,
        decided_at: null,
      });
      return toWithdrawalView(row);
    },

    async get(actor: Actor, id: string, exec: Executor = db): Promise<WithdrawalView> {
      const row = await findWithdrawal(exec, requireTenant(actor).tenantId, id);
      if (!row) throw referralErrors.withdrawalNotFound(id);
      return toWithdrawalView(row);
    },

    async list(actor: Actor, query: WithdrawalListInput, exec: Executor = db) {
      const page = toPage(query);
      const { rows, total } = await listWithdrawals(exec, requireTenant(actor).tenantId, { userId: query.user_id, status: query.status }, page);
      return { withdrawals: rows.map(toWithdrawalView), pagination: pagination(total, page) };
    },

    /** An operator paid it out by hand: pending -> approved (the ledger already holds the debit). */
    async approve(actor: Actor, id: string, note: string | undefined, trx: Executor): Promise<WithdrawalView> {
      return toWithdrawalView(await decideOrExplain(trx, requireTenant(actor).tenantId, id, 'approved', { note: note ?? null }));
    },

    /** pending -> rejected, and the held amount back to the BALANCE (the SPEND entry reversed), in one transaction. */
    async reject(actor: Actor, id: string, reason: string, trx: Executor): Promise<WithdrawalView> {
      const tenantId = requireTenant(actor).tenantId;
      const row = await decideOrExplain(trx, tenantId, id, 'rejected', { reason });
      await ledger.reverseCause(trx, { tenantId, causeType: WITHDRAWAL_CAUSE, causeId: id, memo: `referral withdrawal rejected: ${reason}`.slice(0, 1000) });
      return toWithdrawalView(row);
    },
  };
}
