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
--
-- Two changes to the grant functions come with it (measured with pgbench over mh_grant_batch):
-- the claimed grant row is updated by ctid (see mh_grant below), and a batch writes its ledger
-- entries and new grant rows with one INSERT per table after its grants ran, instead of one per
-- grant: each statement inside a function pays executor start-up and the table's CHECK
-- constraints parsed afresh, which cost more than the row itself.

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
  v_balance bigint;
  v_count bigint;
  v_posted timestamptz;
  v_writes jsonb;
  v_row jsonb;
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

  -- The rows nothing later in the batch reads (the ledger entry, an unclaimed grant row) are not
  -- written here but answered under "writes": mh_grant_batch inserts them, for the whole batch,
  -- with one statement per table. The balance moves here, so later grants of the batch see it.
  -- An entry is never dated before the account's previous one: a grant decided a moment before
  -- another may reach the account after it, and the ledger's order (created_at, entry_seq) must
  -- be the order the balance moved in.
  if p ? 'credit' then
    insert into ledger_account as a (tenant_id, user_id, asset, balance, entry_count, updated_at)
    values (v_tenant, v_user, p->'credit'->>'asset', (p->'credit'->>'amount')::bigint, 1, v_now)
    on conflict (tenant_id, user_id, asset) do update
      set balance = a.balance + excluded.balance, entry_count = a.entry_count + 1,
          updated_at = greatest(a.updated_at, excluded.updated_at)
    returning a.balance, a.entry_count, a.updated_at into v_balance, v_count, v_posted;
    v_writes := jsonb_build_object('entry', jsonb_build_object(
      'tenant_id', v_tenant, 'entry_id', p->'credit'->>'entry_id', 'user_id', v_user, 'asset', p->'credit'->>'asset',
      'amount', (p->'credit'->>'amount')::bigint, 'balance_after', v_balance, 'account_seq', v_count,
      'entry_type', 'GRANT', 'cause_type', p->'credit'->>'cause_type', 'cause_id', v_grant_id,
      'memo', p->'credit'->>'memo', 'created_at', v_posted));
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
    return jsonb_build_object('outcome', 'granted', 'grant', to_jsonb(v_grant), 'writes', v_writes);
  end if;
  -- Every column, as to_jsonb of the stored row would show it.
  v_row := jsonb_build_object(
    'tenant_id', v_tenant, 'grant_id', v_grant_id, 'reward_id', v_reward, 'reward_type', p->>'reward_type',
    'product_code', p->>'product_code', 'campaign_id', v_campaign, 'user_id', v_user, 'quantity', v_quantity,
    'source', null, 'source_id', null, 'status', p->>'status', 'distributor', p->>'distributor',
    'payload', p->'payload', 'stock_slots', v_stock->'takes', 'period_key', p->>'period_key',
    'delivery_status', p->>'delivery_status', 'delivery_attempts', 0, 'delivery_last_error', null,
    'delivered_at', null, 'used_at', null, 'revoked_at', null, 'revoke_reason', null,
    'created_at', v_now, 'updated_at', v_now);
  return jsonb_build_object('outcome', 'granted', 'grant', v_row,
                            'writes', coalesce(v_writes, '{}'::jsonb) || jsonb_build_object('grant', v_row));
end $$;

-- mh_grant now moves the account itself and leaves the entry to mh_grant_batch.
drop function mh_ledger_credit(text, text, text, text, bigint, text, text, text, text, timestamptz);

-- mh_grant_batch (0009) again, now running redemptions too: an item with "redeem" goes to
-- mh_redeem. Everything else is as before.
create or replace function mh_grant_batch(p jsonb)
returns setof jsonb
language plpgsql as $$
declare
  v_item jsonb;
  v_out jsonb;
  v_outs jsonb[] := '{}';
  v_entries jsonb := '[]'::jsonb;
  v_grants jsonb := '[]'::jsonb;
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
    if v_out->>'outcome' = 'granted' then
      if not v_held ? v_key then
        v_held := v_held || jsonb_build_object(v_key, v_out->'grant'->'stock_slots'->0->'slot');
      end if;
      if v_out->'writes' ? 'entry' then
        v_entries := v_entries || jsonb_build_array(v_out->'writes'->'entry');
      end if;
      if v_out->'writes' ? 'grant' then
        v_grants := v_grants || jsonb_build_array(v_out->'writes'->'grant');
      end if;
      v_out := v_out - 'writes';
    end if;
    v_outs := v_outs || v_out;
  end loop;

  -- The batch's ledger entries and new grant rows, one statement per table (entry_seq follows
  -- the batch's order). An error here fails the whole statement, as any error of a grant does.
  if jsonb_array_length(v_entries) > 0 then
    insert into ledger_entry (tenant_id, entry_id, user_id, asset, amount, balance_after, account_seq,
                              entry_type, cause_type, cause_id, reverses_entry_id, memo, created_at)
    select e.tenant_id, e.entry_id, e.user_id, e.asset, e.amount, e.balance_after, e.account_seq,
           e.entry_type, e.cause_type, e.cause_id, null, e.memo, e.created_at
    from jsonb_array_elements(v_entries) with ordinality as x(item, ord),
         jsonb_to_record(x.item) as e(tenant_id text, entry_id text, user_id text, asset text, amount bigint,
                                      balance_after bigint, account_seq bigint, entry_type text, cause_type text,
                                      cause_id text, memo text, created_at timestamptz)
    order by x.ord;
  end if;
  if jsonb_array_length(v_grants) > 0 then
    insert into reward_grant (tenant_id, grant_id, reward_id, reward_type, product_code, campaign_id, user_id,
                              quantity, source, source_id, status, distributor, payload, stock_slots, period_key,
                              delivery_status, created_at, updated_at)
    select g.tenant_id, g.grant_id, g.reward_id, g.reward_type, g.product_code, g.campaign_id, g.user_id,
           g.quantity, null, null, g.status, g.distributor, g.payload, g.stock_slots, g.period_key,
           g.delivery_status, g.created_at, g.updated_at
    from jsonb_to_recordset(v_grants) as g(tenant_id text, grant_id text, reward_id text, reward_type text,
                                           product_code text, campaign_id text, user_id text, quantity integer,
                                           status text, distributor text, payload jsonb, stock_slots jsonb,
                                           period_key text, delivery_status text, created_at timestamptz,
                                           updated_at timestamptz);
  end if;

  -- One row per grant, in order.
  foreach v_out in array v_outs loop
    return next v_out;
  end loop;
end $$;
