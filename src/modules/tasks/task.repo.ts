import { type Insertable, type Selectable, sql, type Updateable } from 'kysely';
import type { Executor } from '../../db/client.js';
import { isForeignKeyViolation, isUniqueViolation } from '../../db/errors.js';
import { taskErrors } from './task.errors.js';
import type { TaskCompletionLogTable, TaskTable } from './task.tables.js';

export type TaskRow = Selectable<TaskTable>;
export type CompletionRow = Selectable<TaskCompletionLogTable>;
export type TaskChanges = Omit<Updateable<TaskTable>, 'tenant_id' | 'task_id' | 'version'>;

export interface Visibility {
  tenantId: string;
  productCodes: readonly string[] | null;
}

const products = (v: Visibility) => (v.productCodes && v.productCodes.length ? v.productCodes : ['']);

export async function insertTask(db: Executor, row: Insertable<TaskTable>): Promise<TaskRow> {
  try {
    return await db.insertInto('task').values(row).returningAll().executeTakeFirstOrThrow();
  } catch (err) {
    if (isForeignKeyViolation(err)) throw taskErrors.unknownProductCode();
    throw err;
  }
}

export function findTask(db: Executor, v: Visibility, taskId: string, options: { forUpdate?: boolean } = {}) {
  let q = db.selectFrom('task').selectAll().where('tenant_id', '=', v.tenantId).where('task_id', '=', taskId).where('deleted_at', 'is', null);
  if (v.productCodes) q = q.where('product_code', 'in', products(v));
  if (options.forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function listTasks(db: Executor, v: Visibility, filter: { taskType?: string | undefined; eventType?: string | undefined; productCode?: string | undefined }, page: { limit: number; offset: number }) {
  let q = db.selectFrom('task').where('tenant_id', '=', v.tenantId).where('deleted_at', 'is', null);
  if (v.productCodes) q = q.where('product_code', 'in', products(v));
  if (filter.taskType) q = q.where('task_type', '=', filter.taskType);
  if (filter.eventType) q = q.where('event_type', '=', filter.eventType);
  if (filter.productCode) q = q.where('product_code', '=', filter.productCode);
  const [rows, total] = await Promise.all([
    q.selectAll().orderBy('created_at', 'desc').orderBy('task_id', 'desc').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

export function updateTask(db: Executor, tenantId: string, taskId: string, changes: TaskChanges) {
  return db
    .updateTable('task')
    .set((eb) => ({ ...changes, version: eb('version', '+', 1) }))
    .where('tenant_id', '=', tenantId)
    .where('task_id', '=', taskId)
    .where('deleted_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

export async function softDeleteTask(db: Executor, tenantId: string, taskId: string, now: Date) {
  await db.deleteFrom('campaign_task').where('tenant_id', '=', tenantId).where('task_id', '=', taskId).execute();
  return db.updateTable('task').set({ deleted_at: now, updated_at: now }).where('tenant_id', '=', tenantId).where('task_id', '=', taskId).where('deleted_at', 'is', null).returning('task_id').executeTakeFirst();
}

/** True once any user has progress on the task (its counting rules are then fixed). */
export async function hasProgress(db: Executor, tenantId: string, taskId: string): Promise<boolean> {
  const row = await db.selectFrom('task_progress').select('task_id').where('tenant_id', '=', tenantId).where('task_id', '=', taskId).limit(1).executeTakeFirst();
  return row !== undefined;
}

// ---- campaign links -------------------------------------------------------------------------

export async function hasLinks(db: Executor, tenantId: string, taskId: string): Promise<boolean> {
  const row = await db.selectFrom('campaign_task').select('task_id').where('tenant_id', '=', tenantId).where('task_id', '=', taskId).limit(1).executeTakeFirst();
  return row !== undefined;
}

export async function insertLink(db: Executor, row: { tenant_id: string; campaign_id: string; task_id: string; sort_order: number; created_at: Date }): Promise<boolean> {
  const r = await db.insertInto('campaign_task').values(row).onConflict((oc) => oc.doNothing()).returning('task_id').executeTakeFirst();
  return r !== undefined;
}

export async function deleteLink(db: Executor, tenantId: string, campaignId: string, taskId: string): Promise<boolean> {
  const r = await db.deleteFrom('campaign_task').where('tenant_id', '=', tenantId).where('campaign_id', '=', campaignId).where('task_id', '=', taskId).returning('task_id').executeTakeFirst();
  return r !== undefined;
}

export function listLinks(db: Executor, v: Visibility, campaignId: string) {
  let q = db
    .selectFrom('campaign_task as l')
    .innerJoin('task as t', (j) => j.onRef('t.tenant_id', '=', 'l.tenant_id').onRef('t.task_id', '=', 'l.task_id'))
    .selectAll('t')
    .select(['l.sort_order', 'l.created_at as linked_at'])
    .where('l.tenant_id', '=', v.tenantId)
    .where('l.campaign_id', '=', campaignId)
    .where('t.deleted_at', 'is', null);
  if (v.productCodes) q = q.where('t.product_code', 'in', products(v));
  return q.orderBy('l.sort_order').orderBy('l.task_id').execute();
}

// ---- trigger --------------------------------------------------------------------------------

/** A task that may progress now, with one ACTIVE campaign it is linked to (a row per link). */
export interface ActiveTaskRow extends TaskRow {
  campaign_id: string;
  audience_id: string | null;
  sort_order: number;
}

/**
 * Tasks of these event types that are live now and linked to an ACTIVE campaign. The campaign
 * condition is the SQL form of campaignStatus() === 'ACTIVE' (campaigns/campaign.status.ts),
 * read here in the same statement so a trigger costs one round trip to find its tasks.
 */
export async function findActiveTasks(db: Executor, tenantId: string, eventTypes: readonly string[] | null, now: Date): Promise<ActiveTaskRow[]> {
  const r = await sql<ActiveTaskRow>`${activeTasksQuery(tenantId, eventTypes, now)}`.execute(db);
  return r.rows;
}

function activeTasksQuery(tenantId: string, eventTypes: readonly string[] | null, now: Date) {
  return sql`
    select t.*, l.campaign_id, c.audience_id, l.sort_order
      from task t
      join campaign_task l on l.tenant_id = t.tenant_id and l.task_id = t.task_id
      join campaign c on c.tenant_id = l.tenant_id and c.campaign_id = l.campaign_id
     where t.tenant_id = ${tenantId}
       and (${eventTypes === null} or t.event_type = any(${(eventTypes ?? []) as string[]}::text[]))
       and t.deleted_at is null
       and (t.start_time is null or t.start_time <= ${now})
       and (t.end_time is null or t.end_time > ${now})
       and c.deleted_at is null
       and c.lifecycle_state = 'PUBLISHED'
       and (c.start_time is null or c.start_time <= ${now})
       and (c.end_time is null or c.end_time > ${now})
     order by t.task_id, l.sort_order, l.campaign_id`;
}

export interface EventClaim {
  tenant_id: string;
  event_id: string;
  user_id: string;
  event_type: string;
  product_code: string | null;
  occurred_at: Date;
  received_at: Date;
}

/**
 * Claims an event id and finds the event's live tasks in ONE round trip (the hot path of a
 * single trigger). `claimed` false: the id was claimed before, the event is a repeat.
 */
export async function claimAndFind(db: Executor, row: EventClaim, now: Date): Promise<{ claimed: boolean; tasks: ActiveTaskRow[] }> {
  const r = await sql<ActiveTaskRow & { claimed: number }>`
    with claim as (
      insert into task_event (tenant_id, event_id, user_id, event_type, product_code, occurred_at, received_at)
      values (${row.tenant_id}, ${row.event_id}, ${row.user_id}, ${row.event_type}, ${row.product_code}, ${row.occurred_at}, ${row.received_at})
      on conflict do nothing
      returning 1
    ), live as (${activeTasksQuery(row.tenant_id, [row.event_type], now)})
    select (select count(*) from claim)::int as claimed, live.* from (select 1) as one left join live on true
     order by live.task_id, live.sort_order, live.campaign_id`.execute(db);
  return { claimed: r.rows[0]!.claimed > 0, tasks: r.rows.filter((t) => t.task_id !== null) };
}

/**
 * claimAndFind for many events: claims their ids (one insert; an id already taken is skipped) and
 * reads the live tasks of `eventTypes`, in one statement. Answers the ids claimed and the tasks.
 */
export async function claimManyAndFind(
  db: Executor,
  tenantId: string,
  events: { eventIds: string[]; userIds: string[]; eventTypes: string[]; productCodes: (string | null)[]; occurredAt: string[] },
  eventTypes: readonly string[],
  now: Date,
): Promise<{ claimed: string[]; tasks: ActiveTaskRow[] }> {
  // The claimed ids ride on the first row only (not repeated on every task row).
  const r = await sql<ActiveTaskRow & { claimed: string[] | null }>`
    with claim as (
      insert into task_event (tenant_id, event_id, user_id, event_type, product_code, occurred_at, received_at)
      select ${tenantId}, v.event_id, v.user_id, v.event_type, v.product_code, v.occurred_at, ${now}
        from unnest(${events.eventIds}::text[], ${events.userIds}::text[], ${events.eventTypes}::text[],
                    ${events.productCodes}::text[], ${events.occurredAt}::timestamptz[])
             as v(event_id, user_id, event_type, product_code, occurred_at)
      on conflict do nothing
      returning event_id
    ), live as (${activeTasksQuery(tenantId, eventTypes, now)})
    select case when row_number() over () = 1 then (select coalesce(array_agg(event_id), '{}') from claim) end as claimed, live.*
      from (select 1) as one left join live on true
     order by live.task_id, live.sort_order, live.campaign_id`.execute(db);
  return { claimed: r.rows.find((row) => row.claimed !== null)?.claimed ?? [], tasks: r.rows.filter((t) => t.task_id !== null).map(({ claimed: _, ...task }) => task as ActiveTaskRow) };
}

export function findEvent(db: Executor, tenantId: string, eventId: string) {
  return db.selectFrom('task_event').selectAll().where('tenant_id', '=', tenantId).where('event_id', '=', eventId).executeTakeFirst();
}

export async function saveEventResults(db: Executor, tenantId: string, eventId: string, results: unknown): Promise<void> {
  await db.updateTable('task_event').set({ results: JSON.stringify(results) }).where('tenant_id', '=', tenantId).where('event_id', '=', eventId).execute();
}

/** Counts a value for a `distinct` condition; false when this user already had it in this period. */
export async function addDistinctValue(db: Executor, key: ProgressKey, value: string): Promise<boolean> {
  const r = await db
    .insertInto('task_progress_value')
    .values({ tenant_id: key.tenantId, task_id: key.taskId, user_id: key.userId, period_key: key.periodKey, value })
    .onConflict((oc) => oc.doNothing())
    .returning('value')
    .executeTakeFirst();
  return r !== undefined;
}

export interface ProgressKey {
  tenantId: string;
  taskId: string;
  userId: string;
  periodKey: string;
}

export interface ProgressState {
  progress: number;
  completions: number;
  last_gain: number;
}

/**
 * Adds `delta` to an additive condition (count, amount_sum, distinct) in ONE upsert: the row lock
 * serialises parallel events of the same user, and each update computes from the row it locked
 * how many completions it adds (`last_gain`, read back by RETURNING), capped by `cap` (1 for ONCE
 * and periodic policies, max_completions or null for UNLIMITED). What is left over after a
 * completion carries on towards the next one. Undefined: the cap was already reached.
 */
export async function addProgress(db: Executor, key: ProgressKey, delta: number, target: number, cap: number | null, now: Date): Promise<ProgressState | undefined> {
  const firstGain = Math.min(Math.floor(delta / target), cap ?? Number.MAX_SAFE_INTEGER);
  const capSql = cap === null ? sql`2147483647` : sql`${cap}::int`;
  const r = await sql<ProgressState>`
    insert into task_progress as p (tenant_id, task_id, user_id, period_key, progress, completions, last_gain, updated_at)
    values (${key.tenantId}, ${key.taskId}, ${key.userId}, ${key.periodKey}, ${delta - firstGain * target}, ${firstGain}, ${firstGain}, ${now})
    on conflict (tenant_id, task_id, user_id, period_key) do update set
      progress = p.progress + ${delta}::bigint - least((p.progress + ${delta}::bigint) / ${target}::bigint, ${capSql} - p.completions) * ${target}::bigint,
      completions = p.completions + least((p.progress + ${delta}::bigint) / ${target}::bigint, ${capSql} - p.completions),
      last_gain = least((p.progress + ${delta}::bigint) / ${target}::bigint, ${capSql} - p.completions),
      updated_at = ${now}
    where p.completions < ${capSql}
    returning progress, completions, last_gain`.execute(db);
  return r.rows[0];
}

/**
 * Counts a day of a streak (consecutive_days) in ONE upsert: the day after the last one extends
 * the streak, a later day starts it again at 1, the same or an earlier day changes nothing. A
 * streak completes when it reaches `target` (every multiple of it for UNLIMITED). Undefined: the
 * day did not count (already counted, out of order) or the cap was already reached.
 */
export async function addStreakDay(db: Executor, key: ProgressKey, day: string, target: number, cap: number | null, everyMultiple: boolean, now: Date): Promise<ProgressState | undefined> {
  const capSql = cap === null ? sql`2147483647` : sql`${cap}::int`;
  const streak = sql`(case when p.last_day = ${day}::date - 1 then p.progress + 1 else 1 end)`;
  const reached = everyMultiple ? sql`${streak} % ${target}::bigint = 0` : sql`${streak} >= ${target}::bigint`;
  const gain = sql`(case when ${reached} and p.completions < ${capSql} then 1 else 0 end)`;
  const firstGain = target === 1 ? 1 : 0;
  const r = await sql<ProgressState>`
    insert into task_progress as p (tenant_id, task_id, user_id, period_key, progress, completions, last_day, last_gain, updated_at)
    values (${key.tenantId}, ${key.taskId}, ${key.userId}, ${key.periodKey}, 1, ${firstGain}, ${day}::date, ${firstGain}, ${now})
    on conflict (tenant_id, task_id, user_id, period_key) do update set
      progress = ${streak},
      completions = p.completions + ${gain},
      last_gain = ${gain},
      last_day = ${day}::date,
      updated_at = ${now}
    where p.completions < ${capSql} and (p.last_day is null or p.last_day < ${day}::date)
    returning progress, completions, last_gain`.execute(db);
  return r.rows[0];
}

export function readProgress(db: Executor, key: ProgressKey) {
  return db
    .selectFrom('task_progress')
    .select(['progress', 'completions', 'last_gain', 'last_day'])
    .where('tenant_id', '=', key.tenantId)
    .where('task_id', '=', key.taskId)
    .where('user_id', '=', key.userId)
    .where('period_key', '=', key.periodKey)
    .executeTakeFirst();
}

export function readUserProgress(db: Executor, tenantId: string, userId: string, taskIds: string[]) {
  if (taskIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('task_progress')
    .select(['task_id', 'period_key', 'progress', 'completions', 'last_day'])
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('task_id', 'in', taskIds)
    .execute();
}

export async function insertCompletion(db: Executor, row: Insertable<TaskCompletionLogTable>): Promise<void> {
  try {
    await db.insertInto('task_completion_log').values(row).execute();
  } catch (err) {
    // Unreachable while progress rows are updated under their lock; kept as the last wall.
    if (isUniqueViolation(err)) throw taskErrors.completionAlreadyRecorded(row.task_id);
    throw err;
  }
}
