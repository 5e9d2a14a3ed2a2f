-- Tasks (seed 000: task, campaign_task, task_completion_log) and the state that makes a trigger
-- exactly-once: the event claim (one row per tenant and event_id), per-user progress rows whose
-- counters move only in one conditional upsert, and the distinct values a condition has seen.

create table task (
  tenant_id text not null references tenant (tenant_id),
  task_id text not null,
  product_code text not null,
  task_name text not null,
  task_type text not null check (task_type in ('REGISTER', 'SIGN_IN', 'INVITE', 'PURCHASE', 'SHARE', 'CUSTOM')),
  event_type text not null,
  description text,
  -- {type: count | amount_sum | distinct | consecutive_days, target, field?, filters?}
  condition jsonb not null,
  repeat_policy text not null check (repeat_policy in ('ONCE', 'DAILY', 'WEEKLY', 'MONTHLY', 'UNLIMITED')),
  -- UNLIMITED only; null = no cap.
  max_completions integer check (max_completions is null or max_completions > 0),
  -- IANA zone in which days, weeks and months (period keys, streaks) are counted.
  time_zone text not null default 'UTC',
  start_time timestamptz,
  end_time timestamptz,
  reward_id text,
  reward_quantity integer not null default 1 check (reward_quantity > 0),
  deleted_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  version integer not null default 1,
  primary key (tenant_id, task_id),
  foreign key (tenant_id, product_code) references app (tenant_id, product_code),
  constraint task_window_order check (start_time is null or end_time is null or end_time > start_time)
);
-- A trigger finds its tasks by event type.
create index task_by_event on task (tenant_id, event_type) where deleted_at is null;

create table campaign_task (
  tenant_id text not null,
  campaign_id text not null,
  task_id text not null,
  sort_order integer not null default 0,
  created_at timestamptz not null,
  primary key (tenant_id, campaign_id, task_id)
);
create index campaign_task_by_task on campaign_task (tenant_id, task_id);

-- One row per (tenant, event_id): the claim that makes a repeated event change nothing. The
-- first trigger's answer is kept so a repeat gets the same answer.
create table task_event (
  tenant_id text not null,
  event_id text not null,
  user_id text not null,
  event_type text not null,
  product_code text,
  occurred_at timestamptz not null,
  received_at timestamptz not null,
  results jsonb,
  primary key (tenant_id, event_id)
);

-- A user's progress on a task in one period ('' for ONCE and UNLIMITED, '2026-01-31',
-- '2026-W05', '2026-01' for DAILY, WEEKLY, MONTHLY in the task's zone). `progress` is the
-- count / amount / distinct values towards the next completion, or the current streak;
-- `last_gain` is how many completions the latest update added (read back by that update).
create table task_progress (
  tenant_id text not null,
  task_id text not null,
  user_id text not null,
  period_key text not null,
  progress bigint not null default 0 check (progress >= 0),
  completions integer not null default 0 check (completions >= 0),
  last_day date,
  last_gain integer not null default 0,
  updated_at timestamptz not null,
  primary key (tenant_id, task_id, user_id, period_key)
);
create index task_progress_by_user on task_progress (tenant_id, user_id);

-- The values a `distinct` condition has counted: a value counts once because of this key.
create table task_progress_value (
  tenant_id text not null,
  task_id text not null,
  user_id text not null,
  period_key text not null,
  value text not null,
  primary key (tenant_id, task_id, user_id, period_key, value)
);

create table task_completion_log (
  tenant_id text not null,
  completion_id text not null,
  task_id text not null,
  campaign_id text not null,
  product_code text not null,
  user_id text not null,
  event_id text not null,
  period_key text not null,
  -- The n-th completion of this task by this user in this period: unique, so no completion is
  -- ever written twice whatever the code above does.
  seq integer not null,
  reward_id text,
  reward_quantity integer,
  grant_id text,
  -- GRANTED, REFUSED (the completion counts; grant_error_* say why no reward), NONE (no reward).
  grant_status text not null check (grant_status in ('GRANTED', 'REFUSED', 'NONE')),
  grant_error_code text,
  grant_error_message text,
  completed_at timestamptz not null,
  primary key (tenant_id, completion_id),
  unique (tenant_id, task_id, user_id, period_key, seq)
);
create index task_completion_by_task on task_completion_log (tenant_id, task_id, completed_at desc);
create index task_completion_by_user on task_completion_log (tenant_id, user_id, completed_at desc);
create index task_completion_by_campaign on task_completion_log (tenant_id, campaign_id, completed_at desc);
