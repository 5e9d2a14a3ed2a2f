-- THE grant write: a set of grants the application decided (rules, generation, ids), applied
-- atomically, each settled completely. One grant is this run over one item; a group commit's
-- grants (up to 16) are one set (grant.statement.ts, runGrantSet); a redemption grants through it
-- too (redeem-codes/sql/mh_redeem_batch.sql). Per item, in this order, as grants one by one:
--   stale     the reward (and campaign) version it was decided on is no longer the stored one
--   replayed  its cause (source, source_id) already granted this reward: that grant is answered
--   refused   per_user_limit_reached (the period's counter would pass the limit),
--             inventory_exhausted (details.available: fewer units left than asked),
--             min_interval_not_elapsed (details.retry_after_seconds)
--   busy      nowait was set and every stock slot with room was held by another transaction
--   granted   the grant row, with the stock taken, the counters, the ledger credit and the job
-- Answers (ord, outcome) per item, outcome as {"outcome": ..., "grant"?, "code"?, "details"?}.
--
-- A refusal is an answer, not an error, and leaves nothing of its item written: what came before
-- it (the cause's claim, the counter, the stock) is undone exactly (this transaction still holds
-- those rows), so a set needs no subtransaction per item (which would cost more than the grant).
--
-- Each statement handles the whole set: when each grant ran its own five or six statements inside
-- PL/pgSQL, they cost more than their rows (bench/grants with BENCH_DIAG, grants with a per-user
-- limit in batches of about 15: 0.58 ms of database time per grant for one reward, 0.95 ms over
-- 100 rewards; as a set 0.43 ms and 0.66 ms, on the same loaded 2-core machine). So that a set
-- answers as the same items one by one would, it runs in rounds: a round holds at most one item
-- per cause and, among items with a per-user limit or interval, one per (reward, user), so no
-- counter or claim is touched twice in a statement; a later item of the same cause or counter
-- runs in the next round and sees the earlier one's result (usually there is one round).
--
-- The stock of a reward with several items is taken once, for their sum, from one slot no other
-- transaction holds; when no single slot can (near sell-out, or all held) each item takes its own
-- as mh_take_stock decides, preferring the slot the set already holds. Stock is only ever taken
-- with nowait in a set of several, so a set never waits on a slot while it holds other rows:
-- with items sorted by user, users' rows (counters, ledger accounts) are the only rows sets wait
-- for, and every set locks them in the same order.
--
-- This file is the function's one current definition: the migration runner (src/db/migrate.ts)
-- applies it again whenever it changes. Edit it here, never in a migration. Its item type,
-- mh_grant_item, is created by a migration (0025_one_grant_path.sql).
create or replace function mh_grant_set(p_items mh_grant_item[])
returns table (ord integer, outcome jsonb)
language plpgsql as $$
#variable_conflict use_column
declare
  v_out jsonb[];     -- each item's answer, by ord; null while it is still going
  v_takes jsonb[];   -- the stock each item took, by ord
  v_todo integer[];
  v_round integer[];
  v_pass integer[];
  v_claimed integer[] := '{}';
  v_counted integer[] := '{}';
  v_done integer[];
  v_held jsonb := '{}'::jsonb;  -- "tenant:reward" -> the slot this set took from first
  v_group record;
  v_item record;
  v_stock jsonb;
  v_key text;
  v_slot smallint;
  v_n integer;
  v_sourced boolean;   -- whether any item has a cause, a per-user limit, an interval, a credit:
  v_limited boolean;   -- the steps no item needs are skipped (each statement inside a function
  v_spaced boolean;    -- costs its executor start-up, more than a small set's rows)
  v_credited boolean;
  v_refused boolean;
  v_asked integer;
begin
  select coalesce(max(x.ord), 0), coalesce(bool_or(x.source is not null), false),
         coalesce(bool_or(x.per_user_limit is not null), false), coalesce(bool_or(x.min_interval_ms is not null), false),
         coalesce(bool_or(x.credit is not null), false)
    into v_n, v_sourced, v_limited, v_spaced, v_credited
  from unnest(p_items) x;
  v_out := array_fill(null::jsonb, array[v_n]);
  v_takes := array_fill(null::jsonb, array[v_n]);

  -- Stale: the snapshot the application decided on must still be current (primary-key reads).
  -- Nothing in the set changes a version, so this is checked once for all rounds.
  for v_item in
    select i.ord,
           exists (select from reward r
                   where r.tenant_id = i.tenant_id and r.reward_id = i.reward_id
                     and r.version = i.reward_version and r.deleted_at is null)
           and (i.campaign_version is null
                or exists (select from campaign c
                           where c.tenant_id = i.tenant_id and c.campaign_id = i.campaign_id
                             and c.version = i.campaign_version and c.deleted_at is null)) as live
    from unnest(p_items) i
  loop
    if not v_item.live then
      v_out[v_item.ord] := '{"outcome": "stale"}'::jsonb;
    end if;
  end loop;
  v_todo := array(select i.ord from unnest(p_items) i where v_out[i.ord] is null);

  while cardinality(v_todo) > 0 loop
    if cardinality(v_todo) = 1 then
      v_round := v_todo;
    else
      select coalesce(array_agg(r.ord), '{}') into v_round
      from (select i.ord,
                   row_number() over (partition by i.tenant_id, i.reward_id, i.source, i.source_id,
                                      case when i.source is null then i.ord end order by i.ord) as by_cause,
                   row_number() over (partition by i.tenant_id, i.reward_id, i.user_id,
                                      case when i.per_user_limit is null and i.min_interval_ms is null then i.ord end
                                      order by i.ord) as by_counter
            from unnest(p_items) i
            where i.ord = any (v_todo)) r
      where r.by_cause = 1 and r.by_counter = 1;
    end if;
    if cardinality(v_round) = cardinality(v_todo) then
      v_todo := '{}';
    else
      v_todo := array(select t from unnest(v_todo) t where not t = any (v_round));
    end if;

    -- Replayed: each cause is claimed with its grant row (unique index reward_grant_source); a
    -- concurrent transaction with the same cause makes this wait for it. A cause that already
    -- has its grant answers that grant, and nothing is written.
    if v_sourced then
      with claimed as (
        insert into reward_grant (tenant_id, grant_id, reward_id, reward_type, product_code, campaign_id, user_id,
                                  quantity, source, source_id, status, distributor, payload, stock_slots,
                                  delivery_status, created_at, updated_at)
        select i.tenant_id, i.grant_id, i.reward_id, i.reward_type, i.product_code, i.campaign_id, i.user_id,
               i.quantity, i.source, i.source_id, 'PENDING', i.distributor, '{}'::jsonb, '[]'::jsonb,
               'PENDING', i.now, i.now
        from unnest(p_items) i
        where i.ord = any (v_round) and i.source is not null
        order by i.tenant_id, i.source, i.source_id, i.reward_id  -- every set claims in one order
        on conflict (tenant_id, source, source_id, reward_id) where source is not null do nothing
        returning grant_id)
      select coalesce(array_agg(i.ord), '{}') into v_claimed
      from unnest(p_items) i join claimed c on c.grant_id = i.grant_id
      where i.ord = any (v_round);
      for v_item in
        select i.ord, to_jsonb(g) as j
        from unnest(p_items) i
        join reward_grant g on g.tenant_id = i.tenant_id and g.source = i.source and g.source_id = i.source_id
                           and g.reward_id = i.reward_id and g.source is not null
        where i.ord = any (v_round) and i.source is not null and not i.ord = any (v_claimed)
      loop
        v_out[v_item.ord] := jsonb_build_object('outcome', 'replayed', 'grant', v_item.j);
      end loop;
      v_pass := array(select t from unnest(v_round) t where v_out[t] is null);
    else
      v_pass := v_round;
    end if;

    -- per_user_limit_reached: the period's counter moves only while it stays within the limit.
    v_counted := '{}';
    if v_limited then
      with counted as (
        insert into reward_user_counter as c (tenant_id, reward_id, user_id, period_key, granted, last_granted_at)
        select i.tenant_id, i.reward_id, i.user_id, i.period_key, i.quantity, i.now
        from unnest(p_items) i
        where i.ord = any (v_pass) and i.per_user_limit is not null
        order by i.tenant_id, i.user_id, i.reward_id
        on conflict (tenant_id, reward_id, user_id, period_key) do update
          set granted = c.granted + excluded.granted, last_granted_at = excluded.last_granted_at
          where c.granted + excluded.granted <= (
            select i.per_user_limit from unnest(p_items) i
            where i.ord = any (v_pass) and i.per_user_limit is not null and i.tenant_id = excluded.tenant_id
              and i.reward_id = excluded.reward_id and i.user_id = excluded.user_id)
        returning c.tenant_id, c.reward_id, c.user_id)
      select coalesce(array_agg(i.ord) filter (where c.user_id is not null), '{}'), count(*) into v_counted, v_asked
      from unnest(p_items) i
      left join counted c on c.tenant_id = i.tenant_id and c.reward_id = i.reward_id and c.user_id = i.user_id
      where i.ord = any (v_pass) and i.per_user_limit is not null;
    end if;
    if v_limited and cardinality(v_counted) < v_asked then
      for v_item in
        select i.ord, i.per_user_limit from unnest(p_items) i
        where i.ord = any (v_pass) and i.per_user_limit is not null and not i.ord = any (v_counted)
      loop
        v_out[v_item.ord] := jsonb_build_object('outcome', 'refused', 'code', 'per_user_limit_reached',
                                                'details', jsonb_build_object('per_user_limit', v_item.per_user_limit));
      end loop;
      v_pass := array(select t from unnest(v_pass) t where v_out[t] is null);
    end if;

    -- inventory_exhausted / busy: the stock, per reward (see the header).
    v_refused := false;
    for v_group in
      select i.tenant_id, i.reward_id, sum(i.quantity)::bigint as quantity, count(*) as n
      from unnest(p_items) i
      where i.ord = any (v_pass)
      group by i.tenant_id, i.reward_id
      order by i.tenant_id, i.reward_id
    loop
      v_key := v_group.tenant_id || ':' || v_group.reward_id;
      v_stock := null;
      if v_group.n > 1 then
        v_stock := mh_take_stock(v_group.tenant_id, v_group.reward_id, v_group.quantity, 'used',
                                 (v_held->>v_key)::smallint, true);
      end if;
      if v_stock ? 'takes' then
        v_slot := (v_stock->'takes'->0->>'slot')::smallint;
        for v_item in
          select i.ord, i.quantity from unnest(p_items) i
          where i.ord = any (v_pass) and i.tenant_id = v_group.tenant_id and i.reward_id = v_group.reward_id
        loop
          v_takes[v_item.ord] := jsonb_build_array(jsonb_build_object('slot', v_slot, 'quantity', v_item.quantity));
        end loop;
        v_held := v_held || jsonb_build_object(v_key, coalesce((v_held->>v_key)::smallint, v_slot));
        continue;
      end if;
      for v_item in
        select i.ord, i.quantity, i.prefer_slot, coalesce(i.nowait, false) as nowait from unnest(p_items) i
        where i.ord = any (v_pass) and i.tenant_id = v_group.tenant_id and i.reward_id = v_group.reward_id
        order by i.ord
      loop
        v_stock := mh_take_stock(v_group.tenant_id, v_group.reward_id, v_item.quantity, 'used',
                                 coalesce((v_held->>v_key)::smallint, v_item.prefer_slot), v_item.nowait);
        if v_stock ? 'busy' then
          v_out[v_item.ord] := '{"outcome": "busy"}'::jsonb;
          v_refused := true;
        elsif v_stock ? 'free' then
          v_refused := true;
          v_out[v_item.ord] := jsonb_build_object('outcome', 'refused', 'code', 'inventory_exhausted',
                                                  'details', jsonb_build_object('available', v_stock->'free'));
        else
          v_takes[v_item.ord] := v_stock->'takes';
          if not v_held ? v_key then
            v_held := v_held || jsonb_build_object(v_key, v_stock->'takes'->0->'slot');
          end if;
        end if;
      end loop;
    end loop;
    if v_refused then
      v_pass := array(select t from unnest(v_pass) t where v_out[t] is null);
    end if;

    -- min_interval_not_elapsed, after the stock: the stamp cannot be undone exactly (it
    -- overwrites the last grant time), so nothing may be refused after it. A refusal here gives
    -- its stock back.
    if v_spaced then
      with stamped as (
        insert into reward_user_counter as c (tenant_id, reward_id, user_id, period_key, granted, last_granted_at)
        select i.tenant_id, i.reward_id, i.user_id, 'LAST', 1, i.now
        from unnest(p_items) i
        where i.ord = any (v_pass) and i.min_interval_ms is not null
        order by i.tenant_id, i.user_id, i.reward_id
        on conflict (tenant_id, reward_id, user_id, period_key) do update
          set granted = c.granted + 1, last_granted_at = excluded.last_granted_at
          where c.last_granted_at <= excluded.last_granted_at - make_interval(secs => (
            select i.min_interval_ms from unnest(p_items) i
            where i.ord = any (v_pass) and i.min_interval_ms is not null and i.tenant_id = excluded.tenant_id
              and i.reward_id = excluded.reward_id and i.user_id = excluded.user_id)::double precision / 1000)
        returning c.tenant_id, c.reward_id, c.user_id)
      select coalesce(array_agg(i.ord) filter (where s.user_id is not null), '{}'), count(*) into v_done, v_asked
      from unnest(p_items) i
      left join stamped s on s.tenant_id = i.tenant_id and s.reward_id = i.reward_id and s.user_id = i.user_id
      where i.ord = any (v_pass) and i.min_interval_ms is not null;
    end if;
    if v_spaced and cardinality(v_done) < v_asked then
      for v_item in
        select i.ord, ceil(extract(epoch from c.last_granted_at - i.now) + i.min_interval_ms / 1000.0)::bigint as wait
        from unnest(p_items) i
        join reward_user_counter c on c.tenant_id = i.tenant_id and c.reward_id = i.reward_id
                                  and c.user_id = i.user_id and c.period_key = 'LAST'
        where i.ord = any (v_pass) and i.min_interval_ms is not null and not i.ord = any (v_done)
      loop
        v_out[v_item.ord] := jsonb_build_object('outcome', 'refused', 'code', 'min_interval_not_elapsed',
                                                'details', jsonb_build_object('retry_after_seconds', greatest(v_item.wait, 1)));
      end loop;
      -- Their stock goes back through the inventory module (inventory/sql/mh_return_stock.sql).
      perform mh_return_stock(coalesce((
        select jsonb_agg(k || jsonb_build_object('tenant_id', i.tenant_id, 'reward_id', i.reward_id))
        from unnest(p_items) i, jsonb_array_elements(v_takes[i.ord]) k
        where i.ord = any (v_pass) and v_out[i.ord] is not null), '[]'::jsonb), 'used');
      v_pass := array(select t from unnest(v_pass) t where v_out[t] is null);
    end if;

    -- Undo what the refused (or busy) items of this round wrote before they were refused.
    if cardinality(v_counted) > 0 then
      update reward_user_counter c set granted = c.granted - i.quantity
      from unnest(p_items) i
      where i.ord = any (v_counted) and v_out[i.ord] is not null
        and c.tenant_id = i.tenant_id and c.reward_id = i.reward_id and c.user_id = i.user_id and c.period_key = i.period_key;
    end if;
    if cardinality(v_claimed) > 0 then
      delete from reward_grant g
      using unnest(p_items) i
      where i.ord = any (v_claimed) and v_out[i.ord] is not null
        and g.tenant_id = i.tenant_id and g.grant_id = i.grant_id;
    end if;
    if cardinality(v_pass) = 0 then
      continue;
    end if;

    -- Granted: the ledger credit (the ledger module's one credit path), the delivery job, and the
    -- grant row (a claimed one completed, the others inserted), each one statement for the round.
    if v_credited then
      perform mh_ledger_credit_set(array(
        select row(i.ord, i.tenant_id, i.user_id, i.credit->>'asset', (i.credit->>'amount')::bigint,
                   i.credit->>'entry_id', 'GRANT', i.credit->>'cause_type', i.grant_id, i.credit->>'memo',
                   i.now)::mh_ledger_credit_item
        from unnest(p_items) i
        where i.ord = any (v_pass) and i.credit is not null
        order by i.ord));
    end if;
    for v_item in
      with ok as (
        select i.*, v_takes[i.ord] as takes from unnest(p_items) i where i.ord = any (v_pass)
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
      -- (jobs is not read: a data-modifying CTE runs to completion all the same.)
      select ok.ord, g.j
      from ok
      join (select * from completed union all select * from inserted) g on g.grant_id = ok.grant_id
    loop
      v_out[v_item.ord] := jsonb_build_object('outcome', 'granted', 'grant', v_item.j);
    end loop;
  end loop;

  return query select i.ord, v_out[i.ord] from unnest(p_items) i order by i.ord;
end $$;
