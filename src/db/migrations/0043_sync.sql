-- Sync to the customer's own database (issue 21): per tenant, targets (a database of type
-- postgresql, mysql, mariadb, sqlserver or oracle, with a sealed password and, per record kind,
-- the table, the key column and the field mapping), and one sync record per (target, kind,
-- record) with its delivery status. Delivery is a job enqueued in the transaction that produced
-- the record (the payment); the job INSERTs the mapped row, idempotent through the key column.

create table sync_target (
  tenant_id text not null,
  target_id text not null,
  name text not null,
  type text not null check (type in ('postgresql', 'mysql', 'mariadb', 'sqlserver', 'oracle')),
  host text not null,
  port integer not null check (port between 1 and 65535),
  username text not null,
  -- AES-256-GCM sealed (platform/secret-box.ts); never answered back.
  password_sealed text not null,
  database_name text not null,
  ssl boolean not null default false,
  -- { "order": { table, key_column, fields: { source path: column } }, "reward": {...} }
  mappings jsonb not null,
  -- Bumped on every change, so a process drops its connection pool of the old settings.
  version integer not null default 1,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, target_id)
);
create index sync_target_list on sync_target (tenant_id, created_at desc);

create table sync_record (
  tenant_id text not null,
  sync_id text not null,
  -- Null when the tenant had no target for the kind (status skipped).
  target_id text,
  kind text not null check (kind in ('order', 'reward')),
  record_id text not null,
  order_id text not null,
  -- The record as given to enqueue; the target's mapping is applied at delivery.
  record jsonb not null,
  status text not null check (status in ('pending', 'synced', 'failed', 'skipped')),
  attempts integer not null default 0,
  last_error text,
  last_attempt_at timestamptz,
  synced_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, sync_id)
);
-- One record per (target, kind, record): a second enqueue of the same record is a no-op.
create unique index sync_record_once on sync_record (tenant_id, kind, record_id, coalesce(target_id, ''));
create index sync_record_by_order on sync_record (tenant_id, order_id, created_at);
