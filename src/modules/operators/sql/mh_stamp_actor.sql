-- Stamps the console operator who writes a row of a console-editable table (campaign, reward,
-- app, ... : the tables 0059_actor_stamps.sql gives created_by / updated_by and this trigger).
-- The operator is the transaction-local setting `mh.actor`, which the HTTP unit of work sets
-- (`set_config('mh.actor', <operator id>, true)`) only when a console session makes the change;
-- the triggers fire only while it is set (their WHEN clause), so a write by an API key, the
-- master key or a job neither calls this function nor changes either column.
--   insert: created_by and updated_by = the operator;
--   update: updated_by = the operator, created_by kept as it was.
--
-- This file is the function's one current definition: the migration runner (src/db/migrate.ts)
-- applies it again whenever it changes. Edit it here, never in a migration.
create or replace function mh_stamp_actor()
returns trigger
language plpgsql as $$
declare
  v_actor text := nullif(current_setting('mh.actor', true), '');
begin
  if v_actor is null then
    return new;
  end if;
  if tg_op = 'INSERT' then
    new.created_by := v_actor;
  else
    new.created_by := old.created_by;
  end if;
  new.updated_by := v_actor;
  return new;
end $$;
