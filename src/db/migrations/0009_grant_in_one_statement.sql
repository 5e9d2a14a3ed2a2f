-- A grant in one round trip. The grant used to be eight statements sent one by one (BEGIN, reward,
-- campaign, per-user counter, stock, grant, ledger, COMMIT); under load the service spent its time
-- on those round trips while the database sat idle in transaction, and every row lock was held
-- across all of them. These functions run the same conditional statements inside the database:
-- the application decides (rules, generation, ids), the database applies, atomically.
--
-- A refusal is an answer, not an error: {"outcome": "refused", "code", "details"}. A refusal that
-- comes after some of the grant's writes undoes them first (exactly: the rows are still locked by
-- this transaction), so nothing of a refused grant is ever left behind, and a batch of grants
-- needs no subtransaction per grant (which would cost more than the grant itself).

-- Takes `p_quantity` units of a reward's stock into `used` (grants) or `reserved` (reservations).
-- Answers {"takes": [{"slot": n, "quantity": q}, ...]} or, when the reward has fewer units,
-- {"free": units_left}: exact, never a false "sold out" while units remain. `p_prefer`: a slot this
-- transaction already holds (a batch of grants), tried first so a batch locks as few slots as it can.
-- `p_nowait`: never wait for a slot another transaction holds; answer {"busy": true} instead (a
-- batch must not wait on slots while it holds other grants' rows: see mh_grant_batch).
create function mh_take_stock(p_tenant text, p_reward text, p_quantity bigint, p_column text,
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
    update reward_stock_slot s set used = s.used + v_used, reserved = s.reserved + v_reserved
    where s.tenant_id = p_tenant and s.reward_id = p_reward and s.slot = v_slot
      and (s.total is null or s.total - s.used - s.reserved >= p_quantity)
    returning s.slot into v_slot;
    if found then
      return jsonb_build_object('takes', jsonb_build_array(jsonb_build_object('slot', v_slot, 'quantity', p_quantity)));
    end if;
  end if;

  -- 3. Near sell-out (no single slot has enough): lock every slot with room, in slot order, and
  --    take across them. Takers of one reward enter this step one at a time: an UPDATE of step 2
  --    that waited and then failed its recheck may keep its row locked, so two takers here could
  --    otherwise lock out of order and deadlock.
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

-- Credits a ledger account with an entry whose cause is new (a fresh grant): the balance and the
-- entry explaining it move together. A repeated cause is stopped by ledger_entry_cause.
create function mh_ledger_credit(
  p_tenant text, p_entry_id text, p_user text, p_asset text, p_amount bigint,
  p_entry_type text, p_cause_type text, p_cause_id text, p_memo text, p_at timestamptz)
returns void
language plpgsql as $$
declare
  v_balance bigint;
  v_count bigint;
begin
  insert into ledger_account as a (tenant_id, user_id, asset, balance, entry_count, updated_at)
  values (p_tenant, p_user, p_asset, p_amount, 1, p_at)
  on conflict (tenant_id, user_id, asset) do update
    set balance = a.balance + excluded.balance, entry_count = a.entry_count + 1, updated_at = excluded.updated_at
  returning a.balance, a.entry_count into v_balance, v_count;
  insert into ledger_entry (tenant_id, entry_id, user_id, asset, amount, balance_after, account_seq,
                            entry_type, cause_type, cause_id, reverses_entry_id, memo, created_at)
  values (p_tenant, p_entry_id, p_user, p_asset, p_amount, v_balance, v_count,
          p_entry_type, p_cause_type, p_cause_id, null, p_memo, p_at);
end $$;

-- One grant: checks that the reward and campaign the application decided on are still the ones
-- stored (version), answers an earlier grant of the same cause, counts the per-user limit, takes
-- the stock, checks the minimum interval, credits the ledger, enqueues the delivery job and writes
-- the grant. `p` carries what the application computed; see grant.statement.ts. Answers
--   {"outcome": "granted" | "replayed", "grant": {...}}
--   {"outcome": "refused", "code": ..., "details": {...}}   (nothing left written)
--   {"outcome": "stale"}   (nothing written: read the reward or campaign again and retry)
--   {"outcome": "busy"}    (nothing left written: p.nowait was set and every slot was held)
create function mh_grant(p jsonb)
returns jsonb
language plpgsql as $$
declare
  v_tenant text := p->>'tenant_id';
  v_reward text := p->>'reward_id';
  v_user text := p->>'user_id';
  v_grant_id text := p->>'grant_id';
  v_quantity bigint := (p->>'quantity')::bigint;
  v_now timestamptz := (p->>'now')::timestamptz;
  v_source text := p->>'source';
  v_source_id text := p->>'source_id';
  v_campaign text := p->>'campaign_id';
  v_claimed boolean := false;
  v_counted boolean := false;
  v_ok boolean;
  v_stock jsonb;
  v_refusal jsonb;
  v_grant reward_grant;
  v_existing reward_grant;
  v_take record;
begin
  -- The snapshot the application decided on must still be current (primary-key reads).
  select coalesce((select r.version = (p->>'reward_version')::int and r.deleted_at is null from reward r
                   where r.tenant_id = v_tenant and r.reward_id = v_reward), false)
     and (not (p ? 'campaign_version')
          or coalesce((select c.version = (p->>'campaign_version')::int and c.deleted_at is null from campaign c
                       where c.tenant_id = v_tenant and c.campaign_id = v_campaign), false))
    into v_ok;
  if not v_ok then
    return '{"outcome": "stale"}'::jsonb;
  end if;

  -- A cause that already granted this reward gets that grant back, and nothing is written. The
  -- cause is claimed first (unique index reward_grant_source): a concurrent request with the same
  -- cause waits here for this one and then finds its grant.
  if v_source is not null then
    insert into reward_grant (tenant_id, grant_id, reward_id, reward_type, product_code, campaign_id, user_id,
                              quantity, source, source_id, status, distributor, payload, stock_slots,
                              delivery_status, created_at, updated_at)
    values (v_tenant, v_grant_id, v_reward, p->>'reward_type', p->>'product_code', v_campaign, v_user,
            v_quantity, v_source, v_source_id, 'PENDING', p->>'distributor', '{}'::jsonb, '[]'::jsonb,
            'PENDING', v_now, v_now)
    on conflict (tenant_id, source, source_id, reward_id) where source is not null do nothing;
    if not found then
      select * into v_existing from reward_grant g
      where g.tenant_id = v_tenant and g.source = v_source and g.source_id = v_source_id and g.reward_id = v_reward;
      return jsonb_build_object('outcome', 'replayed', 'grant', to_jsonb(v_existing));
    end if;
    v_claimed := true;
  end if;

  <<checks>>
  begin
    if p ? 'per_user_limit' then
      insert into reward_user_counter as c (tenant_id, reward_id, user_id, period_key, granted, last_granted_at)
      values (v_tenant, v_reward, v_user, p->>'period_key', v_quantity, v_now)
      on conflict (tenant_id, reward_id, user_id, period_key) do update
        set granted = c.granted + excluded.granted, last_granted_at = excluded.last_granted_at
        where c.granted + excluded.granted <= (p->>'per_user_limit')::bigint;
      if not found then
        v_refusal := '{"outcome": "refused", "code": "per_user_limit_reached", "details": {}}';
        exit checks;
      end if;
      v_counted := true;
    end if;

    v_stock := mh_take_stock(v_tenant, v_reward, v_quantity, 'used', (p->>'prefer_slot')::smallint,
                             coalesce((p->>'nowait')::boolean, false));
    if v_stock ? 'busy' then
      v_refusal := '{"outcome": "busy"}';
      exit checks;
    end if;
    if v_stock ? 'free' then
      v_refusal := jsonb_build_object('outcome', 'refused', 'code', 'inventory_exhausted',
                                      'details', jsonb_build_object('available', v_stock->'free'));
      exit checks;
    end if;

    -- After the stock: the stamp cannot be undone exactly (it overwrites the last grant time), so
    -- nothing may be refused after it.
    if p ? 'min_interval_ms' then
      insert into reward_user_counter as c (tenant_id, reward_id, user_id, period_key, granted, last_granted_at)
      values (v_tenant, v_reward, v_user, 'LAST', 1, v_now)
      on conflict (tenant_id, reward_id, user_id, period_key) do update
        set granted = c.granted + 1, last_granted_at = excluded.last_granted_at
        where c.last_granted_at <= v_now - make_interval(secs => (p->>'min_interval_ms')::double precision / 1000);
      if not found then
        for v_take in select (t->>'slot')::smallint as slot, (t->>'quantity')::bigint as quantity
                      from jsonb_array_elements(v_stock->'takes') t loop
          update reward_stock_slot s set used = s.used - v_take.quantity
          where s.tenant_id = v_tenant and s.reward_id = v_reward and s.slot = v_take.slot;
        end loop;
        v_refusal := '{"outcome": "refused", "code": "min_interval_not_elapsed", "details": {}}';
        exit checks;
      end if;
    end if;
  end;

  if v_refusal is not null then
    -- Undo what this grant wrote before it was refused.
    if v_counted then
      update reward_user_counter c set granted = c.granted - v_quantity
      where c.tenant_id = v_tenant and c.reward_id = v_reward and c.user_id = v_user and c.period_key = p->>'period_key';
    end if;
    if v_claimed then
      delete from reward_grant g where g.tenant_id = v_tenant and g.grant_id = v_grant_id;
    end if;
    return v_refusal;
  end if;

  if p ? 'credit' then
    perform mh_ledger_credit(v_tenant, p->'credit'->>'entry_id', v_user, p->'credit'->>'asset',
                             (p->'credit'->>'amount')::bigint, 'GRANT', p->'credit'->>'cause_type',
                             v_grant_id, p->'credit'->>'memo', v_now);
  end if;
  if p ? 'job' then
    insert into job (tenant_id, job_id, queue, payload, max_attempts, run_at, created_at, updated_at)
    values (v_tenant, p->'job'->>'job_id', p->'job'->>'queue', p->'job'->'payload',
            (p->'job'->>'max_attempts')::int, v_now, v_now, v_now);
  end if;

  if v_claimed then
    update reward_grant g
    set status = p->>'status', payload = p->'payload', stock_slots = v_stock->'takes',
        period_key = p->>'period_key', delivery_status = p->>'delivery_status'
    where g.tenant_id = v_tenant and g.grant_id = v_grant_id
    returning * into v_grant;
  else
    insert into reward_grant (tenant_id, grant_id, reward_id, reward_type, product_code, campaign_id, user_id,
                              quantity, source, source_id, status, distributor, payload, stock_slots, period_key,
                              delivery_status, created_at, updated_at)
    values (v_tenant, v_grant_id, v_reward, p->>'reward_type', p->>'product_code', v_campaign, v_user,
            v_quantity, null, null, p->>'status', p->>'distributor', p->'payload', v_stock->'takes',
            p->>'period_key', p->>'delivery_status', v_now, v_now)
    returning * into v_grant;
  end if;
  return jsonb_build_object('outcome', 'granted', 'grant', to_jsonb(v_grant));
end $$;

-- Grants in one transaction: what the service sends when grants arrive faster than single
-- statements can commit. They run one after the other, as if sent one by one inside one
-- transaction, and commit together with one WAL flush. Answers one row per grant, in order.
-- An error (not a refusal) in any of them fails the statement, and the caller runs them again
-- one by one. Grants of one reward reuse the slot the batch already holds, and a grant never
-- waits for a slot another transaction holds ("busy": the caller runs it on its own): with the
-- grants sorted by user, rows of a user (limit counters, ledger accounts) are the only rows a
-- batch waits for, and every batch locks them in the same order, so batches cannot deadlock.
create function mh_grant_batch(p jsonb)
returns setof jsonb
language plpgsql as $$
declare
  v_item jsonb;
  v_out jsonb;
  v_held jsonb := '{}'::jsonb;
  v_key text;
  v_many boolean := jsonb_array_length(p) > 1;
begin
  for v_item in select value from jsonb_array_elements(p) loop
    v_key := (v_item->>'tenant_id') || ':' || (v_item->>'reward_id');
    if v_many then
      v_item := v_item || '{"nowait": true}'::jsonb;
    end if;
    if v_held ? v_key then
      v_item := v_item || jsonb_build_object('prefer_slot', v_held->v_key);
    end if;
    v_out := mh_grant(v_item);
    if v_out->>'outcome' = 'granted' and not v_held ? v_key then
      v_held := v_held || jsonb_build_object(v_key, v_out->'grant'->'stock_slots'->0->'slot');
    end if;
    -- One row per grant, in order (a growing JSON array would be copied on every append).
    return next v_out;
  end loop;
end $$;
