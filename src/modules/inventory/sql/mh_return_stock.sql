-- Gives units back to the stock slots they were taken from, as a set: `p_returns` is a JSON array
-- of {"tenant_id", "reward_id", "slot", "quantity"} (the "takes" mh_take_stock answered, with
-- their reward), `p_column` is 'used' (a grant refused after its stock was taken, a revocation)
-- or 'reserved' (a reservation released). One UPDATE for all of them, one row per slot. The
-- inventory module's one way to return stock, from its own code (stock.repo.ts) and from other
-- modules' functions (grants/sql/mh_grant_set.sql), which never write its table themselves.
--
-- This file is the function's one current definition: the migration runner (src/db/migrate.ts)
-- applies it again whenever it changes. Edit it here, never in a migration.
create or replace function mh_return_stock(p_returns jsonb, p_column text)
returns void
language plpgsql as $$
begin
  if p_column not in ('used', 'reserved') then
    raise exception 'mh_return_stock: column must be used or reserved, got %', p_column;
  end if;
  update reward_stock_slot s
  set used = s.used - case when p_column = 'used' then t.quantity else 0 end,
      reserved = s.reserved - case when p_column = 'reserved' then t.quantity else 0 end
  from (select r.tenant_id, r.reward_id, r.slot, sum(r.quantity)::bigint as quantity
        from jsonb_to_recordset(p_returns) as r(tenant_id text, reward_id text, slot smallint, quantity bigint)
        group by r.tenant_id, r.reward_id, r.slot) t
  where s.tenant_id = t.tenant_id and s.reward_id = t.reward_id and s.slot = t.slot;
end $$;
