-- THE redemption write: a set of redemptions the application decided, applied atomically, each
-- settled completely: the code checked under its row lock and used, its reward granted through
-- the grants module's grant function (mh_grant_set), the redemption recorded. One redemption is
-- this function over one item; the redemption group commit (redemption.statement.ts) sends up to
-- its batch size. Items are answered in order, each as it would be alone:
--   {"outcome": "refused", "code": <code refusal>, "details": {"stage": "code"}}   nothing written
--   what the grant function answers (refused, stale, busy), with the code's use undone exactly
--   {"outcome": "granted", "grant": {...}, "redemption": {...}, "code_state": {uses, status}}
--
-- Each item is the grant function's parameter (decided by the grants service) plus "redeem":
-- {batch_id, seq, max_uses, expires_at?, redemption_id, code, campaign_id, product_code,
-- client_ip, device_id?, expect_batch?, no_grant?}. An item with no_grant (a batch whose reward
-- rules decide the grants: the application makes them in the same transaction, after this
-- statement) uses the code and records the redemption without reward_id or grant_id; its answer
-- is {"outcome": "granted", "grant": null, ...}. The code is refused in ONE order, the order of every other check of
-- a code (redemption.service.ts on the read, redemption.fast-path.ts and the Redis probe):
--   code_changed               (expect_batch only) the code or its batch is not what the Redis
--                              mirror said: the application reads the code and tries again
--   code_not_found             no such code
--   code_voided                the code or its batch is voided
--   code_expired               its batch's expiry (as read with the code) has passed
--   code_not_assigned_to_user  assigned to another user
--   product_not_applicable     its batch is limited to other products
--   code_already_redeemed      no use left, or this user redeemed this multi-use code already
--
-- With several items nothing waits for a code another transaction holds ("busy": the caller runs
-- that item on its own), and the grant function takes stock without waiting, so with the items
-- sorted by user, users' rows (ledger accounts) are the only rows a set waits for, and every set
-- locks them in the same order. A later item of a code already in the set runs in the next round
-- and sees the earlier one's result (usually there is one round).
--
-- The items' fields this function reads are parsed from the JSON once, into arrays by ord.
-- Measured against the former set function, which wrote grant rows, ledger entries and jobs
-- itself: sets of 16 took about 45% longer in PostgreSQL (14.5 against 9.9 ms, alternated in one
-- database), mostly in the grant function claiming each grant row and then completing it; over
-- HTTP (bench/redeem.ts) redemptions per second did not change, the API process being the limit.
--
-- This file is the function's one current definition: the migration runner (src/db/migrate.ts)
-- applies it again whenever it changes. Edit it here, never in a migration.
create or replace function mh_redeem_batch(p jsonb)
returns setof jsonb
language plpgsql as $$
declare
  v_n integer := jsonb_array_length(p);
  v_nowait boolean := jsonb_array_length(p) > 1;
  -- The items' fields the code part reads, parsed from the JSON once (by ord).
  v_tenant text[];
  v_user text[];
  v_now timestamptz[];
  v_batch text[];
  v_seq integer[];
  v_max integer[];
  v_expires timestamptz[];
  v_product text[];
  v_expect boolean[];
  v_nogrant boolean[];
  v_out jsonb[];
  -- The code as each item found it under the lock, to undo its use exactly.
  v_uses integer[];
  v_status text[];
  v_last timestamptz[];
  v_todo integer[];
  v_round integer[];
  v_locked integer[];
  v_pass integer[];
  v_made integer[];
  v_item record;
  v_answer jsonb;
begin
  select array_agg(i->>'tenant_id' order by e.ord), array_agg(i->>'user_id' order by e.ord),
         array_agg((i->>'now')::timestamptz order by e.ord), array_agg(r.batch_id order by e.ord),
         array_agg(r.seq order by e.ord), array_agg(r.max_uses order by e.ord), array_agg(r.expires_at order by e.ord),
         array_agg(r.product_code order by e.ord), array_agg(coalesce(r.expect_batch, false) order by e.ord),
         array_agg(coalesce(r.no_grant, false) order by e.ord)
    into v_tenant, v_user, v_now, v_batch, v_seq, v_max, v_expires, v_product, v_expect, v_nogrant
  from jsonb_array_elements(p) with ordinality as e(i, ord),
       jsonb_to_record(i->'redeem') as r(batch_id text, seq integer, max_uses integer, expires_at timestamptz,
                                         product_code text, expect_batch boolean, no_grant boolean);
  v_out := array_fill(null::jsonb, array[v_n]);
  v_uses := array_fill(null::integer, array[v_n]);
  v_status := array_fill(null::text, array[v_n]);
  v_last := array_fill(null::timestamptz, array[v_n]);

  -- code_changed: a redemption whose code and batch the application took from the Redis mirror
  -- instead of reading them is checked against them: the code at that key is the code typed, and
  -- its batch still grants that reward, on those terms, to this product.
  if true = any (v_expect) then
    for v_item in
      select e.ord::integer as ord from jsonb_array_elements(p) with ordinality as e(i, ord)
      where v_expect[e.ord]
        and not exists (
          select from redeem_code c
          join redeem_code_batch b on b.tenant_id = c.tenant_id and b.batch_id = c.batch_id
          where c.tenant_id = v_tenant[e.ord] and c.batch_id = v_batch[e.ord] and c.seq = v_seq[e.ord]
            and c.code = i->'redeem'->>'code'
            and b.status <> 'VOIDED' and b.reward_id = i->>'reward_id' and b.campaign_id = i->'redeem'->>'campaign_id'
            and b.max_uses = v_max[e.ord] and b.expires_at is not distinct from v_expires[e.ord]
            and (b.applicable_products is null or v_product[e.ord] = any (b.applicable_products)))
    loop
      v_out[v_item.ord] := '{"outcome": "refused", "code": "code_changed", "details": {"stage": "code"}}'::jsonb;
    end loop;
  end if;
  v_todo := array(select t from generate_series(1, v_n) t where v_out[t] is null);

  while cardinality(v_todo) > 0 loop
    -- A round: the first remaining item of each code.
    if cardinality(v_todo) = 1 then
      v_round := v_todo;
    else
      select coalesce(array_agg(x.t), '{}') into v_round
      from (select distinct on (v_tenant[t], v_batch[t], v_seq[t]) t
            from unnest(v_todo) t
            order by v_tenant[t], v_batch[t], v_seq[t], t) x;
    end if;
    v_todo := array(select t from unnest(v_todo) t where not t = any (v_round));

    -- The codes, locked in key order. With several items a code another transaction holds is
    -- not waited for.
    if v_nowait then
      select coalesce(array_agg(l.t), '{}') into v_locked
      from (select t from unnest(v_round) t
            join redeem_code c on c.tenant_id = v_tenant[t] and c.batch_id = v_batch[t] and c.seq = v_seq[t]
            order by c.tenant_id, c.batch_id, c.seq
            for update of c skip locked) l;
    else
      perform from unnest(v_round) t
      join redeem_code c on c.tenant_id = v_tenant[t] and c.batch_id = v_batch[t] and c.seq = v_seq[t]
      order by c.tenant_id, c.batch_id, c.seq
      for update of c;
      v_locked := v_round;
    end if;

    -- Checked as they are now (this statement's snapshot is newer than the locks, so it sees
    -- whatever their previous holders committed), in the order above.
    v_pass := '{}';
    for v_item in
      select t as ord, c.status, c.uses, c.last_redeemed_at, case
        when c.seq is null then 'code_not_found'
        when not t = any (v_locked) then 'busy'
        when c.status = 'VOIDED' or b.status = 'VOIDED' then 'code_voided'
        when v_expires[t] is not null and v_expires[t] <= v_now[t] then 'code_expired'
        when c.assigned_user_id is not null and c.assigned_user_id <> v_user[t] then 'code_not_assigned_to_user'
        when b.applicable_products is not null
             and (v_product[t] is null or not v_product[t] = any (b.applicable_products)) then 'product_not_applicable'
        when c.status <> 'ACTIVE' or c.uses >= v_max[t] then 'code_already_redeemed'
        when v_max[t] > 1 and exists (select from redeem_code_redemption d
                                      where d.tenant_id = v_tenant[t] and d.batch_id = v_batch[t]
                                        and d.seq = v_seq[t] and d.user_id = v_user[t]) then 'code_already_redeemed'
        end as refusal
      from unnest(v_round) t
      left join redeem_code c on c.tenant_id = v_tenant[t] and c.batch_id = v_batch[t] and c.seq = v_seq[t]
      left join redeem_code_batch b on b.tenant_id = c.tenant_id and b.batch_id = c.batch_id
    loop
      if v_item.refusal = 'busy' then
        v_out[v_item.ord] := '{"outcome": "busy"}'::jsonb;
      elsif v_item.refusal is not null then
        v_out[v_item.ord] := jsonb_build_object('outcome', 'refused', 'code', v_item.refusal, 'details', '{"stage": "code"}'::jsonb);
      else
        v_pass := v_pass || v_item.ord;
        v_uses[v_item.ord] := v_item.uses;
        v_status[v_item.ord] := v_item.status;
        v_last[v_item.ord] := v_item.last_redeemed_at;
      end if;
    end loop;
    if cardinality(v_pass) = 0 then
      continue;
    end if;

    -- Use the codes, then grant their rewards: the grants module's one grant function, over the
    -- round's items at once.
    update redeem_code c
    set uses = c.uses + 1,
        status = case when c.uses + 1 >= v_max[t] then 'REDEEMED' else c.status end,
        last_redeemed_at = v_now[t]
    from unnest(v_pass) t
    where c.tenant_id = v_tenant[t] and c.batch_id = v_batch[t] and c.seq = v_seq[t];

    -- Items without a grant of their own (reward rules) are settled here; the others are granted.
    for v_item in select t as ord from unnest(v_pass) t where v_nogrant[t] loop
      v_out[v_item.ord] := '{"outcome": "granted", "grant": null}'::jsonb;
    end loop;
    if exists (select from unnest(v_pass) t where not v_nogrant[t]) then
      for v_item in
        select s.ord, s.outcome
        from mh_grant_set(array(
          select jsonb_populate_record(null::mh_grant_item,
                                       ((p->(t - 1)) - 'redeem') || jsonb_build_object('ord', t, 'nowait', v_nowait))
          from unnest(v_pass) t
          where not v_nogrant[t]
          order by t)) s
      loop
        v_out[v_item.ord] := case
          -- This code already granted this reward for this user (a multi-use code, once per user).
          when v_item.outcome->>'outcome' = 'replayed'
            then '{"outcome": "refused", "code": "code_already_redeemed", "details": {"stage": "code"}}'::jsonb
          else v_item.outcome end;
      end loop;
    end if;
    v_made := array(select t from unnest(v_pass) t where v_out[t]->>'outcome' = 'granted');

    -- A use whose grant was not made is undone exactly (the row is still locked by this transaction).
    if cardinality(v_made) < cardinality(v_pass) then
      update redeem_code c
      set uses = v_uses[t], status = v_status[t], last_redeemed_at = v_last[t]
      from unnest(v_pass) t
      where not t = any (v_made)
        and c.tenant_id = v_tenant[t] and c.batch_id = v_batch[t] and c.seq = v_seq[t];
    end if;
    if cardinality(v_made) = 0 then
      continue;
    end if;

    -- The redemptions made, one row per (code, user): the grant's cause (the code, or the code and
    -- user) already answered a second redemption by the same user above, so a conflict here is a
    -- bug: it raises, and the whole statement rolls back.
    for v_item in
      with made as (
        insert into redeem_code_redemption as d (tenant_id, batch_id, seq, user_id, redemption_id, code, campaign_id,
                                                 reward_id, grant_id, product_code, client_ip, device_id, created_at)
        select v_tenant[t], v_batch[t], v_seq[t], v_user[t], r.redemption_id, r.code, r.campaign_id,
               case when v_nogrant[t] then null else p->(t - 1)->>'reward_id' end,
               case when v_nogrant[t] then null else p->(t - 1)->>'grant_id' end,
               v_product[t], r.client_ip, r.device_id, v_now[t]
        from unnest(v_made) t,
             jsonb_to_record(p->(t - 1)->'redeem') as r(redemption_id text, code text, campaign_id text, client_ip text, device_id text)
        order by t
        returning d.redemption_id, to_jsonb(d) as j)
      select t as ord, m.j
      from unnest(v_made) t
      join made m on m.redemption_id = p->(t - 1)->'redeem'->>'redemption_id'
    loop
      v_out[v_item.ord] := v_out[v_item.ord] || jsonb_build_object(
        'redemption', v_item.j,
        'code_state', jsonb_build_object('uses', v_uses[v_item.ord] + 1,
                                         'status', case when v_uses[v_item.ord] + 1 >= v_max[v_item.ord] then 'REDEEMED'
                                                        else v_status[v_item.ord] end));
    end loop;
  end loop;

  foreach v_answer in array v_out loop
    return next v_answer;
  end loop;
end $$;
