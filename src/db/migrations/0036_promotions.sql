-- Promotions: flash sales, bulk discounts (满减 / 满件) and gifts. The terms of a promotion are one
-- jsonb column read whole by the pure rules; what can be raced is in rows of their own:
-- promotion_item (stock and sold of a flash-sale item or of a gift item; sold + q <= stock in one
-- conditional UPDATE), promotion_user_count (units one user took of one item; n + q <=
-- per_user_limit in one conditional upsert) and promotion_reservation (one per promotion and
-- order, by primary key). Money is in integer minor units.

create table promotion (
  tenant_id text not null,
  promotion_id text not null,
  name text not null,
  promotion_type text not null check (promotion_type in ('flash_sale', 'bulk_discount', 'gift')),
  -- the type's terms (see promotion.rules.ts).
  terms jsonb not null,
  -- {"all": true} or {"item_ids": [...], "category_ids": [...], "exclude_item_ids": [...]}.
  scope jsonb not null,
  audience_id text,
  start_time timestamptz not null,
  end_time timestamptz not null,
  priority integer not null default 0,
  stacking_group text,
  exclusive boolean not null default false,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, promotion_id),
  constraint promotion_window check (end_time > start_time)
);
create index promotion_list on promotion (tenant_id, start_time desc);

create table promotion_item (
  tenant_id text not null,
  promotion_id text not null,
  item_id text not null,
  -- 'flash' (a flash-sale item) or 'gift' (the gift item of a gift promotion).
  kind text not null check (kind in ('flash', 'gift')),
  stock integer not null check (stock >= 0),
  sold integer not null default 0,
  per_user_limit integer check (per_user_limit > 0),
  primary key (tenant_id, promotion_id, item_id),
  foreign key (tenant_id, promotion_id) references promotion (tenant_id, promotion_id),
  constraint promotion_item_sold_within_stock check (sold >= 0 and sold <= stock)
);

create table promotion_user_count (
  tenant_id text not null,
  promotion_id text not null,
  item_id text not null,
  user_id text not null,
  n integer not null check (n >= 0),
  primary key (tenant_id, promotion_id, item_id, user_id)
);

create table promotion_reservation (
  tenant_id text not null,
  promotion_id text not null,
  order_id text not null,
  user_id text not null,
  item_id text not null,
  quantity integer not null check (quantity > 0),
  status text not null check (status in ('reserved', 'committed', 'released')),
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, promotion_id, order_id)
);
