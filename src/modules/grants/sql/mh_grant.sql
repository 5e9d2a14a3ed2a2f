-- One grant in one round trip: the application decides (rules, generation, ids), the database
-- applies, atomically, so no row lock is held across network round trips. Checks that the reward
-- and campaign the application decided on are still the ones stored (version), answers an earlier
-- grant of the same cause, counts the per-user limit, takes the stock, checks the minimum
-- interval, moves the ledger account, enqueues the delivery job and writes the grant. `p` carries
-- what the application computed; see grant.statement.ts. Answers
--   {"outcome": "granted" | "replayed", "grant": {...}}
--   {"outcome": "refused", "code": ..., "details": {...}}   (nothing left written)
--   {"outcome": "stale"}   (nothing written: read the reward or campaign again and retry)
--   {"outcome": "busy"}    (nothing left written: p.nowait was set and every slot was held)
--
-- A refusal is an answer, not an error. A refusal that comes after some of the grant's writes
-- undoes them first (exactly: the rows are still locked by this transaction), so nothing of a
-- refused grant is ever left behind, and a batch of grants needs no subtransaction per grant
-- (which would cost more than the grant itself). The ledger entry is left to mh_grant_batch,
-- which writes a batch's entries with one INSERT.
--
-- The claimed grant row is updated (or, on a refusal, deleted) by its ctid, which this transaction
-- got from the INSERT and holds locked. By key, the plan PL/pgSQL cached for the statement could
-- be a generic one made while reward_grant was nearly empty, which picked reward_grant_reward on
-- tenant_id alone: every grant with a cause then walked all of its tenant's grants.
--
-- This file is the function's one current definition: the migration runner (src/db/migrate.ts)
-- applies it again whenever it changes. Edit it here, never in a migration.
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
