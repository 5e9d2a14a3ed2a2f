-- Coupons: templates (what a coupon is worth and who may claim it), the coupons users hold (the
-- wallet) and a per-user claim counter. Every limit that can be raced is a conditional UPDATE of
-- one row: claimed_count < usage_limit on the template, n < per_user_limit on the counter row, and
-- status = 'available' on the coupon for a lock. Money is in integer minor units.

create table coupon_template (
  tenant_id text not null,
  template_id text not null,
  name text not null,
  coupon_type text not null check (coupon_type in ('discount', 'shipping', 'gift')),
  -- discount: fixed | percent; shipping: free | fixed; gift: null.
  discount_kind text check (discount_kind in ('fixed', 'percent', 'free')),
  -- fixed: minor units off; percent: whole percent off (1..100); free shipping: 0.
  value bigint not null check (value >= 0),
  max_discount bigint check (max_discount >= 0),
  gift_item_id text,
  min_amount bigint not null default 0 check (min_amount >= 0),
  valid_from timestamptz,
  valid_until timestamptz,
  valid_days integer check (valid_days > 0),
  usage_limit integer check (usage_limit >= 0),
  claimed_count integer not null default 0,
  used_count integer not null default 0,
  per_user_limit integer check (per_user_limit > 0),
  -- {"all": true} or {"item_ids": [...], "category_ids": [...], "exclude_item_ids": [...]}.
  scope jsonb not null,
  stacking_group text,
  exclusive boolean not null default false,
  claim_policy text not null check (claim_policy in ('anyone', 'audience', 'admin_only')),
  audience_id text,
  refund_returns boolean not null default false,
  status text not null default 'active' check (status in ('active', 'disabled')),
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, template_id),
  constraint coupon_template_claims_within_limit check (usage_limit is null or claimed_count <= usage_limit)
);
create index coupon_template_list on coupon_template (tenant_id, created_at desc);

create table coupon (
  tenant_id text not null,
  coupon_id text not null,
  template_id text not null,
  user_id text not null,
  code text not null,
  status text not null check (status in ('available', 'locked', 'used', 'expired', 'voided')),
  -- 'claim' (the user), 'issue' (an admin), 'grant' (a reward of type COUPON).
  source text not null,
  valid_from timestamptz,
  valid_until timestamptz,
  order_id text,
  locked_until timestamptz,
  used_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, coupon_id),
  foreign key (tenant_id, template_id) references coupon_template (tenant_id, template_id)
);
create unique index coupon_code on coupon (tenant_id, code);
create index coupon_wallet on coupon (tenant_id, user_id, created_at desc);
create index coupon_locked_due on coupon (locked_until) where status = 'locked';
create index coupon_expire_due on coupon (valid_until) where status = 'available';

create table coupon_user_claims (
  tenant_id text not null,
  template_id text not null,
  user_id text not null,
  n integer not null,
  primary key (tenant_id, template_id, user_id)
);
