-- One redemption in one statement, like a grant: use the code, grant its reward (mh_grant),
-- record the redemption. A redemption as separate round trips (begin, read, use, grant, insert,
-- commit) spent more CPU in the sockets than the database spent on the work. The application
-- reads the code and decides the grant; this function applies both, and mh_grant_batch runs
-- redemptions in the same group commits as grants.
--
-- p is mh_grant's parameter plus "redeem": {batch_id, seq, max_uses, expires_at?, redemption_id,
-- code, campaign_id, product_code, client_ip}. Answers what mh_grant answers, and with a granted
-- grant the redemption row ("redemption"). A refusal of the code itself is
-- {"outcome": "refused", "code": ..., "details": {"stage": "code"}} with nothing written.
--
-- This file is the function's one current definition: the migration runner (src/db/migrate.ts)
-- applies it again whenever it changes. Edit it here, never in a migration.
create or replace function mh_redeem(p jsonb)
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
