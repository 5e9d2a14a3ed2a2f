/**
 * The worker half of the background jobs (the rows and their statements are queue.ts): polls
 * each registered queue, runs the queue's handler outside any transaction, keeps a lease on each
 * running job, records the outcome, runs recurring tasks (sweeps), and on stop waits for
 * everything it started.
 */
import type { Database } from '../../db/client.js';
import type { Clock } from '../clock.js';
import {
  backoffMs,
  type ClaimedJob,
  claimJobs,
  describeError,
  type JobRecord,
  type JobStatus,
  jobRef,
  PermanentJobError,
  recordJobOutcome,
  renewJobLease,
} from './queue.js';

export type JobHandler = (job: JobRecord) => Promise<void>;

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

export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_POLL_MS = 250;
export const DEFAULT_LOCK_SECONDS = 60;
// After a failed poll (database down), a queue waits this long before polling again, so an
// outage produces one log line per queue every few seconds, not four per second.
const POLL_ERROR_PAUSE_MS = 5_000;

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

/** One runner's dependencies and mutable state, shared by the functions below. */
interface Runner {
  db: Database;
  clock: Clock;
  log: JobLog;
  pollMs: number;
  lockSeconds: number;
  random: () => number;
  queues: Map<string, QueueState>;
  tasks: RecurringTask[];
  inflight: Set<Promise<void>>;
  running: boolean;
  pollTimer: NodeJS.Timeout | undefined;
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
  const runner: Runner = {
    db: deps.db,
    clock: deps.clock,
    log: deps.log,
    pollMs: deps.pollMs ?? DEFAULT_POLL_MS,
    lockSeconds: deps.lockSeconds ?? DEFAULT_LOCK_SECONDS,
    random: deps.random ?? Math.random,
    queues: new Map<string, QueueState>(),
    tasks: [],
    inflight: new Set<Promise<void>>(),
    running: false,
    pollTimer: undefined,
  };
  return {
    register: (name, handler, options = {}) => registerQueue(runner, name, handler, options),
    every: (name, ms, task) => addRecurringTask(runner, name, ms, task),
    start: () => startRunner(runner),
    stop: () => stopRunner(runner),
    runDue: () => runDueJobs(runner),
  };
}

// --- lifecycle ---

function registerQueue(runner: Runner, name: string, handler: JobHandler, options: RegisterOptions): void {
  if (runner.queues.has(name)) throw new Error(`jobs: queue ${name} already has a handler`);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`jobs: concurrency must be an integer >= 1, got ${concurrency}`);
  const queue: QueueState = { name, handler, onDead: options.onDead, concurrency, running: 0, polling: false, pollAgain: false, maybeMore: false, pausedUntil: 0 };
  runner.queues.set(name, queue);
  kick(runner, queue);
}

function addRecurringTask(runner: Runner, name: string, ms: number, task: () => Promise<void>): void {
  if (!(ms > 0)) throw new Error(`jobs: interval of ${name} must be positive, got ${ms}`);
  const recurring: RecurringTask = { name, ms, task, running: false, timer: undefined };
  runner.tasks.push(recurring);
  if (runner.running) startTask(runner, recurring);
}

function startRunner(runner: Runner): void {
  if (runner.running) return;
  runner.running = true;
  runner.pollTimer = setInterval(() => {
    for (const queue of runner.queues.values()) kick(runner, queue);
  }, runner.pollMs);
  for (const queue of runner.queues.values()) kick(runner, queue);
  for (const task of runner.tasks) startTask(runner, task);
}

async function stopRunner(runner: Runner): Promise<void> {
  runner.running = false;
  clearInterval(runner.pollTimer);
  runner.pollTimer = undefined;
  for (const task of runner.tasks) {
    clearInterval(task.timer);
    task.timer = undefined;
  }
  // A poll in flight may still claim jobs; those run to the end too (they hold leases), so
  // wait until nothing is left rather than for a snapshot.
  while (runner.inflight.size > 0) await Promise.allSettled([...runner.inflight]);
}

async function runDueJobs(runner: Runner): Promise<number> {
  let total = 0;
  for (;;) {
    let ran = 0;
    for (const queue of runner.queues.values()) {
      const jobs = await claimJobs(runner.db, { queue: queue.name, limit: queue.concurrency, now: runner.clock.now(), lockSeconds: runner.lockSeconds });
      ran += jobs.length;
      await Promise.all(jobs.map((job) => track(runner, runJob(runner, queue, job))));
    }
    total += ran;
    if (ran === 0) return total;
  }
}

// Every promise the runner starts is tracked, so stop() can wait for all of them. They never
// reject: failures are recorded on the job or logged.
function track(runner: Runner, promise: Promise<void>): Promise<void> {
  runner.inflight.add(promise);
  const done = () => runner.inflight.delete(promise);
  promise.then(done, done);
  return promise;
}

// --- polling ---

// One poll per queue at a time: an interval tick during a poll is dropped; a slot freed during
// a poll (`urgent`) asks for one more poll right after it.
function kick(runner: Runner, queue: QueueState, urgent = false): void {
  if (!runner.running) return;
  if (queue.polling) {
    if (urgent) queue.pollAgain = true;
    return;
  }
  if (!urgent && Date.now() < queue.pausedUntil) return;
  queue.polling = true;
  void track(runner, pollThenRepoll(runner, queue));
}

async function pollThenRepoll(runner: Runner, queue: QueueState): Promise<void> {
  try {
    await pollQueue(runner, queue);
  } catch (err) {
    queue.pausedUntil = Date.now() + POLL_ERROR_PAUSE_MS;
    runner.log.error({ queue: queue.name, err }, 'job poll failed');
  } finally {
    queue.polling = false;
  }
  if (queue.pollAgain) {
    queue.pollAgain = false;
    kick(runner, queue, true);
  }
}

async function pollQueue(runner: Runner, queue: QueueState): Promise<void> {
  const free = queue.concurrency - queue.running;
  if (free <= 0) {
    queue.maybeMore = true;
    return;
  }
  const jobs = await claimJobs(runner.db, { queue: queue.name, limit: free, now: runner.clock.now(), lockSeconds: runner.lockSeconds });
  queue.maybeMore = jobs.length === free;
  for (const job of jobs) {
    queue.running++;
    void track(
      runner,
      runJob(runner, queue, job).then(() => {
        queue.running--;
        if (queue.maybeMore) kick(runner, queue, true);
      }),
    );
  }
}

function startTask(runner: Runner, task: RecurringTask): void {
  task.timer = setInterval(() => {
    // A slow sweep is skipped, not stacked: the next tick comes soon enough.
    if (!runner.running || task.running) return;
    task.running = true;
    void track(runner, runTask(runner, task));
  }, task.ms);
}

async function runTask(runner: Runner, task: RecurringTask): Promise<void> {
  try {
    await task.task();
  } catch (err) {
    runner.log.error({ task: task.name, err }, 'recurring task failed');
  } finally {
    task.running = false;
  }
}

// --- one job ---

async function runJob(runner: Runner, queue: QueueState, job: ClaimedJob): Promise<void> {
  const ref = jobRef(job);
  try {
    if (job.attempts > job.max_attempts) {
      await buryAbandonedJob(runner, queue, job);
      return;
    }
    const failure = await runHandler(runner, queue, job);
    const owned = await settleJob(runner, queue, job, failure);
    if (!owned) runner.log.warn(ref, 'job outcome not recorded: its lease expired and another worker claimed it');
  } catch (err) {
    // The outcome could not be written (database unreachable): the lease runs out and the job
    // runs again, which at-least-once delivery allows.
    runner.log.error({ ...ref, err }, 'could not record job outcome; it will run again after its lease');
  }
}

/**
 * Claimed through an expired lease after its last allowed attempt: the worker of that attempt
 * died mid-run (possibly killed by this very job), so do not run it again.
 */
async function buryAbandonedJob(runner: Runner, queue: QueueState, job: ClaimedJob): Promise<void> {
  const lastError = 'the worker of the last attempt stopped before finishing (lease expired)';
  if (await finish(runner, job, { status: 'DEAD', last_error: lastError })) await notifyDead(runner, queue, job, lastError);
  runner.log.error(jobRef(job), 'job is dead: its last attempt never finished');
}

/** Runs the queue's handler while renewing the job's lease; returns what it threw, if anything. */
async function runHandler(runner: Runner, queue: QueueState, job: ClaimedJob): Promise<{ error: unknown } | undefined> {
  const ref = jobRef(job);
  // Renew the lease well before it ends, so a slow handler is not taken for a dead one.
  const heartbeat = setInterval(() => {
    renewLease(runner, job).catch((err: unknown) => runner.log.warn({ ...ref, err }, 'could not renew job lease'));
  }, Math.max(1, (runner.lockSeconds * 1000) / 3));
  heartbeat.unref();
  try {
    await queue.handler(toJobRecord(job));
    return undefined;
  } catch (error) {
    return { error };
  } finally {
    clearInterval(heartbeat);
  }
}

/**
 * Records the handler's outcome: DONE; DEAD when the error is permanent or the attempts are used
 * up; otherwise PENDING again after a backoff. Returns whether this worker still held the job.
 */
async function settleJob(runner: Runner, queue: QueueState, job: ClaimedJob, failure: { error: unknown } | undefined): Promise<boolean> {
  if (!failure) return finish(runner, job, { status: 'DONE' });
  const ref = jobRef(job);
  const message = describeError(failure.error);
  const permanent = failure.error instanceof PermanentJobError;
  if (permanent || job.attempts >= job.max_attempts) {
    const owned = await finish(runner, job, { status: 'DEAD', last_error: message });
    if (owned) {
      runner.log.error({ ...ref, err: failure.error, permanent }, 'job is dead');
      await notifyDead(runner, queue, job, message);
    }
    return owned;
  }
  const delay = backoffMs(job.attempts, runner.random);
  const owned = await finish(runner, job, { status: 'PENDING', run_at: new Date(runner.clock.now().getTime() + delay), last_error: message });
  if (owned) runner.log.warn({ ...ref, err: failure.error, retryInMs: delay }, 'job failed; will retry');
  return owned;
}

/** Records the outcome only if this worker still holds the job (same attempt, still RUNNING). */
async function finish(runner: Runner, job: ClaimedJob, set: { status: JobStatus; run_at?: Date; last_error?: string }): Promise<boolean> {
  return recordJobOutcome(runner.db, job, set, runner.clock.now());
}

async function renewLease(runner: Runner, job: ClaimedJob): Promise<void> {
  const lease = new Date(runner.clock.now().getTime() + runner.lockSeconds * 1000);
  if (!(await renewJobLease(runner.db, job, lease))) {
    runner.log.warn(jobRef(job), 'job lease lost while its handler runs; another worker may run it too');
  }
}

async function notifyDead(runner: Runner, queue: QueueState, job: ClaimedJob, lastError: string): Promise<void> {
  if (!queue.onDead) return;
  try {
    await queue.onDead(toJobRecord(job), lastError);
  } catch (err) {
    runner.log.error({ ...jobRef(job), err }, 'onDead hook failed');
  }
}

function toJobRecord(job: ClaimedJob): JobRecord {
  return {
    jobId: job.job_id,
    tenantId: job.tenant_id,
    queue: job.queue,
    payload: job.payload,
    attempt: job.attempts,
    maxAttempts: job.max_attempts,
  };
}
