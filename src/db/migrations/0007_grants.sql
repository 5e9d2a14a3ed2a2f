-- Reward grants (seed 000 reward_grant): one row per grant, with what was generated, how it was
-- distributed, and the slots its stock came from (to give it back on revocation).

create table reward_grant (
  tenant_id text not null,
  grant_id text not null,
  reward_id text not null,
  reward_type text not null,
  product_code text not null,
  campaign_id text,
  user_id text not null,
  quantity integer not null check (quantity > 0),
  source text,
  source_id text,
  status text not null check (status in ('PENDING', 'DELIVERED', 'FAILED', 'USED', 'REVOKED')),
  distributor text not null,
  payload jsonb not null,
  stock_slots jsonb not null,
  period_key text,
  delivery_status text not null check (delivery_status in ('NOT_REQUIRED', 'PENDING', 'DELIVERED', 'FAILED')),
  delivery_attempts integer not null default 0,
  delivery_last_error text,
  delivered_at timestamptz,
  used_at timestamptz,
  revoked_at timestamptz,
  revoke_reason text,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, grant_id)
);

-- The same cause (a task completion, an order, a code) never grants the same reward twice.
create unique index reward_grant_source on reward_grant (tenant_id, source, source_id, reward_id)
  where source is not null;
create index reward_grant_recent on reward_grant (tenant_id, created_at desc, grant_id desc);
create index reward_grant_user on reward_grant (tenant_id, user_id, created_at desc);
create index reward_grant_reward on reward_grant (tenant_id, reward_id, created_at desc);
create index reward_grant_campaign on reward_grant (tenant_id, campaign_id, created_at desc) where campaign_id is not null;

-- Per-user grant counts per period (DAY:2026-11-21, WEEK:2026-W47, MONTH:2026-11,
-- CAMPAIGN:<id>, LIFETIME) and the time of the last grant, for per_user_limit and min_interval.
-- Both are enforced by one conditional upsert each, so parallel requests of one user cannot
-- pass a limit together.
create table reward_user_counter (
  tenant_id text not null,
  reward_id text not null,
  user_id text not null,
  period_key text not null,
  granted bigint not null check (granted >= 0),
  last_granted_at timestamptz not null,
  primary key (tenant_id, reward_id, user_id, period_key)
);
