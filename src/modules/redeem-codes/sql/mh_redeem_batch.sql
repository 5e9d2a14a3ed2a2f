-- Redemptions in one transaction: what the redemption service sends when they arrive faster than
-- single statements can commit (its own group commit, redemption.statement.ts), or one redemption
-- alone. They run as if sent one by one inside one transaction and commit together with one WAL
-- flush. Answers one row per item, in order: what mh_redeem answers for it. An error (not a
-- refusal) in any of them fails the statement, and the caller runs them again one by one.
--
-- Each item is the grant function's parameter (built by the grants service) plus "redeem": {batch_id,
-- seq, max_uses, expires_at?, redemption_id, code, campaign_id, product_code, client_ip,
-- expect_batch?}. Order inside: redemptions the Redis mirror vouched for ("expect_batch") are
-- verified first; then the plain redemptions of a batch go through mh_redeem_set together;
-- whatever that does not settle runs one by one through mh_redeem. In a batch a redemption never
-- waits for a code or stock slot another transaction holds ("busy": the caller runs it on its
-- own), and with the items sorted by user, rows of a user (ledger accounts) are the only rows a
-- batch waits for, always locked in the same order, so batches cannot deadlock on each other.
--
-- This file is the function's one current definition: the migration runner (src/db/migrate.ts)
-- applies it again whenever it changes. Edit it here, never in a migration.
create or replace function mh_redeem_batch(p jsonb)
returns setof jsonb
language plpgsql as $$
declare
  v_item jsonb;
  v_ord integer;
  v_out jsonb;
  v_settled jsonb[];
  v_set mh_redeem_item[];
  v_outs jsonb[] := '{}';
  v_entries jsonb[] := '{}';
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

  -- The plain redemptions (none of per_user_limit or min_interval_ms: their counters are per
  -- item) together, as a set.
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
    where i->>'source' is not null and v_settled[e.ord::integer] is null
      and not i ? 'per_user_limit' and not i ? 'min_interval_ms';
    if cardinality(v_set) > 1 then
      for v_ord, v_out in select s.ord, s.outcome from mh_redeem_set(v_set) s loop
        v_settled[v_ord] := v_out;
      end loop;
    end if;
  end if;

  -- The rest one by one. Redemptions of one reward reuse the stock slot the batch already holds.
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
    if v_out->>'outcome' = 'granted' then
      if not v_held ? v_key then
        v_held := v_held || jsonb_build_object(v_key, v_out->'grant'->'stock_slots'->0->'slot');
      end if;
      -- The grant function leaves its ledger entry to its caller ("writes"); a redemption's grant
      -- has a cause, so its grant row is already written.
      if v_out->'writes' ? 'entry' then
        v_entries := array_append(v_entries, v_out->'writes'->'entry');
      end if;
      v_out := v_out - 'writes';
    end if;
    v_outs := array_append(v_outs, v_out);
  end loop;

  -- The one-by-one grants' ledger entries, one statement (entry_seq follows the batch's order).
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

  foreach v_out in array v_outs loop
    return next v_out;
  end loop;
end $$;
