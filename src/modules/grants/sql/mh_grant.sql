-- One grant: mh_grant_set (the one grant path) run over one item, for callers that hold one grant
-- as JSON (mh_redeem grants a redemption's reward through it). `p` is the item as grant.statement.ts
-- sends it (plus the optional prefer_slot and nowait); the answer is mh_grant_set's outcome:
--   {"outcome": "granted" | "replayed", "grant": {...}}
--   {"outcome": "refused", "code": ..., "details": {...}}   (nothing left written)
--   {"outcome": "stale"} | {"outcome": "busy"}               (nothing left written)
--
-- This file is the function's one current definition: the migration runner (src/db/migrate.ts)
-- applies it again whenever it changes. Edit it here, never in a migration.
create or replace function mh_grant(p jsonb)
returns jsonb
language plpgsql as $$
declare
  v_out jsonb;
begin
  select s.outcome into v_out
  from mh_grant_set(array[jsonb_populate_record(null::mh_grant_item, p || '{"ord": 1}'::jsonb)]) s;
  return v_out;
end $$;
