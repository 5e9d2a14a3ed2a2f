-- Promotion reservations for checkout: one order may hold several items of one promotion (one row
-- per promotion, order and item), a reservation can lapse (expires_at; null = no TTL, as every row
-- written before this migration) and a committed one can be refunded (its stock and the user's
-- count come back). Existing rows keep their meaning: one item per (promotion, order), no TTL.

alter table promotion_reservation drop constraint promotion_reservation_pkey;
alter table promotion_reservation add constraint promotion_reservation_pkey primary key (tenant_id, promotion_id, order_id, item_id);

alter table promotion_reservation drop constraint promotion_reservation_status_check;
alter table promotion_reservation add constraint promotion_reservation_status_check
  check (status in ('reserved', 'committed', 'released', 'refunded'));

alter table promotion_reservation add column expires_at timestamptz;

-- Commit, release and refund act on every reservation of an order (all promotions).
create index promotion_reservation_order on promotion_reservation (tenant_id, order_id);

-- The TTL sweep: only held reservations are candidates, oldest deadline first.
create index promotion_reservation_lapse on promotion_reservation (expires_at) where status = 'reserved';

-- The promotions live now for a quote: those of the tenant not ended yet.
create index promotion_live on promotion (tenant_id, end_time);
