-- 1. Idempotency-Key claims know the process that holds them, so a retry after that process died
--    (kill -9, OOM) takes the claim over within seconds instead of waiting for `locked_until`.
--    Each API process writes a heartbeat row every second; a claim whose owner's heartbeat is
--    a few seconds old is abandoned. `claim_token` is one claim's identity: the answer is recorded
--    only by the holder of the current token, so an owner taken for dead that was only slow
--    cannot commit its change next to the retry's (its transaction rolls back instead).
create table process_instance (
  instance_id text primary key,
  started_at timestamptz not null,
  heartbeat_at timestamptz not null
);

alter table idempotency_key add column owner_instance text, add column claim_token text;

-- 2. A reservation carries the product line of its reward (which never changes), so a key limited
--    to some products lists only their reservations without reading the reward table.
alter table inventory_reservation add column product_code text;

update inventory_reservation r set product_code = rw.product_code
from reward rw
where rw.tenant_id = r.tenant_id and rw.reward_id = r.reward_id;

alter table inventory_reservation alter column product_code set not null;

create index inventory_reservation_product on inventory_reservation (tenant_id, product_code, created_at desc);
