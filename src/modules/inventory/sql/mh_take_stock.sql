-- Takes `p_quantity` units of a reward's stock into `used` (grants) or `reserved` (reservations).
-- A reward's stock is split over slots (reward_stock_slot) so that parallel grants of one hot
-- reward lock different rows instead of queueing on one.
-- Answers {"takes": [{"slot": n, "quantity": q}, ...]} or, when the reward has fewer units,
-- {"free": units_left}: exact, never a false "sold out" while units remain. `p_prefer`: a slot this
-- transaction already holds (a batch of grants), tried first so a batch locks as few slots as it can.
-- `p_nowait`: never wait for a slot another transaction holds; answer {"busy": true} instead (a
-- batch must not wait on slots while it holds other grants' rows: see grants/sql/mh_grant_set.sql).
--
-- This file is the function's one current definition: the migration runner (src/db/migrate.ts)
-- applies it again whenever it changes. Edit it here, never in a migration.
create or replace function mh_take_stock(p_tenant text, p_reward text, p_quantity bigint, p_column text,
                              p_prefer smallint default null, p_nowait boolean default false)
returns jsonb
language plpgsql as $$
declare
  v_used bigint := case when p_column = 'used' then p_quantity else 0 end;
  v_reserved bigint := case when p_column = 'reserved' then p_quantity else 0 end;
  v_slot smallint;
  v_left bigint := p_quantity;
  v_take bigint;
  v_takes jsonb := '[]'::jsonb;
  r record;
begin
  if p_column not in ('used', 'reserved') then
    raise exception 'mh_take_stock: column must be used or reserved, got %', p_column;
  end if;

  -- 0. The slot this transaction already holds: no lock to wait for, no slot to pick.
  if p_prefer is not null then
    update reward_stock_slot s set used = s.used + v_used, reserved = s.reserved + v_reserved
    where s.tenant_id = p_tenant and s.reward_id = p_reward and s.slot = p_prefer
      and (s.total is null or s.total - s.used - s.reserved >= p_quantity)
    returning s.slot into v_slot;
    if v_slot is not null then
      return jsonb_build_object('takes', jsonb_build_array(jsonb_build_object('slot', v_slot, 'quantity', p_quantity)));
    end if;
  end if;

  -- 1. A slot with room that no other transaction holds (the preferred one if it qualifies, else
  --    one at random): parallel grants of a hot reward spread over the slots and never queue
  --    while some slot is free.
  update reward_stock_slot s set used = s.used + v_used, reserved = s.reserved + v_reserved
  where s.tenant_id = p_tenant and s.reward_id = p_reward
    and (s.total is null or s.total - s.used - s.reserved >= p_quantity)
    and s.slot = (
      select c.slot from reward_stock_slot c
      where c.tenant_id = p_tenant and c.reward_id = p_reward
        and (c.total is null or c.total - c.used - c.reserved >= p_quantity)
      order by random() limit 1
      for update skip locked)
  returning s.slot into v_slot;
  if v_slot is not null then
    return jsonb_build_object('takes', jsonb_build_array(jsonb_build_object('slot', v_slot, 'quantity', p_quantity)));
  end if;

  if p_nowait then
    return jsonb_build_object('busy', true);
  end if;

  -- 2. Every slot with room is held right now: wait for one of them (picked at random, so the
  --    waiters spread too). The condition is checked again once the holder commits.
  select c.slot into v_slot from reward_stock_slot c
  where c.tenant_id = p_tenant and c.reward_id = p_reward
    and (c.total is null or c.total - c.used - c.reserved >= p_quantity)
  order by random() limit 1;
  if v_slot is not null then
    -- In a block of its own (a subtransaction): an UPDATE that waited and then failed its recheck
    -- keeps the row locked, and rolling the block back releases that lock before step 3 queues.
    begin
      update reward_stock_slot s set used = s.used + v_used, reserved = s.reserved + v_reserved
      where s.tenant_id = p_tenant and s.reward_id = p_reward and s.slot = v_slot
        and (s.total is null or s.total - s.used - s.reserved >= p_quantity)
      returning s.slot into v_slot;
      if found then
        return jsonb_build_object('takes', jsonb_build_array(jsonb_build_object('slot', v_slot, 'quantity', p_quantity)));
      end if;
      raise exception using errcode = 'MHS02', message = 'stock slot filled while waiting';
    exception when sqlstate 'MHS02' then
      null;
    end;
  end if;

  -- 3. Near sell-out (no single slot has enough): lock every slot with room, in slot order, and
  --    take across them. Takers of one reward enter this step one at a time, holding no slot of
  --    step 2 (see above).
  perform pg_advisory_xact_lock(hashtext('stock:' || p_tenant || ':' || p_reward));
  for r in
    select c.slot, case when c.total is null then null else c.total - c.used - c.reserved end as free
    from reward_stock_slot c
    where c.tenant_id = p_tenant and c.reward_id = p_reward
      and (c.total is null or c.total - c.used - c.reserved > 0)
    order by c.slot
    for update
  loop
    exit when v_left = 0;
    v_take := case when r.free is null then v_left else least(v_left, r.free) end;
    v_takes := v_takes || jsonb_build_object('slot', r.slot, 'quantity', v_take);
    v_left := v_left - v_take;
  end loop;
  if v_left > 0 then
    return jsonb_build_object('free', p_quantity - v_left);
  end if;
  for r in select (t->>'slot')::smallint as slot, (t->>'quantity')::bigint as quantity from jsonb_array_elements(v_takes) t loop
    update reward_stock_slot s
    set used = s.used + case when p_column = 'used' then r.quantity else 0 end,
        reserved = s.reserved + case when p_column = 'reserved' then r.quantity else 0 end
    where s.tenant_id = p_tenant and s.reward_id = p_reward and s.slot = r.slot;
  end loop;
  return jsonb_build_object('takes', v_takes);
end $$;
