-- Checkout: an order priced by the quote engine, holding its coupons and promotion stock until it
-- is paid (committed), cancelled (released) or lapses (expired); refunded after payment. One row
-- per (tenant, order id): a repeated checkout of the same order answers the same row.
create table checkout_order (
  tenant_id text not null,
  order_id text not null,
  user_id text not null,
  status text not null check (status in ('reserved', 'committed', 'released', 'expired', 'refunded')),
  request_hash text not null,
  quote_hash text not null,
  quote jsonb not null,
  subtotal bigint not null check (subtotal >= 0),
  discount bigint not null check (discount >= 0),
  shipping_discount bigint not null check (shipping_discount >= 0),
  total bigint not null check (total >= 0),
  expires_at timestamptz not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, order_id)
);
create index checkout_order_due on checkout_order (expires_at) where status = 'reserved';
create index checkout_order_user on checkout_order (tenant_id, user_id, created_at desc);

-- The offers applied to each order (a promotion, or a coupon by its template): the stats.
create table checkout_order_offer (
  tenant_id text not null,
  order_id text not null,
  offer_kind text not null check (offer_kind in ('promotion', 'coupon')),
  offer_id text not null,
  user_id text not null,
  discount bigint not null check (discount >= 0),
  created_at timestamptz not null,
  primary key (tenant_id, order_id, offer_kind, offer_id),
  foreign key (tenant_id, order_id) references checkout_order (tenant_id, order_id)
);
create index checkout_order_offer_stats on checkout_order_offer (tenant_id, offer_kind, offer_id);

-- How many quotes applied each offer (added in batches every few seconds).
create table checkout_offer_quotes (
  tenant_id text not null,
  offer_kind text not null check (offer_kind in ('promotion', 'coupon')),
  offer_id text not null,
  quotes bigint not null default 0,
  primary key (tenant_id, offer_kind, offer_id)
);
