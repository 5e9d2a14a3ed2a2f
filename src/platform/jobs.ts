/**
 * Background jobs on the database itself (graphile-worker's idea, not a broker): a job is a row
 * written with the caller's transaction, so it exists exactly when the change that caused it was
 * committed. Workers claim due rows with FOR UPDATE SKIP LOCKED, run the queue's handler outside
 * any transaction, and record the outcome. Delivery is at least once: a worker that dies after
 * the handler's side effect but before recording DONE leaves the job to run again once its lease
 * expires, so handlers must be idempotent (send a stable delivery id, upsert, check first).
 *
 * The public face of jobs/: queue.ts (enqueue in the caller's transaction, claim, outcomes with
 * backoff, dead jobs, retry, purge) and runner.ts (polling, leases, recurring tasks, shutdown).
 * Importers keep using `platform/jobs.js`.
 */
export {
  backoffMs,
  type ClaimedJob,
  claimJobs,
  createJobQueue,
  DEFAULT_MAX_ATTEMPTS,
  type EnqueueInput,
  getJob,
  type JobQueue,
  type JobRecord,
  type JobRow,
  type JobStatus,
  PermanentJobError,
  type PreparedJob,
  purgeDoneJobs,
  retryJob,
} from './jobs/queue.js';
export {
  createJobRunner,
  DEFAULT_CONCURRENCY,
  DEFAULT_LOCK_SECONDS,
  DEFAULT_POLL_MS,
  type JobHandler,
  type JobLog,
  type JobRunner,
  type RegisterOptions,
} from './jobs/runner.js';
