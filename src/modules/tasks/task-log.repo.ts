import { sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { Visibility } from './task.repo.js';

export interface LogFilter {
  taskId?: string | undefined;
  campaignId?: string | undefined;
  userId?: string | undefined;
  from?: Date | null | undefined;
  to?: Date | null | undefined;
}

/** Completions, newest first, of the products the caller may see. */
export async function listCompletions(db: Executor, v: Visibility, f: LogFilter, page: { limit: number; offset: number }) {
  let q = db.selectFrom('task_completion_log').where('tenant_id', '=', v.tenantId);
  if (v.productCodes) q = q.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  if (f.taskId) q = q.where('task_id', '=', f.taskId);
  if (f.campaignId) q = q.where('campaign_id', '=', f.campaignId);
  if (f.userId) q = q.where('user_id', '=', f.userId);
  if (f.from) q = q.where('completed_at', '>=', f.from);
  if (f.to) q = q.where('completed_at', '<', f.to);
  const [rows, total] = await Promise.all([
    q.selectAll().orderBy('completed_at', 'desc').orderBy('completion_id', 'desc').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

interface StatsRow {
  day: string | null;
  completions: number;
  unique_users: number;
  rewards_granted: number;
  grants_refused: number;
}

/** Totals and per-day figures (days in `zone`) of one task, in one statement (grouping sets). */
export async function completionStats(db: Executor, tenantId: string, taskId: string, zone: string, from: Date | null, to: Date | null) {
  const r = await sql<StatsRow>`
    select to_char(completed_at at time zone ${zone}, 'YYYY-MM-DD') as day,
           count(*)::int as completions,
           count(distinct user_id)::int as unique_users,
           count(*) filter (where grant_status = 'GRANTED')::int as rewards_granted,
           count(*) filter (where grant_status = 'REFUSED')::int as grants_refused
      from task_completion_log
     where tenant_id = ${tenantId} and task_id = ${taskId}
       and (${from}::timestamptz is null or completed_at >= ${from}::timestamptz)
       and (${to}::timestamptz is null or completed_at < ${to}::timestamptz)
     group by grouping sets ((1), ())
     order by 1 nulls first`.execute(db);
  const total = r.rows.find((row) => row.day === null) ?? { completions: 0, unique_users: 0, rewards_granted: 0, grants_refused: 0 };
  const byDay = r.rows.filter((row) => row.day !== null).map((row) => ({ day: row.day!, completions: row.completions, unique_users: row.unique_users, rewards_granted: row.rewards_granted, grants_refused: row.grants_refused }));
  return { total, byDay };
}
