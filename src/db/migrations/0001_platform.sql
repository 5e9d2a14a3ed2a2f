-- Internal platform tables: settings of the installation and Idempotency-Key records.

create table platform_setting (
  setting_key text primary key,
  value jsonb not null,
  updated_at timestamptz not null default now()
);

-- One row per (tenant, Idempotency-Key). A request claims the key (IN_PROGRESS, locked_until)
-- before it runs; its response is written in the same transaction as its effect (COMPLETED), so
-- a retry either replays that response or, if nothing was committed, may run again.
create table idempotency_key (
  tenant_id text not null,
  idem_key text not null,
  request_hash text not null,
  method text not null,
  route text not null,
  status text not null check (status in ('IN_PROGRESS', 'COMPLETED')),
  locked_until timestamptz,
  response_status integer,
  response_body jsonb,
  created_at timestamptz not null,
  expires_at timestamptz not null,
  primary key (tenant_id, idem_key)
);

create index idempotency_key_expires_at on idempotency_key (expires_at);
