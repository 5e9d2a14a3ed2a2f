import { sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { AppError } from '../../platform/errors.js';
import { ALONE, createGroupCommit, type GroupAnswer } from '../../platform/group-commit.js';
import type { PreparedJob } from '../../platform/jobs.js';
import { ledgerWriteError, type PreparedCredit } from '../ledger/index.js';
import { grantErrors } from './grant.errors.js';
import type { GrantRow } from './grant.repo.js';
import type { DeliveryStatus, GrantStatus } from './grant.tables.js';

/**
 * One grant as ONE statement: the database function mh_grant_set (sql/mh_grant_set.sql, the one
 * grant path, for one grant or a group commit's many) applies what the service decided. Everything the function needs travels in one JSON parameter, so the statement
 * text never changes and stays prepared on each connection.
 */
export interface GrantStatement {
  tenantId: string;
  rewardId: string;
  /** The reward version the decision was made on; a newer stored version answers 'stale'. */
  rewardVersion: number;
  campaignId: string | null;
  /** Checked like rewardVersion when the campaign was checked (ACTIVE) by the service. */
  campaignVersion: number | null;
  grantId: string;
  rewardType: string;
  productCode: string;
  userId: string;
  quantity: number;
  source: string | null;
  sourceId: string | null;
  status: GrantStatus;
  distributor: string;
  deliveryStatus: DeliveryStatus;
  payload: Record<string, unknown>;
  now: Date;
  limit: { perUserLimit: number; periodKey: string } | null;
  minIntervalMs: number | null;
  credit: PreparedCredit | null;
  job: PreparedJob | null;
}

export type GrantStatementResult =
  | { outcome: 'granted' | 'replayed'; grant: GrantRow; /** The statement's whole answer (with what a caller's own statement added, GrantOptions.statement). */ answer: Record<string, unknown> }
  | { outcome: 'stale' };

/** A refusal the database made (per-user limit, interval, stock): nothing was left written. */
export class GrantRefusal extends Error {
  constructor(
    readonly code: string,
    readonly details: Record<string, unknown>,
  ) {
    super(code);
    this.name = 'GrantRefusal';
  }
}

/** One item of mh_grant_set, as JSON (the fields of the type mh_grant_item, without ord and nowait). */
function toParameter(s: GrantStatement): Record<string, unknown> {
  const p: Record<string, unknown> = {
    tenant_id: s.tenantId,
    reward_id: s.rewardId,
    reward_version: s.rewardVersion,
    campaign_id: s.campaignId,
    grant_id: s.grantId,
    reward_type: s.rewardType,
    product_code: s.productCode,
    user_id: s.userId,
    quantity: s.quantity,
    source: s.source,
    source_id: s.sourceId,
    status: s.status,
    distributor: s.distributor,
    delivery_status: s.deliveryStatus,
    payload: s.payload,
    now: s.now.toISOString(),
    period_key: s.limit?.periodKey ?? null,
  };
  // Optional parts are absent keys, not nulls: the function tests them with `?`.
  if (s.campaignVersion !== null) p.campaign_version = s.campaignVersion;
  if (s.limit) p.per_user_limit = s.limit.perUserLimit;
  if (s.minIntervalMs !== null) p.min_interval_ms = s.minIntervalMs;
  if (s.credit) p.credit = s.credit;
  if (s.job) p.job = s.job;
  return p;
}

/** What mh_grant_set answers for one grant (see sql/mh_grant_set.sql). */
export type Outcome =
  | { outcome: 'granted' | 'replayed'; grant: Record<string, unknown> }
  | { outcome: 'stale' }
  | { outcome: 'refused'; code: string; details: Record<string, unknown> }
  | { outcome: 'busy' };

function settle(o: Outcome): GrantStatementResult {
  switch (o.outcome) {
    case 'granted':
    case 'replayed':
      return { outcome: o.outcome, grant: grantFromJson(o.grant), answer: o };
    case 'stale':
      return o;
    case 'refused':
      throw new GrantRefusal(o.code, o.details ?? {});
    case 'busy':
      // Only a grant of a multi-grant batch is ever busy; the batcher runs it again on its own.
      throw new Error('mh_grant_set answered busy to a grant that was not batched');
  }
}

/**
 * Runs grants (their parameters) as ONE call of mh_grant_set, answering in order. In a set of
 * several nothing waits for a stock slot another transaction holds (nowait: such a grant answers
 * busy), so a batch only ever waits for users' rows, which every batch locks in one order (byUser).
 * The statement text never changes, so it stays prepared on each connection.
 */
export async function runGrantSet(exec: Executor, params: readonly Record<string, unknown>[]): Promise<Outcome[]> {
  try {
    const { rows } = await sql<{ r: Outcome }>`
      select s.outcome as r
      from mh_grant_set(array(
        select jsonb_populate_record(null::mh_grant_item, e.item || jsonb_build_object('ord', e.ord, 'nowait', ${params.length > 1}::boolean))
        from jsonb_array_elements(${JSON.stringify(params)}::jsonb) with ordinality as e(item, ord))) s
      order by s.ord`.execute(exec);
    return rows.map((row) => row.r);
  } catch (err) {
    throw ledgerWriteError(err) ?? err;
  }
}

/** One grant as its own statement; a refusal leaves nothing written and throws GrantRefusal. */
export async function runGrantStatement(exec: Executor, s: GrantStatement): Promise<GrantStatementResult> {
  return settle((await runGrantSet(exec, [toParameter(s)]))[0]!);
}

/**
 * Several grants in ONE statement in the caller's executor (mh_grant_set): for each, the grant
 * made, or null when the statement did not make it (refused, replayed, stale or busy; nothing of
 * it was written) and the caller must run it again on its own.
 */
export async function runGrantStatements(exec: Executor, statements: readonly GrantStatement[]): Promise<({ grant: GrantRow; answer: Record<string, unknown> } | null)[]> {
  const outcomes = await runGrantSet(exec, statements.map(toParameter));
  return outcomes.map((o) => (o.outcome === 'granted' ? { grant: grantFromJson(o.grant), answer: o } : null));
}

/** One grant run by the caller's own statement (GrantOptions.statement), answered as runGrantStatement would. */
export async function runGrantStatementBy(run: (exec: Executor, parameter: Record<string, unknown>) => Promise<Record<string, unknown>>, exec: Executor, s: GrantStatement): Promise<GrantStatementResult> {
  return settle((await run(exec, toParameter(s))) as Outcome);
}

export interface GrantBatcher {
  /** Runs the grant in the next batch; answers (or throws) exactly as runGrantStatement would. */
  submit(s: GrantStatement): Promise<GrantStatementResult>;
}

type Parameter = Record<string, unknown>;

/** Users' rows are locked in this order by every batch (see runGrantSet). */
const byUser = (a: Parameter, b: Parameter) => compare(a.tenant_id, b.tenant_id) || compare(a.user_id, b.user_id) || compare(a.reward_id, b.reward_id);
const compare = (a: unknown, b: unknown) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0);

/** A batch's answer for one grant: busy grants run again on their own (platform/group-commit.ts). */
function answerOf(o: Outcome): GroupAnswer<GrantStatementResult> {
  if (o.outcome === 'busy') return ALONE;
  try {
    return { ok: settle(o) };
  } catch (error) {
    return { error };
  }
}

/**
 * Group commit for grants (platform/group-commit.ts). A grant that arrives while `concurrency`
 * batches are in flight waits for the next one, so under load many grants share one round trip
 * and one commit; with no load a grant goes at once, alone. Grants that are part of a caller's
 * transaction never come here.
 */
export function createGrantBatcher(
  db: Executor,
  options: { maxSize: number; concurrency: number; onBatch?: (size: number) => void; onBatchFailed?: (err: unknown) => void },
): GrantBatcher {
  const group = createGroupCommit<Parameter, GrantStatementResult>({
    maxSize: options.maxSize,
    concurrency: options.concurrency,
    order: byUser,
    runGroup: async (params) => (await runGrantSet(db, params)).map(answerOf),
    runAlone: async (p) => settle((await runGrantSet(db, [p]))[0]!),
    ...(options.onBatch ? { onGroup: options.onBatch } : {}),
    ...(options.onBatchFailed ? { onGroupFailed: options.onBatchFailed } : {}),
  });
  return { submit: (s) => group.submit(toParameter(s)) };
}

const DATE_COLUMNS = ['delivered_at', 'used_at', 'revoked_at', 'created_at', 'updated_at'] as const;

/** A reward_grant row as to_jsonb gives it, with its timestamps as Dates like a queried row. */
export function grantFromJson(json: Record<string, unknown>): GrantRow {
  const row = { ...json } as Record<string, unknown>;
  for (const c of DATE_COLUMNS) row[c] = row[c] === null || row[c] === undefined ? null : new Date(row[c] as string);
  return row as unknown as GrantRow;
}

/**
 * The API error of a database refusal. The limits come from the decision (`ctx`, what the
 * statement was built from), the wait from the database, so the answer is the one the
 * eligibility check gives (grant.errors.ts).
 */
export function refusalToError(r: GrantRefusal, ctx: { rewardId: string; quantity: number; perUserLimit?: number | undefined; period?: string; minIntervalSeconds?: number | undefined }): AppError {
  switch (r.code) {
    case 'per_user_limit_reached':
      return grantErrors.perUserLimitReached(ctx.perUserLimit ?? Number(r.details.per_user_limit), ctx.period ?? 'LIFETIME', ctx.quantity);
    case 'min_interval_not_elapsed':
      return grantErrors.minIntervalNotElapsed(ctx.minIntervalSeconds ?? 0, Number(r.details.retry_after_seconds));
    case 'inventory_exhausted':
      return grantErrors.inventoryExhausted(ctx.rewardId, Number(r.details.available ?? 0));
    default:
      return grantErrors.otherRefusal(r.code, r.details);
  }
}
