-- Who made and who last changed a row of the console-editable tables: created_by / updated_by
-- hold the id of the console operator (operator.operator_id), stamped by one trigger function,
-- mh_stamp_actor (src/modules/operators/sql/mh_stamp_actor.sql), from the transaction-local
-- setting `mh.actor` that the HTTP unit of work sets for a console session. Writes by API keys,
-- the master key and jobs leave both columns as they are (null on insert): the audit log names
-- their key. Plain text, no foreign key: an operator may be deleted, its id stays.
-- outreach_template and outreach_campaign are not here: their module already writes both columns
-- (the calling key's id, which for a console session is its operator id).
--
-- The runner applies function files after the migrations, and CREATE TRIGGER needs its function
-- to exist: on a database that does not have mh_stamp_actor yet, this creates a stand-in that
-- does nothing, which the function file replaces right after this migration in the same run.
do $m$
begin
  if to_regproc('mh_stamp_actor') is null then
    create function mh_stamp_actor() returns trigger language plpgsql as $f$ begin return new; end $f$;
  end if;
end $m$;

do $m$
declare
  t text;
begin
  foreach t in array array[
    'campaign', 'reward', 'redeem_code_batch', 'task', 'audience', 'coupon_template', 'promotion', 'group_buy_activity', 'app', 'api_key'
  ] loop
    -- group_buy_activity already has created_by (the creating key's id, or the operator's: a
    -- session acts with its operator id as key id); it gains updated_by only.
    if t = 'group_buy_activity' then
      execute format('alter table %I add column updated_by text', t);
    else
      execute format('alter table %I add column created_by text, add column updated_by text', t);
    end if;
    -- The WHEN clause keeps every write without a console operator (API keys, the grant path,
    -- jobs) from calling the function at all.
    execute format(
      'create trigger %I before insert or update on %I for each row '
      'when (current_setting(''mh.actor'', true) <> '''') execute function mh_stamp_actor()',
      t || '_stamp_actor', t);
  end loop;
end $m$;

-- Console sign-in events in the audit log: sign-in, failed sign-in, lock-out and sign-out are
-- entries too (event set; method and route are those of /v1/console/session). A failed sign-in
-- of an unknown e-mail has no operator: actor_kind 'anonymous'. details: {email, ip, ...}.
alter table audit_log drop constraint audit_log_actor_kind_check;
alter table audit_log add constraint audit_log_actor_kind_check check (actor_kind in ('operator', 'api_key', 'master', 'anonymous'));
alter table audit_log add column event text;
alter table audit_log add column details jsonb;
create index audit_log_entity on audit_log (entity_id, at desc) where entity_id is not null;
