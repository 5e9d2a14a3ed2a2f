-- Grants and redemptions in one transaction: what the service sends when they arrive faster than
-- single statements can commit. They run as if sent one by one inside one transaction, and commit
-- together with one WAL flush. Answers one row per item, in order. An error (not a refusal) in any
-- of them fails the statement, and the caller runs them again one by one.
--
-- Order inside: redemptions the Redis mirror vouched for ("expect_batch") are verified first;
-- then the plain redemptions go through mh_redeem_set together, and every grant through
-- mh_grant_set (the one grant path, which settles each completely); the redemptions those do not
-- settle run one by one through mh_redeem. Grants of one reward reuse the slot the batch already
-- holds, and in a batch of several nothing waits for a slot another transaction holds ("busy":
-- the caller runs it on its own): with the items sorted by user, rows of a user (limit counters,
-- ledger accounts) are the only rows a batch waits for, and every batch locks them in the same
-- order, so batches cannot deadlock.
--
-- Answers are collected with array_append: PL/pgSQL appends to an array in place, while
-- `jsonb || jsonb` copies the whole value on every append (measured over 16 items of about 2 KB:
-- 18 us per item with `||` against 0.24 us with array_append).
--
-- This file is the function's one current definition: the migration runner (src/db/migrate.ts)
-- applies it again whenever it changes. Edit it here, never in a migration.
create or replace function mh_grant_batch(p jsonb)
returns setof jsonb
language plpgsql as $$
declare
  v_item jsonb;
  v_ord integer;
  v_out jsonb;
  v_settled jsonb[];
  v_set mh_redeem_item[];
  v_grant_set mh_grant_item[];
  v_outs jsonb[] := '{}';
  v_held jsonb := '{}'::jsonb;
  v_key text;
  v_n integer := jsonb_array_length(p);
  v_many boolean := v_n > 1;
begin
  v_settled := array_fill(null::jsonb, array[v_n]);
  -- A redemption whose code and batch the application took from the Redis mirror instead of
  -- reading them ("expect_batch") is checked against them here: the code at that key is the code
  -- typed, and its batch still grants that reward, on those terms, to this product. Anything else
  -- is refused "code_changed" with nothing written, and the application reads the code and tries
  -- again. (The code's own state is checked under its lock, as for every redemption.)
  for v_ord in
    select e.ord from jsonb_array_elements(p) with ordinality as e(i, ord)
    where i->'redeem' ? 'expect_batch'
      and not exists (
        select from redeem_code c
        join redeem_code_batch b on b.tenant_id = c.tenant_id and b.batch_id = c.batch_id
        where c.tenant_id = i->>'tenant_id' and c.batch_id = i->'redeem'->>'batch_id'
          and c.seq = (i->'redeem'->>'seq')::integer and c.code = i->'redeem'->>'code'
          and b.status <> 'VOIDED' and b.reward_id = i->>'reward_id' and b.campaign_id = i->'redeem'->>'campaign_id'
          and b.max_uses = (i->'redeem'->>'max_uses')::integer
          and b.expires_at is not distinct from (i->'redeem'->>'expires_at')::timestamptz
          and (b.applicable_products is null or i->'redeem'->>'product_code' = any (b.applicable_products)))
  loop
    v_settled[v_ord] := '{"outcome": "refused", "code": "code_changed", "details": {"stage": "code"}}'::jsonb;
  end loop;

  if v_many then
    select coalesce(array_agg(row(
             e.ord::integer, i->>'tenant_id', i->>'user_id', (i->>'now')::timestamptz, i->>'reward_id',
             (i->>'reward_version')::integer, i->>'campaign_id', (i->>'campaign_version')::integer,
             i->>'grant_id', i->>'reward_type', i->>'product_code', (i->>'quantity')::bigint, i->>'source',
             i->>'source_id', i->>'status', i->>'distributor', i->>'delivery_status', i->'payload',
             i->>'period_key', i->'credit', i->'job', i->'redeem'->>'batch_id', (i->'redeem'->>'seq')::integer,
             (i->'redeem'->>'max_uses')::integer, (i->'redeem'->>'expires_at')::timestamptz,
             i->'redeem'->>'redemption_id', i->'redeem'->>'code', i->'redeem'->>'campaign_id',
             i->'redeem'->>'product_code', i->'redeem'->>'client_ip')::mh_redeem_item), '{}')
      into v_set
    from jsonb_array_elements(p) with ordinality as e(i, ord)
    where i ? 'redeem' and i->>'source' is not null and v_settled[e.ord::integer] is null
      and not i ? 'per_user_limit' and not i ? 'min_interval_ms';
    if cardinality(v_set) > 1 then
      for v_ord, v_out in select s.ord, s.outcome from mh_redeem_set(v_set) s loop
        v_settled[v_ord] := v_out;
      end loop;
    end if;
  end if;

  -- Every grant, as one set (nowait in a batch of several: see above).
  select coalesce(array_agg(jsonb_populate_record(null::mh_grant_item,
                                                  i || jsonb_build_object('ord', e.ord, 'nowait', v_many))
                            order by e.ord), '{}')
    into v_grant_set
  from jsonb_array_elements(p) with ordinality as e(i, ord)
  where not i ? 'redeem';
  if cardinality(v_grant_set) > 0 then
    for v_ord, v_out in select s.ord, s.outcome from mh_grant_set(v_grant_set) s loop
      v_settled[v_ord] := v_out;
    end loop;
  end if;

  v_ord := 0;
  for v_item in select value from jsonb_array_elements(p) loop
    v_ord := v_ord + 1;
    v_key := (v_item->>'tenant_id') || ':' || (v_item->>'reward_id');
    v_out := v_settled[v_ord];
    if v_out is null then
      if v_many then
        v_item := v_item || '{"nowait": true}'::jsonb;
      end if;
      if v_held ? v_key then
        v_item := v_item || jsonb_build_object('prefer_slot', v_held->v_key);
      end if;
      v_out := mh_redeem(v_item);
    end if;
    if v_out->>'outcome' = 'granted' and not v_held ? v_key then
      v_held := v_held || jsonb_build_object(v_key, v_out->'grant'->'stock_slots'->0->'slot');
    end if;
    v_outs := array_append(v_outs, v_out);
  end loop;

  -- One row per grant, in order.
  foreach v_out in array v_outs loop
    return next v_out;
  end loop;
end $$;
