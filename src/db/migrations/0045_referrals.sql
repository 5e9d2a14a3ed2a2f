-- Referral hub (issue 21): a campaign's referral settings, the sign-up orders of its public page,
-- the referral rewards paid orders earn, and page views for the funnel. campaign_id is the
-- campaigns module's id (opaque, no foreign key across modules); user ids are the tenant's own.

create table referral_campaign (
  tenant_id text not null,
  campaign_id text not null,
  image_url text,
  reward_kind text not null check (reward_kind in ('fixed', 'percent')),
  -- fixed: fen per paid order; percent: basis points of the order amount (1000 = 10%).
  reward_value bigint not null check (reward_value >= 0),
  reward_cap bigint check (reward_cap is null or reward_cap >= 0),
  amount bigint not null check (amount > 0),
  currency text not null,
  provider text not null check (provider in ('sandbox', 'wechat_pay')),
  status text not null check (status in ('enabled', 'disabled')),
  -- Second level (the referrer's own referrer): basis points of the order amount; null = off.
  second_level_rate integer check (second_level_rate is null or (second_level_rate >= 0 and second_level_rate <= 10000)),
  created_at timestamptz not null,
  updated_at timestamptz not null,
  version integer not null default 1,
  primary key (tenant_id, campaign_id)
);
-- The keyless page routes name a campaign by id only: its tenant comes from this row.
create unique index referral_campaign_id on referral_campaign (campaign_id);

create table referral_order (
  order_id text primary key,
  tenant_id text not null,
  campaign_id text not null,
  phone text not null,
  form_data jsonb not null,
  referrer_id text,
  channel text,
  status text not null check (status in ('pending', 'paid', 'refunded', 'cancelled')),
  pay_status text not null check (pay_status in ('unpaid', 'paying', 'paid', 'refunded')),
  amount bigint not null,
  currency text not null,
  provider text not null,
  trade_no text,
  flagged boolean not null default false,
  flag_reason text,
  paid_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
-- One sign-up per phone per campaign, whatever races.
create unique index referral_order_phone on referral_order (campaign_id, phone);
-- A provider's transaction pays one order once.
create unique index referral_order_trade_no on referral_order (trade_no) where trade_no is not null;
create index referral_order_referrer on referral_order (tenant_id, referrer_id) where referrer_id is not null;
create index referral_order_pending on referral_order (created_at) where status = 'pending';

create table referral_reward (
  reward_id text primary key,
  tenant_id text not null,
  order_id text not null references referral_order (order_id),
  campaign_id text not null,
  user_id text not null,
  level integer not null check (level in (1, 2)),
  amount bigint not null check (amount > 0),
  status text not null check (status in ('settled', 'reversed')),
  ledger_entry_id text,
  settled_at timestamptz,
  created_at timestamptz not null,
  unique (order_id, level)
);
create index referral_reward_user on referral_reward (tenant_id, user_id, created_at);

-- Page views per (campaign, channel, referrer): one counter row each, incremented in one statement.
create table referral_view (
  tenant_id text not null,
  campaign_id text not null,
  channel text not null,
  referrer_id text not null,
  views bigint not null,
  primary key (campaign_id, channel, referrer_id)
);
