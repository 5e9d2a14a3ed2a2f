-- Campaigns (seed 000). The stored lifecycle_state is what people did (DRAFT, PUBLISHED, PAUSED,
-- ARCHIVED); the status the API shows (SCHEDULED, ACTIVE, ENDED) is derived from it and the time
-- window at read time, so no timer job is needed for a campaign to start or end on time.

create table campaign (
  tenant_id text not null,
  campaign_id text not null,
  product_code text not null,
  campaign_name text not null,
  campaign_type text not null,
  description text,
  start_time timestamptz,
  end_time timestamptz,
  audience_id text,
  form_fields jsonb,
  metadata jsonb not null default '{}'::jsonb,
  lifecycle_state text not null default 'DRAFT'
    check (lifecycle_state in ('DRAFT', 'PUBLISHED', 'PAUSED', 'ARCHIVED')),
  published_at timestamptz,
  paused_at timestamptz,
  archived_at timestamptz,
  deleted_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  version integer not null default 1,
  primary key (tenant_id, campaign_id),
  foreign key (tenant_id, product_code) references app (tenant_id, product_code),
  constraint campaign_window_order check (start_time is null or end_time is null or end_time > start_time)
);

-- The default list order (newest first) and the common filters, live rows only.
create index campaign_recent on campaign (tenant_id, created_at desc, campaign_id desc)
  where deleted_at is null;
create index campaign_product_state on campaign (tenant_id, product_code, lifecycle_state)
  where deleted_at is null;
