import type { Insertable, Selectable, Updateable } from 'kysely';
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

/** Runs some process must work on: resolving (fan-out) and sending; oldest first. */
export function workableRuns(db: Executor, limit: number, tenantId?: string) {
  let q = db
    .selectFrom('outreach_run')
    .select(['tenant_id', 'run_id', 'campaign_id', 'status', 'execution_type', 'snapshot', 'ab_state'])
    .where('status', 'in', ['resolving', 'sending']);
  if (tenantId) q = q.where('tenant_id', '=', tenantId);
  return q.orderBy('created_at').limit(limit).execute();
}

/** Locks a run for its fan-out; skipped when another process holds it. */
export function lockResolvingRun(db: Executor, runId: string) {
  return db.selectFrom('outreach_run').selectAll().where('run_id', '=', runId).where('status', '=', 'resolving').forUpdate().skipLocked().executeTakeFirst();
}
