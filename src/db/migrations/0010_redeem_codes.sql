-- Redeem codes (seed 002): batches hold the rules shared by their codes (reward, expiry, uses,
-- products), so a code row stays small and a million of them are written at COPY speed.

create table redeem_code_batch (
  tenant_id text not null,
  batch_id text not null,
  campaign_id text not null,
  reward_id text not null,
  -- The campaign's product line: keys limited to other products do not see the batch.
  product_code text not null,
  code_type text not null check (code_type in ('RANDOM_NUM', 'ALPHANUM', 'ALPHANUM_MIXED', 'UUID')),
  length integer not null,
  prefix text not null,
  alphabet text not null,
  check_char boolean not null,
  group_size integer,
  expires_at timestamptz,
  max_uses integer not null check (max_uses > 0),
  -- null = every product line may redeem the codes.
  applicable_products text[],
  total integer not null check (total > 0),
  -- Codes seq 1..generated exist; each chunk of codes commits together with this counter, so a
  -- crashed generation resumes at generated + 1 with neither duplicates nor gaps.
  generated integer not null default 0 check (generated >= 0 and generated <= total),
  status text not null check (status in ('PENDING', 'RUNNING', 'DONE', 'VOIDED')),
  job_id text,
  voided_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, batch_id)
);
create index redeem_code_batch_campaign on redeem_code_batch (tenant_id, campaign_id, created_at desc);

create table redeem_code (
  tenant_id text not null,
  batch_id text not null,
  seq integer not null,
  -- Canonical form: no grouping dashes, upper case unless the batch is ALPHANUM_MIXED.
  code text not null,
  status text not null default 'ACTIVE' check (status in ('ACTIVE', 'REDEEMED', 'VOIDED')),
  uses integer not null default 0 check (uses >= 0),
  assigned_user_id text,
  assigned_at timestamptz,
  last_redeemed_at timestamptz,
  voided_at timestamptz,
  primary key (tenant_id, batch_id, seq)
);
-- A code means one thing in a tenant: a colliding new code is regenerated, never stored twice.
create unique index redeem_code_code on redeem_code (tenant_id, code);
create index redeem_code_assigned on redeem_code (tenant_id, assigned_user_id) where assigned_user_id is not null;

-- Who redeemed what, when, from which product and address. One row per (code, user): a
-- multi-use code is used at most once by each user, enforced by this primary key.
create table redeem_code_redemption (
  tenant_id text not null,
  batch_id text not null,
  seq integer not null,
  user_id text not null,
  redemption_id text not null,
  code text not null,
  campaign_id text not null,
  reward_id text not null,
  grant_id text not null,
  product_code text,
  client_ip text,
  created_at timestamptz not null,
  primary key (tenant_id, batch_id, seq, user_id)
);
create unique index redeem_code_redemption_id on redeem_code_redemption (tenant_id, redemption_id);
create index redeem_code_redemption_recent on redeem_code_redemption (tenant_id, created_at desc, redemption_id desc);
create index redeem_code_redemption_user on redeem_code_redemption (tenant_id, user_id, created_at desc);
