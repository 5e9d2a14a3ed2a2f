-- A trigger's progress upserts (one event or many: every trigger goes through here) in ONE
-- function call with a fixed text, instead of one statement made of a data-modifying CTE per
-- task. That statement's text changed with the set of tasks a group moved, so PostgreSQL parsed
-- and planned it afresh for every group (measured over single-event groups: 0.97 ms of parsing
-- and 1.16 ms of planning against 0.76 ms of execution).
-- Here each task's upsert is a plain INSERT ... SELECT FROM unnest(...) ON CONFLICT, parsed once
-- per connection and kept with its plan (it has no join, so a generic plan cannot go wrong), run
-- once per task in the order given (task_id order: every trigger locks in that order, so two
-- cannot deadlock).
--
-- The keys of task i are elements (p_ends[i-1], p_ends[i]] of the key arrays (p_ends[0] = 0).
-- An additive task ('add': count, amount_sum, distinct) carries per key the batch's sum as
-- (rest, gain) with sum = rest + gain * target, as its first insert stores it; a streak task
-- ('streak': consecutive_days) carries per key the one local day it saw. p_caps[i] null: no cap.
-- Answers the keys that moved (a key whose period is used up, or whose day was already counted,
-- is not returned), with the state after the upsert.
--
-- This file is the function's one current definition: the migration runner (src/db/migrate.ts)
-- applies it again whenever it changes. Edit it here, never in a migration.
create or replace function mh_task_progress(
  p_tenant text, p_now timestamptz,
  p_tasks text[], p_kinds text[], p_targets bigint[], p_caps integer[], p_every_multiple boolean[], p_ends integer[],
  p_users text[], p_periods text[], p_rests bigint[], p_gains integer[], p_days date[])
returns table (r_task_id text, r_user_id text, r_period_key text, r_progress bigint, r_completions integer, r_last_gain integer)
language plpgsql as $$
declare
  v_from integer := 1;
  v_to integer;
  v_task text;
  v_target bigint;
  v_cap integer;
  v_first integer;
begin
  for i in 1 .. coalesce(cardinality(p_tasks), 0) loop
    v_task := p_tasks[i];
    v_target := p_targets[i];
    v_cap := coalesce(p_caps[i], 2147483647);
    v_to := p_ends[i];
    if p_kinds[i] = 'add' then
      return query
        with moved as (
          insert into task_progress as p (tenant_id, task_id, user_id, period_key, progress, completions, last_gain, updated_at)
          select p_tenant, v_task, v.user_id, v.period_key, v.rest, v.gain, v.gain, p_now
            from unnest(p_users[v_from:v_to], p_periods[v_from:v_to], p_rests[v_from:v_to], p_gains[v_from:v_to])
                 as v(user_id, period_key, rest, gain)
          on conflict (tenant_id, task_id, user_id, period_key) do update set
            progress = p.progress + (excluded.progress + excluded.completions::bigint * v_target)
                       - least((p.progress + excluded.progress + excluded.completions::bigint * v_target) / v_target, v_cap - p.completions) * v_target,
            completions = p.completions + least((p.progress + excluded.progress + excluded.completions::bigint * v_target) / v_target, v_cap - p.completions),
            last_gain = least((p.progress + excluded.progress + excluded.completions::bigint * v_target) / v_target, v_cap - p.completions),
            updated_at = excluded.updated_at
          where p.completions < v_cap
          returning p.user_id, p.period_key, p.progress, p.completions, p.last_gain)
        select v_task, m.user_id, m.period_key, m.progress, m.completions, m.last_gain from moved m;
    elsif p_kinds[i] = 'streak' then
      v_first := case when v_target = 1 then 1 else 0 end;
      return query
        with moved as (
          insert into task_progress as p (tenant_id, task_id, user_id, period_key, progress, completions, last_day, last_gain, updated_at)
          select p_tenant, v_task, v.user_id, v.period_key, 1, v_first, v.day, v_first, p_now
            from unnest(p_users[v_from:v_to], p_periods[v_from:v_to], p_days[v_from:v_to]) as v(user_id, period_key, day)
          on conflict (tenant_id, task_id, user_id, period_key) do update set
            progress = case when p.last_day = excluded.last_day - 1 then p.progress + 1 else 1 end,
            completions = p.completions + case when (case when p_every_multiple[i]
                                                          then (case when p.last_day = excluded.last_day - 1 then p.progress + 1 else 1 end) % v_target = 0
                                                          else (case when p.last_day = excluded.last_day - 1 then p.progress + 1 else 1 end) >= v_target end)
                                                    and p.completions < v_cap then 1 else 0 end,
            last_gain = case when (case when p_every_multiple[i]
                                        then (case when p.last_day = excluded.last_day - 1 then p.progress + 1 else 1 end) % v_target = 0
                                        else (case when p.last_day = excluded.last_day - 1 then p.progress + 1 else 1 end) >= v_target end)
                                  and p.completions < v_cap then 1 else 0 end,
            last_day = excluded.last_day,
            updated_at = excluded.updated_at
          where p.completions < v_cap and (p.last_day is null or p.last_day < excluded.last_day)
          returning p.user_id, p.period_key, p.progress, p.completions, p.last_gain)
        select v_task, m.user_id, m.period_key, m.progress, m.completions, m.last_gain from moved m;
    else
      raise exception 'mh_task_progress: kind must be add or streak, got %', p_kinds[i];
    end if;
    v_from := v_to + 1;
  end loop;
end $$;
