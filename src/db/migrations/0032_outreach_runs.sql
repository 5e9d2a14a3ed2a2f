-- Outreach campaigns, providers, runs and one record per (run, customer, channel).
--
-- A run writes all its records before any provider is called (set-based, one INSERT ... SELECT);
-- the unique index below makes a second record for the same customer impossible, so a re-trigger,
-- a retried job or a resumed run can never message anyone twice. Workers claim due records with
-- FOR UPDATE SKIP LOCKED and move them pending -> sending -> sent -> delivered / failed ->
-- opened -> clicked, or skipped with a reason. Counters (outreach_run_stat) are moved in the same
-- statement as the records, so stats are read, never counted.

create table outreach_provider (
  tenant_id text not null,
  provider_id text not null,
  name text not null,
  channel text not null check (channel in ('sms', 'email', 'push_notification', 'webhook')),
  kind text not null,
  -- Settings that are not secret (host, sender, account id); shown back to the tenant.
  config jsonb not null,
  -- Credentials, sealed with AES-256-GCM under the service's secret key; never shown back.
  secrets_sealed text not null,
  rate_per_second integer not null check (rate_per_second between 1 and 100000),
  is_default boolean not null default false,
  created_by text not null,
  updated_by text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  deleted_at timestamptz,
  primary key (tenant_id, provider_id)
);
create unique index outreach_provider_one_default on outreach_provider (tenant_id, channel) where is_default and deleted_at is null;

create table outreach_settings (
  tenant_id text primary key,
  -- {"count": 3, "period": "day"}: at most count messages per customer per channel per period.
  frequency_cap jsonb,
  -- {"start": "21:00", "end": "08:00"} in the customer's time zone (attributes.time_zone).
  quiet_hours jsonb,
  default_time_zone text not null default 'UTC',
  updated_at timestamptz not null
);

create table outreach_campaign (
  tenant_id text not null,
  campaign_id text not null,
  name text not null,
  channel text not null check (channel in ('sms', 'email', 'push_notification', 'webhook')),
  status text not null check (status in ('draft', 'scheduled', 'active', 'paused', 'completed', 'archived')),
  target_tags text[] not null default '{}',
  target_segment_id text,
  template_id text,
  -- Inline content of the channel's shape ({"text": ...} for sms), when no template is named.
  content jsonb,
  defaults jsonb not null default '{}',
  -- Where [链接] / {{ link }} leads (through the click tracker).
  link_url text,
  -- A/B: [{"key": "A", "percent": 50, "content": {...} | "template_id": ...}, ...].
  variants jsonb,
  -- {"metric": "open_rate" | "click_rate" | "conversion_rate", "test_hours": 4}: the test cells are
  -- the variants' percents; the rest waits and gets the winner.
  ab_winner jsonb,
  provider_id text,
  reward_id text,
  goal_event_type text,
  conversion_window_hours integer not null default 72,
  frequency_cap jsonb,
  quiet_hours jsonb,
  transactional boolean not null default false,
  start_time timestamptz,
  end_time timestamptz,
  schedule_cron text,
  schedule_time_zone text,
  next_run_at timestamptz,
  actual_start_time timestamptz,
  actual_end_time timestamptz,
  created_by text not null,
  updated_by text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, campaign_id)
);
create index outreach_campaign_list on outreach_campaign (tenant_id, created_at desc);
create index outreach_campaign_due on outreach_campaign (next_run_at) where next_run_at is not null;

create table outreach_run (
  tenant_id text not null,
  run_id text not null,
  campaign_id text not null,
  execution_type text not null check (execution_type in ('actual', 'simulation')),
  status text not null check (status in ('resolving', 'sending', 'paused', 'cancelled', 'completed')),
  triggered_by text not null,
  planned integer not null default 0,
  -- The content, provider and limits as of the trigger: later edits never change a run.
  snapshot jsonb not null,
  samples jsonb not null default '[]',
  -- A/B winner selection: {"decide_at", "winner", "metric", "scores"}.
  ab_state jsonb,
  -- Goal events (task events of the campaign's goal type) are read up to here for conversions.
  conversions_checked_until timestamptz,
  created_at timestamptz not null,
  started_at timestamptz,
  paused_at timestamptz,
  finished_at timestamptz,
  primary key (tenant_id, run_id)
);
create unique index outreach_run_id on outreach_run (run_id);
create index outreach_run_campaign on outreach_run (tenant_id, campaign_id, created_at desc);
create index outreach_run_live on outreach_run (created_at) where status in ('resolving', 'sending');

create table outreach_record (
  run_id text not null,
  seq integer not null,
  tenant_id text not null,
  campaign_id text not null,
  customer_id text not null,
  channel text not null,
  variant text,
  status text not null check (status in (
    'pending', 'held', 'sending', 'deferred', 'sent', 'delivered', 'failed', 'opened', 'clicked',
    'skipped', 'cancelled', 'would_send')),
  reason text,
  error_message text,
  address text,
  provider_message_id text,
  attempts integer not null default 0,
  next_attempt_at timestamptz not null,
  response jsonb,
  sent_at timestamptz,
  delivered_at timestamptz,
  failed_at timestamptz,
  opened_at timestamptz,
  machine_opened_at timestamptz,
  clicked_at timestamptz,
  converted_at timestamptz,
  updated_at timestamptz not null,
  primary key (run_id, seq)
) with (fillfactor = 80);
create unique index outreach_record_once on outreach_record (run_id, customer_id, channel);
create index outreach_record_due on outreach_record (run_id, next_attempt_at) where status in ('pending', 'deferred', 'sending', 'held');
create index outreach_record_customer on outreach_record (tenant_id, customer_id);
create index outreach_record_provider_id on outreach_record (provider_message_id) where provider_message_id is not null;

-- Milestone counters per run and variant ('' when none): planned, attempted, sent, delivered,
-- failed, opened, machine_opened, clicked, converted, skipped:<reason>, deferred, would_send.
create table outreach_run_stat (
  tenant_id text not null,
  run_id text not null,
  variant text not null,
  metric text not null,
  n bigint not null,
  primary key (run_id, variant, metric)
);

-- Frequency caps: messages per customer per channel per fixed period, reserved atomically at send.
create table outreach_contact_window (
  tenant_id text not null,
  channel text not null,
  customer_id text not null,
  period_start timestamptz not null,
  n integer not null,
  primary key (tenant_id, channel, customer_id, period_start)
);

-- Addresses that must not be messaged again (SMS "TD" replies, one-click unsubscribes, bounces).
create table outreach_suppression (
  tenant_id text not null,
  channel text not null,
  address text not null,
  reason text not null,
  created_at timestamptz not null,
  primary key (tenant_id, channel, address)
);
