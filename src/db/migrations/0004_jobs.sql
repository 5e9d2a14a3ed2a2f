-- Background jobs (internal). Work that leaves the process (webhooks, messages, external sync) is
-- inserted here in the same transaction as the change that causes it, so a rollback leaves no
-- job and a commit leaves no change without its job. Workers claim due rows with
-- FOR UPDATE SKIP LOCKED, so any number of worker processes share the table without double runs.

create table job (
  tenant_id text not null,
  job_id text not null,
  queue text not null,
  payload jsonb not null,
  status text not null default 'PENDING' check (status in ('PENDING', 'RUNNING', 'DONE', 'DEAD')),
  -- Counted when a worker claims the job, not when it fails: a job whose worker keeps crashing
  -- still runs out of attempts instead of looping forever.
  attempts integer not null default 0 check (attempts >= 0),
  max_attempts integer not null check (max_attempts >= 1),
  run_at timestamptz not null,
  -- The lease of a RUNNING job: past it, the worker is presumed dead and another may claim it.
  locked_until timestamptz,
  last_error text,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  finished_at timestamptz,
  primary key (tenant_id, job_id),
  constraint job_running_has_lease check (status <> 'RUNNING' or locked_until is not null)
);

-- What the claim scans: waiting jobs by due time, and running jobs by lease expiry. Partial, so
-- the millions of DONE rows a busy install accumulates never enter these indexes.
create index job_due on job (queue, run_at) where status = 'PENDING';
create index job_lease on job (queue, locked_until) where status = 'RUNNING';
