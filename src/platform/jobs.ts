/**
 * Background jobs on the database itself (graphile-worker's idea, not a broker): a job is a row
 * written with the caller's transaction, so it exists exactly when the change that caused it was
 * committed. Workers claim due rows with FOR UPDATE SKIP LOCKED, run the queue's handler outside
 * any transaction, and record the outcome. Delivery is at least once: a worker that dies after
 * the handler's side effect but before recording DONE leaves the job to run again once its lease
 * expires, so handlers must be idempotent (send a stable delivery id, upsert, check first).
 */
import { sql, type Selectable } from 'kysely';
import type { Database, Executor } from '../db/client.js';
import type { Clock } from './clock.js';
import { newId } from './ids.js';
import type { JobStatus, JobTable } from './jobs.tables.js';

export interface JobRecord {
  jobId: string;
  tenantId: string;
  queue: string;
  payload: unknown;
  /** 1 on the first run. */
  attempt: number;
  maxAttempts: number;
}

export type JobHandler = (job: JobRecord) => Promise<void>;

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

export interface JobRunner {
  register(queue: string, handler: JobHandler, options?: RegisterOptions): void;
  /** A recurring task (sweeps): runs every `ms` while the runner runs. */
  every(name: string, ms: number, task: () => Promise<void>): void;
  start(): void;
  stop(): Promise<void>;
  /** Runs every job that is due now, to completion (tests, CLI); returns how many ran. */
  runDue(): Promise<number>;
}

export interface RegisterOptions {
  concurrency?: number;
  /**
   * Called once a job of the queue is DEAD (attempts used up, PermanentJobError, or its last
   * attempt's worker vanished), so the owner can show the failure on its own record. Errors are
   * logged, not retried.
   */
  onDead?: (job: JobRecord, lastError: string) => Promise<void>;
}

export interface JobLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
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
export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_POLL_MS = 250;
export const DEFAULT_LOCK_SECONDS = 60;
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_CAP_MS = 300_000;
// last_error is for people reading a dead job, not a log archive: a huge message (an HTML error
// page in an exception) must not bloat the row.
const LAST_ERROR_MAX_CHARS = 2_000;
// After a failed poll (database down), a queue waits this long before polling again, so an
// outage produces one log line per queue every few seconds, not four per second.
const POLL_ERROR_PAUSE_MS = 5_000;

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
  const prepare = (job: Omit<EnqueueInput, 'runAt'>): PreparedJob => {
    const maxAttempts = job.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new Error(`jobs: maxAttempts must be an integer >= 1, got ${maxAttempts}`);
    if (!job.queue) throw new Error('jobs: queue is required');
    return { job_id: newId('job', clock.now().getTime()), queue: job.queue, payload: job.payload ?? null, max_attempts: maxAttempts };
  };
  return {
    prepare,
    async enqueue(exec, job) {
      const { job_id: jobId, max_attempts: maxAttempts } = prepare(job);
      const now = clock.now();
      // Deliberately `exec`, never the root database: the job must commit or roll back with the
      // caller's change (and on PGlite the root handle would wait forever behind the open transaction).
      await exec
        .insertInto('job')
        .values({
          tenant_id: job.tenantId,
          job_id: jobId,
          queue: job.queue,
          payload: JSON.stringify(job.payload ?? null),
          max_attempts: maxAttempts,
          run_at: job.runAt ?? now,
          created_at: now,
          updated_at: now,
        })
        .execute();
      return jobId;
    },
  };
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

interface QueueState {
  name: string;
  handler: JobHandler;
  onDead: RegisterOptions['onDead'];
  concurrency: number;
  running: number;
  polling: boolean;
  pollAgain: boolean;
  /** The last claim filled every free slot, so more jobs are probably waiting. */
  maybeMore: boolean;
  pausedUntil: number;
}

interface RecurringTask {
  name: string;
  ms: number;
  task: () => Promise<void>;
  running: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The worker side: polls each registered queue every `pollMs`, runs up to `concurrency` jobs of a
 * queue at once, holds a `lockSeconds` lease on each running job (renewed while the handler
 * runs), and retries failures with backoff until `max_attempts`, then marks them DEAD.
 */
export function createJobRunner(deps: {
  db: Database;
  clock: Clock;
  log: JobLog;
  pollMs?: number;
  lockSeconds?: number;
  /** Jitter source for the backoff (tests may pin it). */
  random?: () => number;
}): JobRunner {
  const { db, clock, log } = deps;
  const pollMs = deps.pollMs ?? DEFAULT_POLL_MS;
  const lockSeconds = deps.lockSeconds ?? DEFAULT_LOCK_SECONDS;
  const random = deps.random ?? Math.random;
  const queues = new Map<string, QueueState>();
  const tasks: RecurringTask[] = [];
  const inflight = new Set<Promise<void>>();
  let running = false;
  let pollTimer: NodeJS.Timeout | undefined;

  // Every promise the runner starts is tracked, so stop() can wait for all of them. They never
  // reject: failures are recorded on the job or logged.
  const track = (promise: Promise<void>): Promise<void> => {
    inflight.add(promise);
    const done = () => inflight.delete(promise);
    promise.then(done, done);
    return promise;
  };

  /** Records the outcome only if this worker still holds the job (same attempt, still RUNNING). */
  const finish = async (job: ClaimedJob, set: { status: JobStatus; run_at?: Date; last_error?: string }): Promise<boolean> => {
    const now = clock.now();
    const finished = set.status === 'DONE' || set.status === 'DEAD';
    const row = await db
      .updateTable('job')
      .set({ ...set, locked_until: null, updated_at: now, ...(finished ? { finished_at: now } : {}) })
      .where('tenant_id', '=', job.tenant_id)
      .where('job_id', '=', job.job_id)
      .where('status', '=', 'RUNNING')
      .where('attempts', '=', job.attempts)
      .returning('job_id')
      .executeTakeFirst();
    return row !== undefined;
  };

  const renewLease = async (job: ClaimedJob): Promise<void> => {
    const lease = new Date(clock.now().getTime() + lockSeconds * 1000);
    const row = await db
      .updateTable('job')
      .set({ locked_until: lease })
      .where('tenant_id', '=', job.tenant_id)
      .where('job_id', '=', job.job_id)
      .where('status', '=', 'RUNNING')
      .where('attempts', '=', job.attempts)
      .returning('job_id')
      .executeTakeFirst();
    if (!row) log.warn(jobRef(job), 'job lease lost while its handler runs; another worker may run it too');
  };

  const record = (job: ClaimedJob) => ({
    jobId: job.job_id,
    tenantId: job.tenant_id,
    queue: job.queue,
    payload: job.payload,
    attempt: job.attempts,
    maxAttempts: job.max_attempts,
  });

  const notifyDead = async (queue: QueueState, job: ClaimedJob, lastError: string): Promise<void> => {
    if (!queue.onDead) return;
    try {
      await queue.onDead(record(job), lastError);
    } catch (err) {
      log.error({ ...jobRef(job), err }, 'onDead hook failed');
    }
  };

  const runJob = async (queue: QueueState, job: ClaimedJob): Promise<void> => {
    const ref = jobRef(job);
    try {
      if (job.attempts > job.max_attempts) {
        // Claimed through an expired lease after its last allowed attempt: the worker of that
        // attempt died mid-run (possibly killed by this very job), so do not run it again.
        const lastError = 'the worker of the last attempt stopped before finishing (lease expired)';
        if (await finish(job, { status: 'DEAD', last_error: lastError })) await notifyDead(queue, job, lastError);
        log.error(ref, 'job is dead: its last attempt never finished');
        return;
      }
      // Renew the lease well before it ends, so a slow handler is not taken for a dead one.
      const heartbeat = setInterval(() => {
        renewLease(job).catch((err: unknown) => log.warn({ ...ref, err }, 'could not renew job lease'));
      }, Math.max(1, (lockSeconds * 1000) / 3));
      heartbeat.unref();
      let failure: { error: unknown } | undefined;
      try {
        await queue.handler({
          jobId: job.job_id,
          tenantId: job.tenant_id,
          queue: job.queue,
          payload: job.payload,
          attempt: job.attempts,
          maxAttempts: job.max_attempts,
        });
      } catch (error) {
        failure = { error };
      } finally {
        clearInterval(heartbeat);
      }

      let owned: boolean;
      if (!failure) {
        owned = await finish(job, { status: 'DONE' });
      } else {
        const message = describeError(failure.error);
        const permanent = failure.error instanceof PermanentJobError;
        if (permanent || job.attempts >= job.max_attempts) {
          owned = await finish(job, { status: 'DEAD', last_error: message });
          if (owned) {
            log.error({ ...ref, err: failure.error, permanent }, 'job is dead');
            await notifyDead(queue, job, message);
          }
        } else {
          const delay = backoffMs(job.attempts, random);
          owned = await finish(job, { status: 'PENDING', run_at: new Date(clock.now().getTime() + delay), last_error: message });
          if (owned) log.warn({ ...ref, err: failure.error, retryInMs: delay }, 'job failed; will retry');
        }
      }
      if (!owned) log.warn(ref, 'job outcome not recorded: its lease expired and another worker claimed it');
    } catch (err) {
      // The outcome could not be written (database unreachable): the lease runs out and the job
      // runs again, which at-least-once delivery allows.
      log.error({ ...ref, err }, 'could not record job outcome; it will run again after its lease');
    }
  };

  const pollQueue = async (queue: QueueState): Promise<void> => {
    const free = queue.concurrency - queue.running;
    if (free <= 0) {
      queue.maybeMore = true;
      return;
    }
    const jobs = await claimJobs(db, { queue: queue.name, limit: free, now: clock.now(), lockSeconds });
    queue.maybeMore = jobs.length === free;
    for (const job of jobs) {
      queue.running++;
      void track(
        runJob(queue, job).then(() => {
          queue.running--;
          if (queue.maybeMore) kick(queue, true);
        }),
      );
    }
  };

  // One poll per queue at a time: an interval tick during a poll is dropped; a slot freed during
  // a poll (`urgent`) asks for one more poll right after it.
  const kick = (queue: QueueState, urgent = false): void => {
    if (!running) return;
    if (queue.polling) {
      if (urgent) queue.pollAgain = true;
      return;
    }
    if (!urgent && Date.now() < queue.pausedUntil) return;
    queue.polling = true;
    void track(
      (async () => {
        try {
          await pollQueue(queue);
        } catch (err) {
          queue.pausedUntil = Date.now() + POLL_ERROR_PAUSE_MS;
          log.error({ queue: queue.name, err }, 'job poll failed');
        } finally {
          queue.polling = false;
        }
        if (queue.pollAgain) {
          queue.pollAgain = false;
          kick(queue, true);
        }
      })(),
    );
  };

  const startTask = (task: RecurringTask): void => {
    task.timer = setInterval(() => {
      // A slow sweep is skipped, not stacked: the next tick comes soon enough.
      if (!running || task.running) return;
      task.running = true;
      void track(
        (async () => {
          try {
            await task.task();
          } catch (err) {
            log.error({ task: task.name, err }, 'recurring task failed');
          } finally {
            task.running = false;
          }
        })(),
      );
    }, task.ms);
  };

  return {
    register(name, handler, options = {}) {
      if (queues.has(name)) throw new Error(`jobs: queue ${name} already has a handler`);
      const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`jobs: concurrency must be an integer >= 1, got ${concurrency}`);
      const queue: QueueState = { name, handler, onDead: options.onDead, concurrency, running: 0, polling: false, pollAgain: false, maybeMore: false, pausedUntil: 0 };
      queues.set(name, queue);
      kick(queue);
    },

    every(name, ms, task) {
      if (!(ms > 0)) throw new Error(`jobs: interval of ${name} must be positive, got ${ms}`);
      const recurring: RecurringTask = { name, ms, task, running: false, timer: undefined };
      tasks.push(recurring);
      if (running) startTask(recurring);
    },

    start() {
      if (running) return;
      running = true;
      pollTimer = setInterval(() => {
        for (const queue of queues.values()) kick(queue);
      }, pollMs);
      for (const queue of queues.values()) kick(queue);
      for (const task of tasks) startTask(task);
    },

    async stop() {
      running = false;
      clearInterval(pollTimer);
      pollTimer = undefined;
      for (const task of tasks) {
        clearInterval(task.timer);
        task.timer = undefined;
      }
      // A poll in flight may still claim jobs; those run to the end too (they hold leases), so
      // wait until nothing is left rather than for a snapshot.
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },

    async runDue() {
      let total = 0;
      for (;;) {
        let ran = 0;
        for (const queue of queues.values()) {
          const jobs = await claimJobs(db, { queue: queue.name, limit: queue.concurrency, now: clock.now(), lockSeconds });
          ran += jobs.length;
          await Promise.all(jobs.map((job) => track(runJob(queue, job))));
        }
        total += ran;
        if (ran === 0) return total;
      }
    },
  };
}

function jobRef(job: ClaimedJob) {
  return { jobId: job.job_id, tenantId: job.tenant_id, queue: job.queue, attempt: job.attempts };
}

function describeError(error: unknown): string {
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
