-- mh_grant_batch (0015) again, with one change: the batch's answers, ledger entries and new grant
-- rows are collected with array_append instead of `||`. PL/pgSQL appends to an array in place,
-- while `jsonb || jsonb` and `jsonb[] || jsonb` copy the whole value on every append: measured in
-- a loop of 16 items of about 2 KB, 18 us per item with `||` against 0.24 us with array_append.

create or replace function mh_grant_batch(p jsonb)
returns setof jsonb
language plpgsql as $$
declare
  v_item jsonb;
  v_out jsonb;
  v_outs jsonb[] := '{}';
  v_entries jsonb[] := '{}';
  v_grants jsonb[] := '{}';
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
        v_entries := array_append(v_entries, v_out->'writes'->'entry');
      end if;
      if v_out->'writes' ? 'grant' then
        v_grants := array_append(v_grants, v_out->'writes'->'grant');
      end if;
      v_out := v_out - 'writes';
    end if;
    v_outs := array_append(v_outs, v_out);
  end loop;

  -- The batch's ledger entries and new grant rows, one statement per table (entry_seq follows
  -- the batch's order). An error here fails the whole statement, as any error of a grant does.
  if cardinality(v_entries) > 0 then
    insert into ledger_entry (tenant_id, entry_id, user_id, asset, amount, balance_after, account_seq,
                              entry_type, cause_type, cause_id, reverses_entry_id, memo, created_at)
    select e.tenant_id, e.entry_id, e.user_id, e.asset, e.amount, e.balance_after, e.account_seq,
           e.entry_type, e.cause_type, e.cause_id, null, e.memo, e.created_at
    from unnest(v_entries) with ordinality as x(item, ord),
         jsonb_to_record(x.item) as e(tenant_id text, entry_id text, user_id text, asset text, amount bigint,
                                      balance_after bigint, account_seq bigint, entry_type text, cause_type text,
                                      cause_id text, memo text, created_at timestamptz)
    order by x.ord;
  end if;
  if cardinality(v_grants) > 0 then
    insert into reward_grant (tenant_id, grant_id, reward_id, reward_type, product_code, campaign_id, user_id,
                              quantity, source, source_id, status, distributor, payload, stock_slots, period_key,
                              delivery_status, created_at, updated_at)
    select g.tenant_id, g.grant_id, g.reward_id, g.reward_type, g.product_code, g.campaign_id, g.user_id,
           g.quantity, null, null, g.status, g.distributor, g.payload, g.stock_slots, g.period_key,
           g.delivery_status, g.created_at, g.updated_at
    from unnest(v_grants) as x(item),
         jsonb_to_record(x.item) as g(tenant_id text, grant_id text, reward_id text, reward_type text,
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
