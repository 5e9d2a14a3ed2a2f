-- A redemption in ONE statement, like a grant (0009): use the code, grant its reward, record the
-- redemption. Redemptions were six round trips in a transaction (begin, read, use, grant, insert,
-- commit), and on this machine each round trip costs more CPU in the sockets than the database
-- spends on the work. The application reads the code and decides the grant; this function
-- applies both, and mh_grant_batch runs redemptions in the same group commits as grants.
--
-- p is mh_grant's parameter plus "redeem": {batch_id, seq, max_uses, expires_at?, redemption_id,
-- code, campaign_id, product_code, client_ip}. Answers what mh_grant answers, and with a granted
-- grant the redemption row ("redemption"). A refusal of the code itself is
-- {"outcome": "refused", "code": ..., "details": {"stage": "code"}} with nothing written.

create function mh_redeem(p jsonb)
returns jsonb
language plpgsql as $$
declare
  v_tenant text := p->>'tenant_id';
  v_user text := p->>'user_id';
  v_now timestamptz := (p->>'now')::timestamptz;
  r jsonb := p->'redeem';
  v_batch text := r->>'batch_id';
  v_seq integer := (r->>'seq')::integer;
  v_max integer := (r->>'max_uses')::integer;
  v_code record;
  v_used tid;
  v_out jsonb;
  v_redemption redeem_code_redemption;
begin
  -- The code's row, locked; it is then updated by its ctid (no plan to go wrong). In a batch a code another transaction holds is not waited for
  -- ("busy": the caller runs this redemption on its own), so batches never wait on each other for
  -- codes, whatever order their codes come in.
  if coalesce((p->>'nowait')::boolean, false) then
    select c.ctid as row_id, c.status, c.uses, c.assigned_user_id, c.last_redeemed_at into v_code from redeem_code c
    where c.tenant_id = v_tenant and c.batch_id = v_batch and c.seq = v_seq
    for update skip locked;
    if not found then
      return '{"outcome": "busy"}'::jsonb;
    end if;
  else
    select c.ctid as row_id, c.status, c.uses, c.assigned_user_id, c.last_redeemed_at into v_code from redeem_code c
    where c.tenant_id = v_tenant and c.batch_id = v_batch and c.seq = v_seq
    for update;
    if not found then
      return '{"outcome": "refused", "code": "code_not_found", "details": {"stage": "code"}}'::jsonb;
    end if;
  end if;

  -- What the application checked on its read, again under the lock: a void, an assignment or
  -- other redemptions may have committed since.
  if v_code.status = 'VOIDED' then
    return '{"outcome": "refused", "code": "code_voided", "details": {"stage": "code"}}'::jsonb;
  end if;
  if v_code.assigned_user_id is not null and v_code.assigned_user_id <> v_user then
    return '{"outcome": "refused", "code": "code_not_assigned_to_user", "details": {"stage": "code"}}'::jsonb;
  end if;
  if v_code.status <> 'ACTIVE' or v_code.uses >= v_max then
    return '{"outcome": "refused", "code": "code_already_redeemed", "details": {"stage": "code"}}'::jsonb;
  end if;
  if r ? 'expires_at' and (r->>'expires_at')::timestamptz <= v_now then
    return '{"outcome": "refused", "code": "code_expired", "details": {"stage": "code"}}'::jsonb;
  end if;

  update redeem_code c
  set uses = c.uses + 1,
      status = case when c.uses + 1 >= v_max then 'REDEEMED' else c.status end,
      last_redeemed_at = v_now
  where c.ctid = v_code.row_id
  returning c.ctid into v_used;

  v_out := mh_grant(p);
  if v_out->>'outcome' <> 'granted' then
    -- Undo the use exactly (the row is still locked by this transaction).
    update redeem_code c
    set uses = v_code.uses, status = v_code.status, last_redeemed_at = v_code.last_redeemed_at
    where c.ctid = v_used;
    if v_out->>'outcome' = 'replayed' then
      -- This code already granted this reward for this user (a multi-use code, once per user).
      return '{"outcome": "refused", "code": "code_already_redeemed", "details": {"stage": "code"}}'::jsonb;
    end if;
    return v_out;
  end if;

  -- One row per (code, user). The grant's cause (the code, or the code and user) already made a
  -- second redemption by the same user a replay above, so a conflict here is a bug: raise, and
  -- the whole statement (batch) rolls back.
  insert into redeem_code_redemption (tenant_id, batch_id, seq, user_id, redemption_id, code, campaign_id,
                                      reward_id, grant_id, product_code, client_ip, created_at)
  values (v_tenant, v_batch, v_seq, v_user, r->>'redemption_id', r->>'code', r->>'campaign_id',
          p->>'reward_id', p->>'grant_id', r->>'product_code', r->>'client_ip', v_now)
  returning * into v_redemption;

  return v_out || jsonb_build_object('redemption', to_jsonb(v_redemption),
                                     'code_state', jsonb_build_object('uses', v_code.uses + 1,
                                       'status', case when v_code.uses + 1 >= v_max then 'REDEEMED' else v_code.status end));
end $$;

-- mh_grant (0009) again, with one change: the claimed grant row is updated (or, on a refusal,
-- deleted) by its ctid, which this transaction got from the INSERT and holds locked. By key, the
-- plan PL/pgSQL cached for the statement could be a generic one made while reward_grant was
-- nearly empty, which picked reward_grant_reward on tenant_id alone: every grant with a cause
-- then walked all of its tenant's grants (seen: 7,000 index entries per redemption in a bench).

create or replace function mh_grant(p jsonb)
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
  v_claim tid;
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
    on conflict (tenant_id, source, source_id, reward_id) where source is not null do nothing
    returning ctid into v_claim;
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
      delete from reward_grant g where g.ctid = v_claim;
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
    where g.ctid = v_claim
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

-- mh_grant_batch (0009) again, now running redemptions too: an item with "redeem" goes to
-- mh_redeem. Everything else is as before.
create or replace function mh_grant_batch(p jsonb)
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
    if v_item ? 'redeem' then
      v_out := mh_redeem(v_item);
    else
      v_out := mh_grant(v_item);
    end if;
    if v_out->>'outcome' = 'granted' and not v_held ? v_key then
      v_held := v_held || jsonb_build_object(v_key, v_out->'grant'->'stock_slots'->0->'slot');
    end if;
    -- One row per grant, in order (a growing JSON array would be copied on every append).
    return next v_out;
  end loop;
end $$;
