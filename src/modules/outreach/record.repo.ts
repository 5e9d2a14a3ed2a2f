import { type Selectable, sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { OutreachRecordTable } from './outreach.tables.js';

export type RecordRow = Selectable<OutreachRecordTable>;

export interface RecordFilter {
  campaignId?: string | undefined;
  runId?: string | undefined;
  customerId?: string | undefined;
  status?: string | undefined;
  channel?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
}

/**
 * The records of a tenant matching `filter`. Records have no campaign (nor tenant-wide) index on
 * purpose: they are reached through the runs, `run_id = any(array(<runs of the tenant, of the
 * campaign>))`, which the planner answers from the primary key (run_id, seq) run by run; the
 * runs come from outreach_run's (tenant_id, campaign_id) index. Run ids are unique across tenants
 * and a record's tenant is its run's, so only the tenant's records are reached.
 */
function matching(db: Executor, tenantId: string, filter: RecordFilter) {
  let runs = db.selectFrom('outreach_run').select('run_id').where('tenant_id', '=', tenantId);
  if (filter.campaignId !== undefined) runs = runs.where('campaign_id', '=', filter.campaignId);
  if (filter.runId !== undefined) runs = runs.where('run_id', '=', filter.runId);
  let q = db.selectFrom('outreach_record').where(sql<boolean>`run_id = any(array(${runs}))`);
  if (filter.runId !== undefined) q = q.where('run_id', '=', filter.runId);
  // A customer's records come from (tenant_id, customer_id); otherwise tenant_id is left to the runs,
  // so that the planner cannot prefer walking every record of the tenant over the primary key.
  if (filter.customerId !== undefined) q = q.where('tenant_id', '=', tenantId).where('customer_id', '=', filter.customerId);
  if (filter.status !== undefined) q = q.where('status', '=', filter.status);
  if (filter.channel !== undefined) q = q.where('channel', '=', filter.channel);
  if (filter.from !== undefined) q = q.where(sql<Date>`coalesce(sent_at, updated_at)`, '>=', filter.from);
  if (filter.to !== undefined) q = q.where(sql<Date>`coalesce(sent_at, updated_at)`, '<', filter.to);
  return q;
}

/** A page by offset, newest first: the latest run first, within a run the last written record first. */
export async function listRecords(db: Executor, tenantId: string, filter: RecordFilter, page: { limit: number; offset: number }) {
  const q = matching(db, tenantId, filter);
  const [rows, total] = await Promise.all([
    q.selectAll().orderBy('run_id', 'desc').orderBy('seq', 'desc').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

/** The next `limit` records after the key `after` (keyset, same order as the list); stable while records change. */
export function pageAfter(db: Executor, tenantId: string, filter: RecordFilter, after: { runId: string; seq: number } | null, limit: number) {
  let q = matching(db, tenantId, filter);
  if (after) q = q.where(sql<boolean>`(run_id, seq) < (${after.runId}, ${after.seq})`);
  return q.selectAll().orderBy('run_id', 'desc').orderBy('seq', 'desc').limit(limit).execute();
}

export function findRecord(db: Executor, tenantId: string, runId: string, seq: number) {
  return db.selectFrom('outreach_record').selectAll().where('run_id', '=', runId).where('seq', '=', seq).where('tenant_id', '=', tenantId).executeTakeFirst();
}
