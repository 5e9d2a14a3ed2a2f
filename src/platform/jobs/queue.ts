/**
 * The queue half of the background jobs (the runner half is runner.ts): a job is a row written
 * with the caller's transaction, so it exists exactly when the change that caused it was
 * committed. This file holds what is done to those rows: enqueue, claim (FOR UPDATE SKIP LOCKED),
 * renew a lease, record an outcome (done, retry after backoff, dead), and the look-ups, manual
 * retry and purge for dead and finished jobs. Delivery is at least once: a worker that dies after
 * the handler's side effect but before recording DONE leaves the job to run again once its lease
 * expires, so handlers must be idempotent (send a stable delivery id, upsert, check first).
 */
import { sql, type Selectable } from 'kysely';
import type { Database, Executor } from '../../db/client.js';
import type { Clock } from '../clock.js';
import { newId } from '../ids.js';
import type { JobStatus, JobTable } from '../jobs.tables.js';

export interface JobRecord {
  jobId: string;
  tenantId: string;
  queue: string;
  payload: unknown;
  /** 1 on the first run. */
  attempt: number;
  maxAttempts: number;
}

export interface EnqueueInput {
  tenantId: string;
  queue: string;
  payload: unknown;
  runAt?: Date;
  maxAttempts?: number;
}

export interface JobQueue {
  /** Writes the job with `exec`: pass the transaction of the change that causes it. */
  enqueue(exec: Executor, job: EnqueueInput): Promise<string>;
  /** Several jobs in one statement, with `exec` (the caller's transaction). */
  enqueueMany(exec: Executor, jobs: readonly EnqueueInput[]): Promise<string[]>;
  /**
   * The job's id and checked fields, for a caller that inserts the job row inside its own
   * statement (the one-statement grant): it runs at the time of that statement.
   */
  prepare(job: Omit<EnqueueInput, 'runAt'>): PreparedJob;
}

export interface PreparedJob {
  job_id: string;
  queue: string;
  payload: unknown;
  max_attempts: number;
}

export type { JobStatus };
export type JobRow = Selectable<JobTable>;

/**
 * Thrown by a handler when retrying cannot help (the target is gone, the payload is invalid):
 * the job becomes DEAD at once instead of using up its attempts over the next hours.
 */
export class PermanentJobError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentJobError';
  }
}

export const DEFAULT_MAX_ATTEMPTS = 12;
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_CAP_MS = 300_000;
// last_error is for people reading a dead job, not a log archive: a huge message (an HTML error
// page in an exception) must not bloat the row.
const LAST_ERROR_MAX_CHARS = 2_000;

/**
 * Delay before the retry that follows failed attempt `attempt` (1-based): 1 s, 2 s, 4 s, ...
 * doubling up to 5 min, each spread by ±20% so that jobs which failed together (an endpoint that
 * was down) do not all retry in the same instant. 12 attempts span about 18 minutes.
 */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 1));
  return Math.min(BACKOFF_CAP_MS, Math.round(base * (0.8 + 0.4 * random())));
}

/** The queue producers use: `services.jobs.enqueue(trx, { tenantId, queue, payload })`. */
export function createJobQueue(deps: { db: Database; clock: Clock }): JobQueue {
  const { clock } = deps;
  const prepare = (job: Omit<EnqueueInput, 'runAt'>): PreparedJob => prepareJob(clock, job);
  return {
    prepare,
    enqueue: async (exec, job) => (await enqueueJobs(exec, clock, [job]))[0]!,
    enqueueMany: (exec, jobs) => enqueueJobs(exec, clock, jobs),
  };
}

function prepareJob(clock: Clock, job: Omit<EnqueueInput, 'runAt'>): PreparedJob {
  const maxAttempts = job.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new Error(`jobs: maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  if (!job.queue) throw new Error('jobs: queue is required');
  return { job_id: newId('job', clock.now().getTime()), queue: job.queue, payload: job.payload ?? null, max_attempts: maxAttempts };
}

/** Writes jobs with `exec` in ONE multi-row INSERT (one path for one job or many). */
async function enqueueJobs(exec: Executor, clock: Clock, jobs: readonly EnqueueInput[]): Promise<string[]> {
  if (jobs.length === 0) return [];
  const now = clock.now();
  const rows = jobs.map((job) => {
    const { job_id, max_attempts } = prepareJob(clock, job);
    return {
      tenant_id: job.tenantId,
      job_id,
      queue: job.queue,
      payload: JSON.stringify(job.payload ?? null),
      max_attempts,
      run_at: job.runAt ?? now,
      created_at: now,
      updated_at: now,
    };
  });
  // Deliberately `exec`, never the root database: the jobs must commit or roll back with the
  // caller's change (and on PGlite the root handle would wait forever behind the open transaction).
  await exec.insertInto('job').values(rows).execute();
  return rows.map((row) => row.job_id);
}

export interface ClaimedJob {
  tenant_id: string;
  job_id: string;
  queue: string;
  payload: unknown;
  /** Already counting this run. */
  attempts: number;
  max_attempts: number;
}

/**
 * Claims up to `limit` due jobs of `queue` in one statement: waiting jobs whose time has come and
 * running jobs whose lease expired (their worker died). SKIP LOCKED lets concurrent workers take
 * disjoint rows without waiting on each other. The CTE is MATERIALIZED so the locking subquery
 * runs exactly once; a plain `IN (subquery)` may be re-executed inside a join and claim more than
 * `limit` rows. Exported for tests and tools; the runner is the normal caller.
 */
export async function claimJobs(
  exec: Executor,
  options: { queue: string; limit: number; now: Date; lockSeconds: number },
): Promise<ClaimedJob[]> {
  const { queue, limit, now, lockSeconds } = options;
  if (limit <= 0) return [];
  const lease = new Date(now.getTime() + lockSeconds * 1000);
  const result = await sql<ClaimedJob>`
    with due as materialized (
      select tenant_id, job_id from job
      where queue = ${queue}
        and ((status = 'PENDING' and run_at <= ${now}) or (status = 'RUNNING' and locked_until <= ${now}))
      order by run_at
      limit ${limit}
      for update skip locked
    )
    update job set status = 'RUNNING', attempts = job.attempts + 1, locked_until = ${lease}, updated_at = ${now}
    from due
    where job.tenant_id = due.tenant_id and job.job_id = due.job_id
    returning job.tenant_id, job.job_id, job.queue, job.payload, job.attempts, job.max_attempts`.execute(exec);
  return result.rows;
}

/**
 * Records the outcome of a claimed job (DONE, DEAD, or PENDING again at `run_at` with the error)
 * only if this worker still holds it (same attempt, still RUNNING); returns whether it did.
 */
export async function recordJobOutcome(
  exec: Executor,
  job: ClaimedJob,
  set: { status: JobStatus; run_at?: Date; last_error?: string },
  now: Date,
): Promise<boolean> {
  const finished = set.status === 'DONE' || set.status === 'DEAD';
  const row = await exec
    .updateTable('job')
    .set({ ...set, locked_until: null, updated_at: now, ...(finished ? { finished_at: now } : {}) })
    .where('tenant_id', '=', job.tenant_id)
    .where('job_id', '=', job.job_id)
    .where('status', '=', 'RUNNING')
    .where('attempts', '=', job.attempts)
    .returning('job_id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Moves the lease of a running job to `lease`; false when this worker no longer holds the job. */
export async function renewJobLease(exec: Executor, job: ClaimedJob, lease: Date): Promise<boolean> {
  const row = await exec
    .updateTable('job')
    .set({ locked_until: lease })
    .where('tenant_id', '=', job.tenant_id)
    .where('job_id', '=', job.job_id)
    .where('status', '=', 'RUNNING')
    .where('attempts', '=', job.attempts)
    .returning('job_id')
    .executeTakeFirst();
  return row !== undefined;
}

/** One job as stored (status, attempts, last error), for visibility; undefined if absent. */
export async function getJob(exec: Executor, tenantId: string, jobId: string): Promise<JobRow | undefined> {
  return exec.selectFrom('job').selectAll().where('tenant_id', '=', tenantId).where('job_id', '=', jobId).executeTakeFirst();
}

/**
 * Manual retry of a DEAD job: it runs again at `now` with a fresh set of attempts; last_error is
 * kept until a new failure replaces it. Returns false when the job is not DEAD (or not found).
 */
export async function retryJob(exec: Executor, input: { tenantId: string; jobId: string; now: Date }): Promise<boolean> {
  const row = await exec
    .updateTable('job')
    .set({ status: 'PENDING', attempts: 0, run_at: input.now, locked_until: null, finished_at: null, updated_at: input.now })
    .where('tenant_id', '=', input.tenantId)
    .where('job_id', '=', input.jobId)
    .where('status', '=', 'DEAD')
    .returning('job_id')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Deletes DONE jobs finished before `before`, at most `limit` per call (a sweep calls it
 * repeatedly, so no single statement holds locks for long). DEAD jobs are kept: someone has to
 * look at them. Returns how many were deleted.
 */
export async function purgeDoneJobs(exec: Executor, input: { before: Date; limit?: number }): Promise<number> {
  const result = await sql`
    delete from job where (tenant_id, job_id) in (
      select tenant_id, job_id from job
      where status = 'DONE' and finished_at < ${input.before}
      limit ${input.limit ?? 1000}
    )`.execute(exec);
  return Number(result.numAffectedRows ?? 0);
}

/** The job's identity for log lines. */
export function jobRef(job: ClaimedJob) {
  return { jobId: job.job_id, tenantId: job.tenant_id, queue: job.queue, attempt: job.attempts };
}

/** A thrown value as `last_error`: `Name: message`, cut to LAST_ERROR_MAX_CHARS. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : `non-error thrown: ${safeString(error)}`;
  return text.length > LAST_ERROR_MAX_CHARS ? `${text.slice(0, LAST_ERROR_MAX_CHARS - 1)}…` : text;
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}
