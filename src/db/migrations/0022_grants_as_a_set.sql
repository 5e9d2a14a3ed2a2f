-- Plain grants of a group commit as a SET, as 0019 did for redemptions: a few statements for the
-- whole batch instead of mh_grant's five or six per grant. Measured from the server's log on the
-- batch form of task triggers (1,000 events, about 127 completions granting POINTS), the
-- batch's mh_grant_batch took 17 ms, about 0.13 ms per grant, most of it each grant's own
-- statements inside PL/pgSQL (claim, stock, account, grant row update).
--
-- mh_grant_batch hands this function its plain grants: no redemption, none of per_user_limit or
-- min_interval_ms (their counters are per item). It settles what it can and answers (ord,
-- outcome) for those; every item it does not answer goes through mh_grant one by one afterwards,
-- exactly as before: a stale snapshot, a second item for the same cause, a cause that already
-- has its grant (mh_grant answers it 'replayed'), a reward whose stock no single free slot can
-- cover. So this function never refuses anything, and the per-item path stays the reference.

create function mh_grant_set(p_items mh_redeem_item[])
returns table (ord integer, outcome jsonb)
language plpgsql as $$
declare
  v_live integer[];
  v_claimed integer[];
  v_pass integer[];
  v_slot_ords integer[] := '{}';
  v_slots smallint[] := '{}';
  v_reward record;
  v_stock jsonb;
begin
  -- 1. Items whose reward (and campaign) snapshot is still current: every item without a cause,
  --    and the first item of each cause.
  select coalesce(array_agg(i.ord), '{}') into v_live
  from (select x.* from unnest(p_items) x where x.source is null
        union all
        (select distinct on (x.tenant_id, x.source, x.source_id, x.reward_id) x.*
         from unnest(p_items) x where x.source is not null
         order by x.tenant_id, x.source, x.source_id, x.reward_id, x.ord)) i
  where exists (select from reward r
                where r.tenant_id = i.tenant_id and r.reward_id = i.reward_id
                  and r.version = i.reward_version and r.deleted_at is null)
    and (i.campaign_version is null
         or exists (select from campaign c
                    where c.tenant_id = i.tenant_id and c.campaign_id = i.campaign_id
                      and c.version = i.campaign_version and c.deleted_at is null));
  if cardinality(v_live) = 0 then
    return;
  end if;

  -- 2. Each cause claimed with its grant row (unique index reward_grant_source), as mh_grant
  --    does: a concurrent transaction with the same cause makes this wait for it, then skip.
  --    A cause that already has its grant is left to mh_grant, which answers it 'replayed'.
  with claimed as (
    insert into reward_grant (tenant_id, grant_id, reward_id, reward_type, product_code, campaign_id, user_id,
                              quantity, source, source_id, status, distributor, payload, stock_slots,
                              delivery_status, created_at, updated_at)
    select i.tenant_id, i.grant_id, i.reward_id, i.reward_type, i.product_code, i.campaign_id, i.user_id,
           i.quantity, i.source, i.source_id, 'PENDING', i.distributor, '{}'::jsonb, '[]'::jsonb,
           'PENDING', i.now, i.now
    from unnest(p_items) i
    where i.ord = any (v_live) and i.source is not null
    order by i.ord
    on conflict (tenant_id, source, source_id, reward_id) where source is not null do nothing
    returning grant_id)
  select coalesce(array_agg(i.ord), '{}') into v_claimed
  from unnest(p_items) i join claimed c on c.grant_id = i.grant_id;
  v_pass := v_claimed || array(select i.ord from unnest(p_items) i where i.ord = any (v_live) and i.source is null);
  if cardinality(v_pass) = 0 then
    return;
  end if;

  -- 3. The stock: once per reward, for all of its grants, from one slot that no other
  --    transaction holds. A reward whose slots are all held, or that no single slot can cover
  --    (near sell-out), leaves its grants to the one-by-one path, and their claims are undone.
  for v_reward in
    select i.tenant_id, i.reward_id, sum(i.quantity)::bigint as quantity, array_agg(i.ord) as ords
    from unnest(p_items) i
    where i.ord = any (v_pass)
    group by i.tenant_id, i.reward_id
  loop
    v_stock := mh_take_stock(v_reward.tenant_id, v_reward.reward_id, v_reward.quantity, 'used', null, true);
    if v_stock ? 'takes' then
      v_slot_ords := v_slot_ords || v_reward.ords;
      v_slots := v_slots || array_fill((v_stock->'takes'->0->>'slot')::smallint, array[cardinality(v_reward.ords)]);
    end if;
  end loop;
  delete from reward_grant g
  using unnest(p_items) i
  where i.ord = any (v_claimed) and not i.ord = any (v_slot_ords)
    and g.tenant_id = i.tenant_id and g.grant_id = i.grant_id;
  if cardinality(v_slot_ords) = 0 then
    return;
  end if;

  -- 4. Everything else in one statement: move the accounts (one upsert per account, however many
  --    of its grants are in the batch; each entry gets the balance after it, in the batch's
  --    order), insert the entries, complete the claimed grant rows, insert the others, and the jobs.
  return query
    with ok as (
      select i.*, s.slot, jsonb_build_array(jsonb_build_object('slot', s.slot, 'quantity', i.quantity)) as takes
      from unnest(p_items) i
      join unnest(v_slot_ords, v_slots) as s(ord, slot) on s.ord = i.ord
    ),
    credits as (
      select ok.ord, ok.tenant_id, ok.user_id, ok.credit->>'asset' as asset, (ok.credit->>'amount')::bigint as amount,
             ok.credit->>'entry_id' as entry_id, ok.credit->>'cause_type' as cause_type, ok.credit->>'memo' as memo,
             ok.grant_id, ok.now
      from ok
      where ok.credit is not null
    ),
    accounts as (
      insert into ledger_account as a (tenant_id, user_id, asset, balance, entry_count, updated_at)
      select k.tenant_id, k.user_id, k.asset, sum(k.amount), count(*), max(k.now)
      from credits k
      group by k.tenant_id, k.user_id, k.asset
      order by k.tenant_id, k.user_id, k.asset
      on conflict (tenant_id, user_id, asset) do update
        set balance = a.balance + excluded.balance, entry_count = a.entry_count + excluded.entry_count,
            updated_at = greatest(a.updated_at, excluded.updated_at)
      returning a.tenant_id, a.user_id, a.asset, a.balance, a.entry_count, a.updated_at
    ),
    entries as (
      insert into ledger_entry (tenant_id, entry_id, user_id, asset, amount, balance_after, account_seq,
                                entry_type, cause_type, cause_id, reverses_entry_id, memo, created_at)
      select k.tenant_id, k.entry_id, k.user_id, k.asset, k.amount,
             a.balance - coalesce(sum(k.amount) over later, 0),
             a.entry_count - coalesce(count(*) over later, 0),
             'GRANT', k.cause_type, k.grant_id, null, k.memo, a.updated_at
      from credits k
      join accounts a on a.tenant_id = k.tenant_id and a.user_id = k.user_id and a.asset = k.asset
      window later as (partition by k.tenant_id, k.user_id, k.asset order by k.ord desc
                       rows between unbounded preceding and 1 preceding)
      order by k.ord
    ),
    completed as (
      update reward_grant g
      set status = ok.status, payload = ok.payload, stock_slots = ok.takes,
          period_key = ok.period_key, delivery_status = ok.delivery_status
      from ok
      where ok.source is not null and g.tenant_id = ok.tenant_id and g.grant_id = ok.grant_id
      returning g.grant_id, to_jsonb(g) as j
    ),
    inserted as (
      insert into reward_grant as g (tenant_id, grant_id, reward_id, reward_type, product_code, campaign_id, user_id,
                                     quantity, source, source_id, status, distributor, payload, stock_slots, period_key,
                                     delivery_status, created_at, updated_at)
      select ok.tenant_id, ok.grant_id, ok.reward_id, ok.reward_type, ok.product_code, ok.campaign_id, ok.user_id,
             ok.quantity, null, null, ok.status, ok.distributor, ok.payload, ok.takes, ok.period_key,
             ok.delivery_status, ok.now, ok.now
      from ok
      where ok.source is null
      order by ok.ord
      returning g.grant_id, to_jsonb(g) as j
    ),
    jobs as (
      insert into job (tenant_id, job_id, queue, payload, max_attempts, run_at, created_at, updated_at)
      select ok.tenant_id, ok.job->>'job_id', ok.job->>'queue', ok.job->'payload', (ok.job->>'max_attempts')::int,
             ok.now, ok.now, ok.now
      from ok
      where ok.job is not null
      order by ok.ord
    )
    select ok.ord, jsonb_build_object('outcome', 'granted', 'grant', g.j)
    from ok
    join (select * from completed union all select * from inserted) g on g.grant_id = ok.grant_id;
    -- (entries and jobs are not read: a data-modifying CTE runs to completion all the same.)
end $$;

-- mh_grant_batch (0019) again: after the redemptions, the plain grants go through mh_grant_set
-- together; whatever is not settled by then runs one by one as before.
create or replace function mh_grant_batch(p jsonb)
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
  v_grants jsonb[] := '{}';
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

    -- The plain grants together (mh_grant_set, above), on the same terms.
    select coalesce(array_agg(row(
             e.ord::integer, i->>'tenant_id', i->>'user_id', (i->>'now')::timestamptz, i->>'reward_id',
             (i->>'reward_version')::integer, i->>'campaign_id', (i->>'campaign_version')::integer,
             i->>'grant_id', i->>'reward_type', i->>'product_code', (i->>'quantity')::bigint, i->>'source',
             i->>'source_id', i->>'status', i->>'distributor', i->>'delivery_status', i->'payload',
             i->>'period_key', i->'credit', i->'job', null, null, null, null, null, null, null, null, null)::mh_redeem_item), '{}')
      into v_set
    from jsonb_array_elements(p) with ordinality as e(i, ord)
    where not i ? 'redeem' and v_settled[e.ord::integer] is null
      and not i ? 'per_user_limit' and not i ? 'min_interval_ms';
    if cardinality(v_set) > 1 then
      for v_ord, v_out in select s.ord, s.outcome from mh_grant_set(v_set) s loop
        v_settled[v_ord] := v_out;
      end loop;
    end if;
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
      if v_item ? 'redeem' then
        v_out := mh_redeem(v_item);
      else
        v_out := mh_grant(v_item);
      end if;
    end if;
    if v_out->>'outcome' = 'granted' then
      if not v_held ? v_key then
        v_held := v_held || jsonb_build_object(v_key, v_out->'grant'->'stock_slots'->0->'slot');
      end if;
      if v_out ? 'writes' then
        if v_out->'writes' ? 'entry' then
          v_entries := array_append(v_entries, v_out->'writes'->'entry');
        end if;
        if v_out->'writes' ? 'grant' then
          v_grants := array_append(v_grants, v_out->'writes'->'grant');
        end if;
        v_out := v_out - 'writes';
      end if;
    end if;
    v_outs := array_append(v_outs, v_out);
  end loop;

  -- The per-item grants' ledger entries and new grant rows, one statement per table (entry_seq
  -- follows the batch's order). An error here fails the whole statement, as any error of a grant does.
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
