/**
 * The one progress path of a trigger (one event or many: one event is a batch of one), set-based,
 * inside the caller's transaction: given the claimed
 * events and their tasks (one statement, task.trigger.ts), the states before the batch come back
 * with one read, distinct values go in with one insert, every task's progress moves for ALL the
 * batch's users in ONE call (mh_task_progress: a conditional upsert per task, additive conditions
 * summed per user and period first, streak days per user and day), and the completions' grants go in one
 * grant statement (grantMany). The completion rows go back to the caller, which writes them with
 * the events' kept answers.
 */
import { sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { TenantActor } from '../../platform/actor.js';
import { capOf, conditionOf, type Condition, countOf, progressShown } from './task.rules.js';
import { localDay, periodKey } from './task.period.js';
import type * as repo from './task.repo.js';
import type { RepeatPolicy, TaskOutcomeView } from './task.schemas.js';
import type { MembershipMemo } from './task.audience.js';
import type { CompletionItem, CompletionSink, TriggerEvent } from './task.trigger.js';

/** One (event, task) pair that may move progress. */
interface Step {
  event: TriggerEvent;
  task: repo.ActiveTaskRow;
  condition: Condition;
  cap: number | null;
  key: repo.ProgressKey;
  keyStr: string;
  campaignId: string;
  outcome: TaskOutcomeView;
  delta: number;
  day: string;
  value: string;
  gain: number;
}

export interface BatchHelpers {
  pickCampaign(exec: Executor, links: repo.ActiveTaskRow[], userId: string, memo: MembershipMemo): Promise<{ campaignId: string | null; reason: string | null }>;
  matchesFilters(filters: Record<string, unknown> | undefined, data: Record<string, unknown>): boolean;
  completeMany(exec: Executor, tenant: TenantActor, items: CompletionItem[], now: Date, sink: CompletionSink): Promise<TaskOutcomeView['completed']>;
}

const keyOf = (k: repo.ProgressKey) => `${k.taskId}\u0000${k.userId}\u0000${k.periodKey}`;

/**
 * Runs claimed events (already in user order) against their tasks; answers per event, and the
 * completion rows for the caller to write (with the events' answers, in one statement).
 */
export async function runBatch(
  exec: Executor,
  tenant: TenantActor,
  events: { event: TriggerEvent; tasks: repo.ActiveTaskRow[][] }[],
  now: Date,
  h: BatchHelpers,
): Promise<{ answers: Map<TriggerEvent, TaskOutcomeView[]>; completions: CompletionSink }> {
  const answers = new Map<TriggerEvent, TaskOutcomeView[]>();
  const memo: MembershipMemo = new Map();
  const all: Step[] = [];
  const additive: Step[] = [];
  const distinct: Step[] = [];
  const streak: Step[] = [];
  const read: Read = (s, reason) => {
    s.outcome.progressed = false;
    s.outcome.reason = reason;
  };

  // 1. Decide per (event, task) what it contributes, in event order.
  for (const { event, tasks } of events) {
    const outcomes: TaskOutcomeView[] = [];
    answers.set(event, outcomes);
    for (const links of tasks) {
      const task = links[0]!;
      const condition = conditionOf(task);
      const repeat = task.repeat_policy as RepeatPolicy;
      const key = { tenantId: tenant.tenantId, taskId: task.task_id, userId: event.userId, periodKey: periodKey(repeat, event.occurredAt, task.time_zone) };
      const outcome: TaskOutcomeView = { task_id: task.task_id, campaign_id: null, progressed: true, reason: null, period_key: key.periodKey, progress: 0, target: condition.target, completions: 0, completed: [] };
      outcomes.push(outcome);
      const step: Step = { event, task, condition, cap: capOf(repeat, task.max_completions), key, keyStr: keyOf(key), campaignId: '', outcome, delta: 1, day: '', value: '', gain: 0 };
      all.push(step);
      if (!h.matchesFilters(condition.filters, event.data)) {
        read(step, 'filter_mismatch');
        continue;
      }
      const picked = await h.pickCampaign(exec, links, event.userId, memo);
      if (!picked.campaignId) {
        read(step, picked.reason!);
        continue;
      }
      step.campaignId = outcome.campaign_id = picked.campaignId;
      if (condition.type === 'consecutive_days') {
        step.day = localDay(event.occurredAt, task.time_zone);
        streak.push(step);
      } else if (condition.type === 'amount_sum') {
        const amount = event.data.amount;
        if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0) read(step, 'invalid_amount');
        else if (amount === 0) read(step, 'no_amount');
        else additive.push(Object.assign(step, { delta: amount }));
      } else if (condition.type === 'distinct') {
        const value = event.data[condition.field!];
        if (value === undefined || value === null || typeof value === 'object') read(step, 'missing_field');
        else distinct.push(Object.assign(step, { value: String(value) }));
      } else {
        // count: event_data.count when the event carries one, capped per event (task.rules.ts countOf).
        const delta = countOf(condition, event.data);
        if (delta === null) read(step, 'invalid_count');
        else additive.push(Object.assign(step, { delta }));
      }
    }
  }

  // The state of every key before this batch, in one read: an event that does not move a key
  // answers with the state at its place in the sequence, exactly as if the events ran one by one.
  // A lone event (each of its keys in one step) reads instead, after its upserts, only the keys
  // it did not move: their state is the one before it, and an event that moves every task it
  // touches saves the round trip (0.7 ms of a lone event's 6, measured). Its used-up periods
  // then go to the upsert, which refuses them as they would be refused here.
  const lone = events.length === 1;
  let before: States = lone ? new Map() : await readStates(exec, tenant.tenantId, all);

  // 2. Distinct values: one insert; a value counts for the first event that brought it.
  if (distinct.length) {
    const first = new Map<string, Step>();
    for (const s of distinct) {
      const k = `${s.keyStr}\u0000${s.value}`;
      if (first.has(k)) read(s, 'value_already_counted');
      else first.set(k, s);
    }
    const candidates = [...first.values()];
    const inserted = await sql<{ task_id: string; user_id: string; period_key: string; value: string }>`
      insert into task_progress_value (tenant_id, task_id, user_id, period_key, value)
      select ${tenant.tenantId}, * from unnest(${candidates.map((s) => s.task.task_id)}::text[], ${candidates.map((s) => s.event.userId)}::text[],
                                               ${candidates.map((s) => s.key.periodKey)}::text[], ${candidates.map((s) => s.value)}::text[])
      on conflict do nothing
      returning task_id, user_id, period_key, value`.execute(exec);
    const fresh = new Set(inserted.rows.map((r) => `${r.task_id}\u0000${r.user_id}\u0000${r.period_key}\u0000${r.value}`));
    for (const s of candidates) {
      if (fresh.has(`${s.keyStr}\u0000${s.value}`)) additive.push(s);
      else read(s, 'value_already_counted');
    }
  }

  // 3. Every task's progress in ONE call: one upsert per task over every (user, period) the
  //    batch moves, in task_id order (every trigger locks in that order, so two cannot
  //    deadlock). One round trip instead of one per task: under load most of a batch's time went
  //    to waiting between statements with its rows locked.
  const additiveByTask = groupBy(additive, (s) => s.task.task_id);
  const streakByTask = groupBy(streak, (s) => s.task.task_id);
  const plans = [...new Set([...additiveByTask.keys(), ...streakByTask.keys()])]
    .sort()
    .map((taskId) => (additiveByTask.has(taskId) ? planAdditive(additiveByTask.get(taskId)!, before, read) : planStreak(streakByTask.get(taskId)!, before, read)));
  if (plans.every((p) => p.severalDays.length === 0)) await runPlans(exec, tenant.tenantId, plans, now);
  else {
    // A streak key that saw several days in this batch (rare: a late event next to a current
    // one) goes day by day, in order, before its task's upsert (one mh_task_progress call per
    // day: a streak row holds only its last day): so task by task.
    for (const plan of plans) {
      for (const s of plan.severalDays) {
        const day = { userId: s.key.userId, periodKey: s.key.periodKey, rest: 0, gain: 0, day: s.day };
        const upsert: TaskUpsert = { kind: 'streak', target: s.condition.target, cap: s.cap, everyMultiple: s.task.repeat_policy === 'UNLIMITED', keys: [day] };
        const state = (await moveProgress(exec, tenant.tenantId, [{ taskId: s.task.task_id, upsert }], now)).get(s.keyStr);
        if (state) setMoved(s, state, s.cap);
        else read(s, 'day_already_counted');
      }
      await runPlans(exec, tenant.tenantId, [plan], now);
    }
  }

  if (lone) before = await readStates(exec, tenant.tenantId, all.filter((s) => s.outcome.reason !== null));

  // 4. Answers of the events that did not move: the state left by the last event before them.
  const current = new Map<string, { progress: number; completions: number }>();
  for (const s of all) {
    if (s.outcome.reason === null) {
      current.set(s.keyStr, { progress: s.outcome.progress, completions: s.outcome.completions });
      continue;
    }
    let state = current.get(s.keyStr);
    if (!state) {
      const row = before.get(s.keyStr);
      state = { progress: progressShown(s.condition, s.cap, row), completions: row?.completions ?? 0 };
    }
    s.outcome.progress = state.progress;
    s.outcome.completions = state.completions;
    if (s.outcome.reason === 'day_already_counted' && s.cap !== null && state.completions >= s.cap) s.outcome.reason = 'already_completed';
  }

  // 5. Completions in event order: their grants in one statement; their rows are the caller's to write.
  const sink: CompletionSink = [];
  const position = new Map(events.map((e, i) => [e.event, i]));
  const items: (CompletionItem & { step: Step })[] = [];
  for (const s of [...additive, ...streak].filter((x) => x.gain > 0).sort((a, b) => position.get(a.event)! - position.get(b.event)!)) {
    for (let i = 1; i <= s.gain; i++) {
      items.push({ step: s, event: s.event, task: s.task, campaignId: s.campaignId, period: s.key.periodKey, seq: s.outcome.completions - s.gain + i });
    }
  }
  if (items.length) {
    const done = await h.completeMany(exec, tenant, items, now, sink);
    items.forEach((item, i) => item.step.outcome.completed.push(done[i]!));
  }
  return { answers, completions: sink };
}

type Read = (s: Step, reason: string) => void;

async function readStates(exec: Executor, tenantId: string, steps: Step[]): Promise<States> {
  const keys = [...new Map(steps.map((s) => [s.keyStr, s.key])).values()];
  if (!keys.length) return new Map();
  // LATERAL: one primary-key look-up per key, whatever the statistics say. A plain join let the
  // planner, with statistics from when the table was small, hash the tenant's whole progress
  // table instead (12 ms for 32 keys at 27,000 rows, and growing with the table).
  const rows = await sql<{ task_id: string; user_id: string; period_key: string; progress: number; completions: number }>`
    select k.task_id, k.user_id, k.period_key, p.progress, p.completions
      from unnest(${keys.map((k) => k.taskId)}::text[], ${keys.map((k) => k.userId)}::text[], ${keys.map((k) => k.periodKey)}::text[]) as k(task_id, user_id, period_key)
      cross join lateral (select p.progress, p.completions from task_progress p
                           where p.tenant_id = ${tenantId} and p.task_id = k.task_id and p.user_id = k.user_id and p.period_key = k.period_key
                           limit 1) p`.execute(exec);
  return new Map(rows.rows.map((r) => [`${r.task_id}\u0000${r.user_id}\u0000${r.period_key}`, { progress: Number(r.progress), completions: r.completions }]));
}

/** What one task's upsert is made of, and how its returned rows answer the task's steps. */
interface Plan {
  taskId: string;
  /** The task's keys for mh_task_progress (none: no key needs an upsert). */
  upsert: TaskUpsert;
  apply: (states: Map<string, repo.ProgressState>) => void;
  /** Streak steps of keys that saw several days in this batch: run one by one before the upsert. */
  severalDays: Step[];
}

/** One task's part of the mh_task_progress call (sql/mh_task_progress.sql). */
interface TaskUpsert {
  kind: 'add' | 'streak';
  target: number;
  cap: number | null;
  everyMultiple: boolean;
  keys: { userId: string; periodKey: string; rest: number; gain: number; day: string | null }[];
}

type States = Map<string, { progress: number; completions: number }>;

/**
 * The keys whose period was already used up before the batch (completions at the cap, which never
 * go down): their upsert would change nothing, yet it would lock the row and wait for whoever holds
 * it. They are answered as refused without it (`reason`), as the upsert's refusal would be.
 */
function usedUp(steps: Step[], before: States, reason: string, read: Read): Map<string, Step[]> {
  const byKey = groupBy(steps, (s) => s.keyStr);
  const cap = steps[0]!.cap;
  if (cap === null) return byKey;
  for (const [keyStr, ks] of byKey) {
    if ((before.get(keyStr)?.completions ?? 0) < cap) continue;
    for (const s of ks) read(s, reason);
    byKey.delete(keyStr);
  }
  return byKey;
}

/** Additive conditions summed per (user, period): one upsert for the task. */
function planAdditive(steps: Step[], before: States, read: Read): Plan {
  const task = steps[0]!.task;
  const { target } = steps[0]!.condition;
  const cap = steps[0]!.cap;
  const byKey = usedUp(steps, before, 'already_completed', read);
  // The inserted row carries the batch's sum as (rest, gain): the sum is rest + gain * target.
  const keys = [...byKey.values()].map((ks) => {
    const total = ks.reduce((sum, s) => sum + s.delta, 0);
    const gain = Math.min(Math.floor(total / target), cap ?? Number.MAX_SAFE_INTEGER);
    return { userId: ks[0]!.key.userId, periodKey: ks[0]!.key.periodKey, rest: total - gain * target, gain, day: null };
  });
  return {
    taskId: task.task_id,
    severalDays: [],
    upsert: { kind: 'add', target, cap, everyMultiple: false, keys },
    apply(states) {
      for (const [keyStr, ks] of byKey) {
        const state = states.get(keyStr);
        if (state) attribute(ks, state, target, cap);
        else for (const s of ks) read(s, 'already_completed');
      }
    },
  };
}

/**
 * Streak days: one upsert for the (user, period) keys that saw one day in this batch; keys that
 * saw several days (rare: a late event next to a current one) go day by day (severalDays).
 */
function planStreak(steps: Step[], before: States, read: Read): Plan {
  const task = steps[0]!.task;
  const { target } = steps[0]!.condition;
  const cap = steps[0]!.cap;
  const everyMultiple = task.repeat_policy === 'UNLIMITED';
  const single: Step[][] = [];
  const severalDays: Step[] = [];
  // (Step 4 turns day_already_counted into already_completed for a used-up period.)
  for (const ks of usedUp(steps, before, 'day_already_counted', read).values()) {
    if (ks.every((s) => s.day === ks[0]!.day)) single.push(ks);
    else severalDays.push(...ks);
  }
  return {
    taskId: task.task_id,
    severalDays,
    upsert: { kind: 'streak', target, cap, everyMultiple, keys: single.map((ks) => ({ userId: ks[0]!.key.userId, periodKey: ks[0]!.key.periodKey, rest: 0, gain: 0, day: ks[0]!.day })) },
    apply(states) {
      for (const ks of single) {
        const state = states.get(ks[0]!.keyStr);
        if (state) setMoved(ks[0]!, state, cap);
        else read(ks[0]!, 'day_already_counted');
        for (const s of ks.slice(1)) read(s, 'day_already_counted');
      }
    },
  };
}

/** The plans' upserts in ONE call of mh_task_progress (moveProgress), then their answers. */
async function runPlans(exec: Executor, tenantId: string, plans: Plan[], now: Date): Promise<void> {
  const states = await moveProgress(exec, tenantId, plans, now);
  for (const p of plans) p.apply(states);
}

/**
 * Tasks' upserts in ONE call of mh_task_progress (sql/mh_task_progress.sql), task by task in the
 * order given; answers the state after it of every key that moved, by key. The call's text never
 * changes, so PostgreSQL parses and plans it once per connection (a statement built per set of
 * tasks was parsed and planned every time).
 */
async function moveProgress(exec: Executor, tenantId: string, tasks: { taskId: string; upsert: TaskUpsert }[], now: Date): Promise<Map<string, repo.ProgressState>> {
  const parts = tasks.filter((p) => p.upsert.keys.length > 0);
  const states = new Map<string, repo.ProgressState>();
  if (!parts.length) return states;
  const keys = parts.flatMap((p) => p.upsert.keys);
  let end = 0;
  const ends = parts.map((p) => (end += p.upsert.keys.length));
  const r = await sql<{ r_task_id: string; r_user_id: string; r_period_key: string; r_progress: number; r_completions: number; r_last_gain: number }>`
    select * from mh_task_progress(${tenantId}, ${now}::timestamptz,
      ${parts.map((p) => p.taskId)}::text[], ${parts.map((p) => p.upsert.kind)}::text[], ${parts.map((p) => p.upsert.target)}::bigint[],
      ${parts.map((p) => p.upsert.cap)}::int[], ${parts.map((p) => p.upsert.everyMultiple)}::boolean[], ${ends}::int[],
      ${keys.map((k) => k.userId)}::text[], ${keys.map((k) => k.periodKey)}::text[], ${keys.map((k) => k.rest)}::bigint[],
      ${keys.map((k) => k.gain)}::int[], ${keys.map((k) => k.day)}::date[])`.execute(exec);
  for (const row of r.rows) {
    states.set(`${row.r_task_id}\u0000${row.r_user_id}\u0000${row.r_period_key}`, { progress: Number(row.r_progress), completions: row.r_completions, last_gain: row.r_last_gain });
  }
  return states;
}

function setMoved(s: Step, state: repo.ProgressState, cap: number | null): void {
  s.gain = state.last_gain;
  s.outcome.completions = state.completions;
  s.outcome.progress = progressShown(s.condition, cap, state);
}

/**
 * Shares out what one aggregated upsert did among the events it summed: completions go to the
 * event whose amount crossed each multiple of the target, in event order, up to the gain the
 * database computed under the row lock.
 */
function attribute(steps: Step[], state: repo.ProgressState, target: number, cap: number | null): void {
  const total = steps.reduce((sum, s) => sum + s.delta, 0);
  const gain = state.last_gain;
  const before = Number(state.progress) + gain * target;
  const startCompletions = state.completions - gain;
  let running = before - total;
  let made = 0;
  for (const s of steps) {
    if (cap !== null && startCompletions + made >= cap) {
      // The cap was reached by an earlier event of the batch: alone, this event's upsert would
      // have been refused (already_completed). Step 4 fills in the state it saw.
      s.outcome.progressed = false;
      s.outcome.reason = 'already_completed';
      continue;
    }
    running += s.delta;
    const due = Math.min(Math.floor(running / target), gain);
    s.gain = due - made;
    made = due;
    s.outcome.completions = startCompletions + made;
    s.outcome.progress = progressShown(s.condition, cap, { progress: running - made * target, completions: startCompletions + made });
  }
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const list = out.get(key(item));
    if (list) list.push(item);
    else out.set(key(item), [item]);
  }
  return out;
}
