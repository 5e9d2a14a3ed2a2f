import { sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import { ALONE, createGroupCommit, type GroupAnswer } from '../../platform/group-commit.js';
import { ledgerWriteError } from '../ledger/index.js';

/**
 * A redemption as ONE statement: the database function mh_redeem_batch (sql/mh_redeem_batch.sql)
 * uses the code, grants its reward through the grant function and records the redemption. The
 * parameter is the grant function's parameter (decided by the grants service) plus `redeem`, the
 * code's part; everything travels in one JSON parameter, so the statement text never changes and
 * stays prepared on each connection.
 */
export type RedeemParameter = Record<string, unknown> & { redeem: Record<string, unknown> };

/**
 * What mh_redeem_batch answers for one redemption: the grant function's answer (granted with the grant,
 * refused, stale) and, when granted, the redemption row and the code's state after the use. A
 * refusal of the code itself has details.stage = 'code'. `busy` only comes from a batch.
 */
export type RedeemAnswer = Record<string, unknown> & { outcome: string };

async function runBatch(exec: Executor, params: readonly Record<string, unknown>[]): Promise<RedeemAnswer[]> {
  try {
    const { rows } = await sql<{ r: RedeemAnswer }>`select r from mh_redeem_batch(${JSON.stringify(params)}::jsonb) as r`.execute(exec);
    return rows.map((row) => row.r);
  } catch (err) {
    throw ledgerWriteError(err) ?? err;
  }
}

/** One redemption as its own statement in `exec` (e.g. the transaction that records an Idempotency-Key's answer). */
export async function runRedeemStatement(exec: Executor, p: RedeemParameter): Promise<RedeemAnswer> {
  return (await runBatch(exec, [p]))[0]!;
}

export interface RedemptionBatcher {
  /** Runs the redemption in the next batch; answers as runRedeemStatement would on its own. */
  submit(p: RedeemParameter): Promise<RedeemAnswer>;
}

type Parameter = RedeemParameter;

/** Users' rows (ledger accounts) are locked in this order by every batch (see mh_redeem_batch). */
const byUser = (a: Parameter, b: Parameter) => compare(a.tenant_id, b.tenant_id) || compare(a.user_id, b.user_id) || compare(a.reward_id, b.reward_id);
const compare = (a: unknown, b: unknown) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0);

/** A batch's answer for one redemption: a busy one (a code or slot held elsewhere) runs again on its own. */
const answerOf = (a: RedeemAnswer): GroupAnswer<RedeemAnswer> => (a.outcome === 'busy' ? ALONE : { ok: a });

/**
 * Group commit for redemptions (platform/group-commit.ts). A redemption that arrives while
 * `concurrency` batches are in flight waits for the next one, so under load many redemptions
 * share one round trip and one commit; with no load a redemption goes at once, alone.
 * Redemptions that are part of a caller's transaction never come here.
 */
export function createRedemptionBatcher(
  db: Executor,
  options: { maxSize: number; concurrency: number; onBatch?: (size: number) => void; onBatchFailed?: (err: unknown) => void },
): RedemptionBatcher {
  const group = createGroupCommit<Parameter, RedeemAnswer>({
    maxSize: options.maxSize,
    concurrency: options.concurrency,
    order: byUser,
    runGroup: async (params) => (await runBatch(db, params)).map(answerOf),
    runAlone: (p) => runRedeemStatement(db, p),
    ...(options.onBatch ? { onGroup: options.onBatch } : {}),
    ...(options.onBatchFailed ? { onGroupFailed: options.onBatchFailed } : {}),
  });
  return { submit: (p) => group.submit(p) };
}
