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
-- client_ip, expect_batch?}. The code is refused in ONE order, the order of every other check of
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
-- Measured: the grant function over the set costs no more than the set writing the grant rows,
-- ledger entries and jobs itself did (docs/architecture.md, "The path of a redemption").
--
-- This file is the function's one current definition: the migration runner (src/db/migrate.ts)
-- applies it again whenever it changes. Edit it here, never in a migration.
create or replace function mh_redeem_batch(p jsonb)
returns setof jsonb
language plpgsql as $$
declare
  v_n integer := jsonb_array_length(p);
  v_nowait boolean := jsonb_array_length(p) > 1;
  v_out jsonb[];
  -- The code as each item found it under the lock, to undo its use exactly.
  v_uses integer[];
  v_status text[];
  v_last timestamptz[];
  v_todo integer[];
  v_round integer[];
  v_pass integer[];
  v_item record;
  v_answer jsonb;
begin
  v_out := array_fill(null::jsonb, array[v_n]);
  v_uses := array_fill(null::integer, array[v_n]);
  v_status := array_fill(null::text, array[v_n]);
  v_last := array_fill(null::timestamptz, array[v_n]);

  -- code_changed: a redemption whose code and batch the application took from the Redis mirror
  -- instead of reading them is checked against them: the code at that key is the code typed, and
  -- its batch still grants that reward, on those terms, to this product.
  for v_item in
    select e.ord::integer as ord from jsonb_array_elements(p) with ordinality as e(i, ord)
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
    v_out[v_item.ord] := '{"outcome": "refused", "code": "code_changed", "details": {"stage": "code"}}'::jsonb;
  end loop;
  v_todo := array(select t from generate_series(1, v_n) t where v_out[t] is null);

  while cardinality(v_todo) > 0 loop
    -- A round: the first remaining item of each code.
    select coalesce(array_agg(x.ord), '{}') into v_round
    from (select distinct on (i->>'tenant_id', i->'redeem'->>'batch_id', i->'redeem'->>'seq') e.ord::integer as ord
          from jsonb_array_elements(p) with ordinality as e(i, ord)
          where e.ord = any (v_todo)
          order by i->>'tenant_id', i->'redeem'->>'batch_id', i->'redeem'->>'seq', e.ord) x;
    v_todo := array(select t from unnest(v_todo) t where not t = any (v_round));

    -- The codes, locked (in key order), and checked as they are now, in the order above.
    v_pass := '{}';
    for v_item in
      with items as (
        select e.ord::integer as ord, i->>'tenant_id' as tenant_id, i->>'user_id' as user_id,
               (i->>'now')::timestamptz as now, r.batch_id, r.seq, r.product_code, r.expires_at
        from jsonb_array_elements(p) with ordinality as e(i, ord),
             jsonb_to_record(i->'redeem') as r(batch_id text, seq integer, product_code text, expires_at timestamptz)
        where e.ord = any (v_round)
      ),
      locked as (
        select it.ord, c.status, c.uses, c.last_redeemed_at, c.assigned_user_id
        from items it
        join redeem_code c on c.tenant_id = it.tenant_id and c.batch_id = it.batch_id and c.seq = it.seq
        where not v_nowait
        order by c.tenant_id, c.batch_id, c.seq
        for update of c
      ),
      locked_nowait as (
        select it.ord, c.status, c.uses, c.last_redeemed_at, c.assigned_user_id
        from items it
        join redeem_code c on c.tenant_id = it.tenant_id and c.batch_id = it.batch_id and c.seq = it.seq
        where v_nowait
        order by c.tenant_id, c.batch_id, c.seq
        for update of c skip locked
      ),
      found as (select * from locked union all select * from locked_nowait)
      select it.ord, f.status, f.uses, f.last_redeemed_at, case
        when f.ord is null and v_nowait and exists (select from redeem_code c
                                                    where c.tenant_id = it.tenant_id and c.batch_id = it.batch_id
                                                      and c.seq = it.seq) then 'busy'
        when f.ord is null then 'code_not_found'
        when f.status = 'VOIDED' or b.status = 'VOIDED' then 'code_voided'
        when it.expires_at is not null and it.expires_at <= it.now then 'code_expired'
        when f.assigned_user_id is not null and f.assigned_user_id <> it.user_id then 'code_not_assigned_to_user'
        when b.applicable_products is not null
             and (it.product_code is null or not it.product_code = any (b.applicable_products)) then 'product_not_applicable'
        when f.status <> 'ACTIVE' or f.uses >= b.max_uses then 'code_already_redeemed'
        when b.max_uses > 1 and exists (select from redeem_code_redemption d
                                        where d.tenant_id = it.tenant_id and d.batch_id = it.batch_id
                                          and d.seq = it.seq and d.user_id = it.user_id) then 'code_already_redeemed'
        end as refusal
      from items it
      left join found f on f.ord = it.ord
      left join redeem_code_batch b on b.tenant_id = it.tenant_id and b.batch_id = it.batch_id
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
        status = case when c.uses + 1 >= r.max_uses then 'REDEEMED' else c.status end,
        last_redeemed_at = (i->>'now')::timestamptz
    from jsonb_array_elements(p) with ordinality as e(i, ord),
         jsonb_to_record(i->'redeem') as r(batch_id text, seq integer, max_uses integer)
    where e.ord = any (v_pass)
      and c.tenant_id = i->>'tenant_id' and c.batch_id = r.batch_id and c.seq = r.seq;

    for v_item in
      select s.ord, s.outcome
      from mh_grant_set(array(
        select jsonb_populate_record(null::mh_grant_item,
                                     (i - 'redeem') || jsonb_build_object('ord', e.ord, 'nowait', v_nowait))
        from jsonb_array_elements(p) with ordinality as e(i, ord)
        where e.ord = any (v_pass)
        order by e.ord)) s
    loop
      v_out[v_item.ord] := case
        -- This code already granted this reward for this user (a multi-use code, once per user).
        when v_item.outcome->>'outcome' = 'replayed'
          then '{"outcome": "refused", "code": "code_already_redeemed", "details": {"stage": "code"}}'::jsonb
        else v_item.outcome end;
    end loop;

    -- A use whose grant was not made is undone exactly (the row is still locked by this transaction).
    update redeem_code c
    set uses = v_uses[e.ord], status = v_status[e.ord], last_redeemed_at = v_last[e.ord]
    from jsonb_array_elements(p) with ordinality as e(i, ord),
         jsonb_to_record(i->'redeem') as r(batch_id text, seq integer)
    where e.ord = any (v_pass) and v_out[e.ord]->>'outcome' <> 'granted'
      and c.tenant_id = i->>'tenant_id' and c.batch_id = r.batch_id and c.seq = r.seq;

    -- The redemptions made, one row per (code, user): the grant's cause (the code, or the code and
    -- user) already answered a second redemption by the same user above, so a conflict here is a
    -- bug: it raises, and the whole statement rolls back.
    for v_item in
      with made as (
        insert into redeem_code_redemption as d (tenant_id, batch_id, seq, user_id, redemption_id, code, campaign_id,
                                                 reward_id, grant_id, product_code, client_ip, created_at)
        select i->>'tenant_id', r.batch_id, r.seq, i->>'user_id', r.redemption_id, r.code, r.campaign_id,
               i->>'reward_id', i->>'grant_id', r.product_code, r.client_ip, (i->>'now')::timestamptz
        from jsonb_array_elements(p) with ordinality as e(i, ord),
             jsonb_to_record(i->'redeem') as r(batch_id text, seq integer, redemption_id text, code text,
                                               campaign_id text, product_code text, client_ip text)
        where e.ord = any (v_pass) and v_out[e.ord]->>'outcome' = 'granted'
        order by e.ord
        returning d.grant_id, to_jsonb(d) as j)
      select e.ord::integer as ord, m.j, (v_uses[e.ord] + 1) as uses,
             case when v_uses[e.ord] + 1 >= r.max_uses then 'REDEEMED' else v_status[e.ord] end as status
      from jsonb_array_elements(p) with ordinality as e(i, ord)
      cross join jsonb_to_record(i->'redeem') as r(max_uses integer)
      join made m on m.grant_id = i->>'grant_id'
    loop
      v_out[v_item.ord] := v_out[v_item.ord] || jsonb_build_object(
        'redemption', v_item.j, 'code_state', jsonb_build_object('uses', v_item.uses, 'status', v_item.status));
    end loop;
  end loop;

  foreach v_answer in array v_out loop
    return next v_answer;
  end loop;
end $$;
