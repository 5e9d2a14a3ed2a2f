import { type Insertable, type Selectable, sql, type Updateable } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { OutreachRunTable } from './outreach.tables.js';

export type RunRow = Selectable<OutreachRunTable>;

export const LIVE_STATUSES = ['resolving', 'sending', 'paused'] as const;

export function insertRun(db: Executor, row: Insertable<OutreachRunTable>): Promise<RunRow> {
  return db.insertInto('outreach_run').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findRun(db: Executor, tenantId: string, runId: string, options: { forUpdate?: boolean } = {}) {
  let q = db.selectFrom('outreach_run').selectAll().where('tenant_id', '=', tenantId).where('run_id', '=', runId);
  if (options.forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

export function updateRun(db: Executor, tenantId: string, runId: string, change: Updateable<OutreachRunTable>) {
  return db.updateTable('outreach_run').set(change).where('tenant_id', '=', tenantId).where('run_id', '=', runId).returningAll().executeTakeFirstOrThrow();
}

/**
 * Adds a simulation's rendered samples, keeping the first `max`, in one statement: two steps of a
 * run at once must not overwrite each other's (a read, then a write, lost some).
 */
export async function appendSamples(db: Executor, tenantId: string, runId: string, samples: unknown[], max: number): Promise<void> {
  await sql`
    update outreach_run set samples = (
      select coalesce(jsonb_agg(e order by i), '[]'::jsonb)
      from jsonb_array_elements(samples || ${JSON.stringify(samples)}::jsonb) with ordinality a(e, i) where i <= ${max})
    where tenant_id = ${tenantId} and run_id = ${runId} and jsonb_array_length(samples) < ${max}`.execute(db);
}

/** The campaign's live actual run, if any (at most one at a time). */
export function liveActualRun(db: Executor, tenantId: string, campaignId: string) {
  return db
    .selectFrom('outreach_run')
    .select('run_id')
    .where('tenant_id', '=', tenantId)
    .where('campaign_id', '=', campaignId)
    .where('execution_type', '=', 'actual')
    .where('status', 'in', [...LIVE_STATUSES])
    .executeTakeFirst();
}

export async function listRuns(db: Executor, tenantId: string, filter: { campaignId?: string | undefined; status?: string | undefined }, page: { limit: number; offset: number }) {
  let q = db.selectFrom('outreach_run').where('tenant_id', '=', tenantId);
  if (filter.campaignId) q = q.where('campaign_id', '=', filter.campaignId);
  if (filter.status) q = q.where('status', '=', filter.status);
  const [rows, total] = await Promise.all([
    q.selectAll().orderBy('created_at', 'desc').orderBy('run_id', 'desc').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

export function runIdsOfCampaign(db: Executor, tenantId: string, campaignId: string) {
  return db.selectFrom('outreach_run').select(['run_id', 'execution_type']).where('tenant_id', '=', tenantId).where('campaign_id', '=', campaignId).execute();
}

/**
 * Runs some process must work on now, oldest first: resolving (fan-out), and sending runs with a
 * record due, an A/B decision due, or nothing open left (to complete). A run that only waits
 * (quiet hours, an A/B test window) takes no place in the limit, or enough of them would stop
 * every newer run.
 */
export function workableRuns(db: Executor, limit: number, now: Date, tenantId?: string) {
  let q = db
    .selectFrom('outreach_run as r')
    .select(['tenant_id', 'run_id', 'campaign_id', 'status', 'execution_type', 'snapshot', 'ab_state'])
    .where('status', 'in', ['resolving', 'sending'])
    .where(sql<boolean>`(r.status = 'resolving'
      or exists (select 1 from outreach_record d where d.run_id = r.run_id and d.status in ('pending', 'deferred', 'sending', 'held') and d.next_attempt_at <= ${now})
      or (r.ab_state is null and (r.snapshot->'ab'->>'decide_at')::timestamptz <= ${now})
      or not exists (select 1 from outreach_record o where o.run_id = r.run_id and o.status in ('pending', 'deferred', 'sending', 'held')))`);
  if (tenantId) q = q.where('tenant_id', '=', tenantId);
  return q.orderBy('created_at').limit(limit).execute();
}

/** Locks a run for its fan-out; skipped when another process holds it. */
export function lockResolvingRun(db: Executor, runId: string) {
  return db.selectFrom('outreach_run').selectAll().where('run_id', '=', runId).where('status', '=', 'resolving').forUpdate().skipLocked().executeTakeFirst();
}
