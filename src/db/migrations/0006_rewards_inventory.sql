-- Rewards (seed 000: Reward with Generator / Validator / Distributor JSON configs) and their
-- stock. A reward's stock is split into slots: every slot keeps reserved + used <= total by a
-- CHECK, so the sum over slots can never exceed the reward's total, while concurrent grants of a
-- hot reward update different rows instead of queueing on one.

create table reward (
  tenant_id text not null,
  reward_id text not null,
  product_code text not null,
  campaign_id text,
  reward_name text not null,
  reward_type text not null
    check (reward_type in ('COUPON', 'POINTS', 'BALANCE', 'REDEEM_CODE', 'SUBSCRIPTION', 'PHYSICAL', 'CUSTOM')),
  total_stock bigint check (total_stock is null or total_stock >= 0),
  valid_from timestamptz,
  valid_until timestamptz,
  config jsonb not null,
  -- How many rows of reward_stock_slot hold this reward's stock (fixed at creation).
  stock_slot_count smallint not null default 1,
  deleted_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  version integer not null default 1,
  primary key (tenant_id, reward_id),
  foreign key (tenant_id, product_code) references app (tenant_id, product_code),
  constraint reward_validity_order check (valid_from is null or valid_until is null or valid_until > valid_from)
);

create index reward_recent on reward (tenant_id, created_at desc, reward_id desc) where deleted_at is null;
create index reward_campaign on reward (tenant_id, campaign_id) where deleted_at is null;

-- total is null for unlimited stock (then the slots only count).
create table reward_stock_slot (
  tenant_id text not null,
  reward_id text not null,
  slot smallint not null,
  total bigint,
  reserved bigint not null default 0,
  used bigint not null default 0,
  primary key (tenant_id, reward_id, slot),
  constraint stock_slot_within_total check (reserved >= 0 and used >= 0 and (total is null or reserved + used <= total))
);

-- Seed path /v1/inventory/reserve: units held for a while (checkout), then confirmed (used) or
-- cancelled / expired (given back). `slots` records which slots hold them, to give them back.
create table inventory_reservation (
  tenant_id text not null,
  reservation_id text not null,
  reward_id text not null,
  user_id text,
  quantity integer not null check (quantity > 0),
  status text not null check (status in ('RESERVED', 'CONFIRMED', 'CANCELLED', 'EXPIRED')),
  slots jsonb not null,
  expires_at timestamptz not null,
  confirmed_at timestamptz,
  released_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, reservation_id)
);

create index inventory_reservation_recent on inventory_reservation (tenant_id, created_at desc, reservation_id desc);
-- The expiry sweep reads only live reservations, across tenants.
create index inventory_reservation_expiring on inventory_reservation (expires_at) where status = 'RESERVED';
