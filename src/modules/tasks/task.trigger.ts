/**
 * Triggering tasks with events (POST /v1/tasks/trigger and its batch form), in the caller's
 * transaction, by ONE path for one event or many (one event is a group of one): claim the event
 * ids (a repeat changes nothing), find the live tasks of their types, gate each by its campaign's
 * audience, move every task's progress with the set-based upserts of mh_task_progress
 * (task.batch.ts), and record each completion together with its reward grant. Everything a call
 * writes commits together or not at all.
 */
import { type Insertable, sql } from 'kysely';
import type { Counter, Histogram } from 'prom-client';
import { afterCommit, type Executor } from '../../db/client.js';
import { canSeeProduct, type TenantActor } from '../../platform/actor.js';
import { AppError } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import type { GrantService } from '../grants/index.js';
import { taskErrors } from './task.errors.js';
import * as repo from './task.repo.js';
import type { TaskOutcomeView, TriggerResultView } from './task.schemas.js';
import type { TaskCompletionLogTable } from './task.tables.js';
import { runBatch } from './task.batch.js';
import type { TriggerEvent } from './task.event.js';
import { type CampaignPickerDeps, createCampaignPicker } from './task.audience.js';

export type { AudienceCheck, MembershipMemo } from './task.audience.js';
export { normalizeEvent, type RawEvent, type TriggerEvent } from './task.event.js';

export interface TaskMetrics {
  created: Counter<'task_type'>;
  triggered: Counter<'form' | 'result'>;
  completed: Counter<'task_type'>;
  duration: Histogram<'form'>;
}

/** The grant source of a task's rewards: one grant per completion id. */
export const GRANT_SOURCE = 'task_completion';
/** Event types to tasks (a row per ACTIVE campaign link), as findActiveTasks answered. */
export type TaskIndex = Map<string, repo.ActiveTaskRow[][]>;

/** Groups the links of each task so a task progresses once per event whatever its campaigns. */
export function indexTasks(rows: repo.ActiveTaskRow[]): TaskIndex {
  const byTask = new Map<string, repo.ActiveTaskRow[]>();
  for (const row of rows) {
    const links = byTask.get(row.task_id);
    if (links) links.push(row);
    else byTask.set(row.task_id, [row]);
  }
  const index: TaskIndex = new Map();
  for (const links of byTask.values()) {
    const type = links[0]!.event_type;
    const list = index.get(type);
    if (list) list.push(links);
    else index.set(type, [links]);
  }
  return index;
}

function matchesFilters(filters: Record<string, unknown> | undefined, data: Record<string, unknown>): boolean {
  if (!filters) return true;
  for (const [field, wanted] of Object.entries(filters)) {
    const value = data[field];
    const allowed = Array.isArray(wanted) ? wanted : [wanted];
    if (!allowed.some((w) => w === value)) return false;
  }
  return true;
}

/** Completion rows to insert together at the end of a batch (instead of one insert each). */
export type CompletionSink = Insertable<TaskCompletionLogTable>[];

/** A task completed by an event: the `seq`-th completion in its period. */
export interface CompletionItem {
  event: TriggerEvent;
  task: repo.ActiveTaskRow;
  campaignId: string;
  period: string;
  seq: number;
}

export interface TriggerDeps extends CampaignPickerDeps {
  grants: GrantService;
  metrics: TaskMetrics;
}

export function createTrigger(deps: TriggerDeps) {
  const { grants, metrics } = deps;
  const pickCampaign = createCampaignPicker(deps);

  /** One step that completed a task: what its completion row and grant are made of. */
  type Completion = CompletionItem & { completionId: string };

  function grantInput(c: Completion) {
    return { reward_id: c.task.reward_id!, user_id: c.event.userId, quantity: c.task.reward_quantity, campaign_id: c.campaignId, source: GRANT_SOURCE, source_id: c.completionId };
  }

  /** The completion row (into `sink`) and answer, given how its grant went (null: the task has no reward). */
  function record(exec: Executor, tenant: TenantActor, c: Completion, now: Date, grant: { grantId: string } | AppError | null, sink: CompletionSink) {
    const grantId = grant && !(grant instanceof AppError) ? grant.grantId : null;
    const error = grant instanceof AppError ? { code: grant.code, message: grant.message } : null;
    const status = !c.task.reward_id ? 'NONE' : grantId ? 'GRANTED' : 'REFUSED';
    const row: Insertable<TaskCompletionLogTable> = {
      tenant_id: tenant.tenantId,
      completion_id: c.completionId,
      task_id: c.task.task_id,
      campaign_id: c.campaignId,
      product_code: c.task.product_code,
      user_id: c.event.userId,
      event_id: c.event.eventId,
      period_key: c.period,
      seq: c.seq,
      reward_id: c.task.reward_id,
      reward_quantity: c.task.reward_id ? c.task.reward_quantity : null,
      grant_id: grantId,
      grant_status: status,
      grant_error_code: error?.code ?? null,
      grant_error_message: error?.message ?? null,
      completed_at: now,
    };
    sink.push(row);
    // Counted once the completion is committed (a rolled-back or retried trigger counts nothing).
    afterCommit(exec, () => metrics.completed.inc({ task_type: c.task.task_type }));
    return { completion_id: c.completionId, seq: c.seq, grant_status: status, grant_id: grantId, grant_error: error };
  }

  /**
   * Completions of a call, in order: their grants in one statement (grantMany), their rows into
   * `sink`. A refused grant (sold out, per-user limit, ...) writes nothing of itself and leaves
   * the transaction usable: the completion still counts (the user did the task) and shows why no
   * reward came with it. The task, not the caller's key, decides the reward: a product-limited key
   * that may trigger this task's product gets the task's reward even if it is of another product.
   */
  async function completeMany(exec: Executor, tenant: TenantActor, items: CompletionItem[], now: Date, sink: CompletionSink) {
    const all: Completion[] = items.map((it) => ({ ...it, completionId: newId('tcl', now.getTime()) }));
    const rewarded = all.filter((c) => c.task.reward_id);
    const answers = await grants.grantMany({ ...tenant, productCodes: null }, rewarded.map(grantInput), exec);
    const byCompletion = new Map(rewarded.map((c, i) => [c, answers[i]!]));
    const out = [];
    for (const c of all) {
      const a = byCompletion.get(c);
      out.push(record(exec, tenant, c, now, a === undefined ? null : a instanceof AppError ? a : { grantId: a.grant.grant_id }, sink));
    }
    return out;
  }

  /** The tasks an event may move, for the caller's products. */
  function tasksFor(tenant: TenantActor, index: TaskIndex, event: TriggerEvent): repo.ActiveTaskRow[][] {
    return (index.get(event.eventType) ?? []).filter((links) => {
      const product = links[0]!.product_code;
      return (event.productCode === null || product === event.productCode) && canSeeProduct(tenant, product);
    });
  }

  /** The answer for an event id claimed before: the first answer, if it was the same event. */
  function replay(event: TriggerEvent, row: { user_id: string; event_type: string; results: unknown } | undefined): TriggerResultView {
    if (!row || row.user_id !== event.userId || row.event_type !== event.eventType) {
      throw taskErrors.eventIdReused(event.eventId);
    }
    const first = row.results as { tasks?: TaskOutcomeView[] } | null;
    return { event_id: event.eventId, duplicate: true, tasks: first?.tasks ?? [] };
  }

  /**
   * Events in `exec` (one transaction), set-based (task.batch.ts): the claims and the tasks of
   * every event type in one statement, the progress of every task in one statement, the grants in
   * one, the completion rows and the answers kept in one. Answers per event, in input order: its
   * result, or its refusal (a reused event id) as an AppError. The one path of every trigger: the
   * batch form, the group commit of single events and a single event alone (`form` labels the
   * metrics).
   */
  async function triggerGroup(exec: Executor, tenant: TenantActor, events: (TriggerEvent | AppError)[], now: Date, form: 'single' | 'batch' = 'batch'): Promise<(TriggerResultView | AppError)[]> {
    const started = performance.now();
    const valid = events.filter((e): e is TriggerEvent => !(e instanceof AppError));
    const { claimed, tasks: live } = await claimGroup(exec, tenant, valid, now);
    const duplicates = valid.filter((e) => !claimed.has(e.eventId) || claimed.get(e.eventId) !== e);
    const earlier = new Map(duplicates.length ? (await repo.findEvents(exec, tenant.tenantId, [...new Set(duplicates.map((e) => e.eventId))])).map((r) => [r.event_id, r]) : []);
    const index = indexTasks(live);
    // Events run grouped by user (stably, so one user's events keep their order): every batch
    // then takes progress-row locks in the same order, and two batches cannot deadlock on them.
    const runnable = events
      .map((e, i) => ({ e, i }))
      .filter((x): x is { e: TriggerEvent; i: number } => !(x.e instanceof AppError) && claimed.get(x.e.eventId) === x.e)
      .sort((a, b) => (a.e.userId < b.e.userId ? -1 : a.e.userId > b.e.userId ? 1 : a.i - b.i));
    const { answers, completions } = await runBatch(exec, tenant, runnable.map(({ e }) => ({ event: e, tasks: tasksFor(tenant, index, e) })), now, {
      pickCampaign,
      matchesFilters,
      completeMany,
    });
    const toSave: { eventId: string; results: string }[] = [];
    const results = events.map((event): TriggerResultView | AppError => {
      if (event instanceof AppError) return event;
      const tasks = answers.get(event);
      if (tasks) {
        if (!event.generatedId && tasks.length > 0) toSave.push({ eventId: event.eventId, results: JSON.stringify({ tasks }) });
        afterCommit(exec, () => metrics.triggered.inc({ form, result: 'processed' }));
        return { event_id: event.eventId, duplicate: false, tasks };
      }
      // A repeat of an event of this batch, or of one claimed before the batch.
      const sibling = claimed.get(event.eventId);
      const first = sibling ? { user_id: sibling.userId, event_type: sibling.eventType, results: { tasks: answers.get(sibling) ?? [] } } : earlier.get(event.eventId);
      try {
        const result = replay(event, first);
        afterCommit(exec, () => metrics.triggered.inc({ form, result: 'duplicate' }));
        return result;
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        return err;
      }
    });
    await saveCompletionsAndAnswers(exec, tenant.tenantId, completions, toSave);
    const seconds = (performance.now() - started) / 1000;
    // One observation per call: a batch, or a group of single events run together.
    afterCommit(exec, () => metrics.duration.observe({ form }, seconds));
    return results;
  }

  return {
    triggerGroup,

    /**
     * One event in `exec` (a transaction): the set form over a group of one, so one event and a
     * batch cannot answer differently. Its refusal (a reused event id) is thrown.
     */
    async triggerOne(exec: Executor, tenant: TenantActor, event: TriggerEvent, now: Date): Promise<TriggerResultView> {
      const [result] = await triggerGroup(exec, tenant, [event], now, 'single');
      if (result instanceof AppError) throw result;
      return result!;
    },

    /** The batch form's answer: per event, in input order, the result or the refusal. */
    async triggerMany(exec: Executor, tenant: TenantActor, events: (TriggerEvent | AppError)[], now: Date) {
      const results = await triggerGroup(exec, tenant, events, now, 'batch');
      return {
        results: results.map((r, index) =>
          r instanceof AppError ? { index, ok: false, result: null, error: { code: r.code, message: r.message } } : { index, ok: true, result: r, error: null },
        ),
      };
    },
  };
}

/**
 * Claims every event id of a batch and finds the live tasks of its event types, in ONE statement
 * (one event is a group of one); the first event with an id wins it. Answers the events
 * that won their claim, by id, and the task rows.
 */
async function claimGroup(exec: Executor, tenant: TenantActor, events: TriggerEvent[], now: Date): Promise<{ claimed: Map<string, TriggerEvent>; tasks: repo.ActiveTaskRow[] }> {
  const first = new Map<string, TriggerEvent>();
  for (const e of events) if (!first.has(e.eventId)) first.set(e.eventId, e);
  if (first.size === 0) return { claimed: new Map(), tasks: [] };
  const list = [...first.values()];
  const types = [...new Set(list.map((e) => e.eventType))];
  const rows = await repo.claimManyAndFind(
    exec,
    tenant.tenantId,
    {
      eventIds: list.map((e) => e.eventId),
      userIds: list.map((e) => e.userId),
      eventTypes: list.map((e) => e.eventType),
      productCodes: list.map((e) => e.productCode),
      occurredAt: list.map((e) => e.occurredAt.toISOString()),
    },
    types,
    now,
  );
  const claimed = new Map<string, TriggerEvent>();
  for (const id of rows.claimed) claimed.set(id, first.get(id)!);
  return { claimed, tasks: rows.tasks };
}

/** The completion rows and the events' kept answers, in one statement (two data-modifying parts). */
async function saveCompletionsAndAnswers(exec: Executor, tenantId: string, completions: CompletionSink, answers: { eventId: string; results: string }[]): Promise<void> {
  if (completions.length === 0 && answers.length === 0) return;
  const log = sql`insert into task_completion_log (${sql.raw(COMPLETION_COLUMNS.join(', '))})
                  select ${sql.raw(COMPLETION_COLUMNS.join(', '))} from jsonb_populate_recordset(null::task_completion_log, ${JSON.stringify(completions)}::jsonb)`;
  const keep = sql`update task_event e set results = v.results::jsonb
                     from unnest(${answers.map((s) => s.eventId)}::text[], ${answers.map((s) => s.results)}::text[]) as v(event_id, results)
                    where e.tenant_id = ${tenantId} and e.event_id = v.event_id`;
  if (answers.length === 0) await log.execute(exec);
  else if (completions.length === 0) await keep.execute(exec);
  else await sql`with log as (${log}) ${keep}`.execute(exec);
}

/**
 * Every column of task_completion_log, as the row type has them: a column added to the type and
 * not here fails to compile, so no completion is ever written without it.
 */
const COMPLETION_COLUMNS = Object.keys({
  tenant_id: true,
  completion_id: true,
  task_id: true,
  campaign_id: true,
  product_code: true,
  user_id: true,
  event_id: true,
  period_key: true,
  seq: true,
  reward_id: true,
  reward_quantity: true,
  grant_id: true,
  grant_status: true,
  grant_error_code: true,
  grant_error_message: true,
  completed_at: true,
} satisfies Record<keyof TaskCompletionLogTable, true>);
