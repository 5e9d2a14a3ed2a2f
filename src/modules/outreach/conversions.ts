import { sql } from 'kysely';
import { type Database, inTransaction } from '../../db/client.js';
import type { Clock } from '../../platform/clock.js';
import { goalEvents } from '../tasks/index.js';
import type { RunSnapshot } from './send.prepare.js';

/**
 * Conversions: a delivered message counts as converted when its recipient's goal event (a task
 * event of the campaign's `goal_event_type`) happens within `conversion_window_hours` after the
 * delivery. A sweep reads the goal events that arrived since the run's cursor, marks the records
 * in one statement with their counters, and moves the cursor in the same transaction, so each
 * event is looked at once and each record converts once.
 */

const PAGE = 5_000;
/** Events newer than this are left to the next sweep (transactions still committing). */
const SETTLE_MS = 1_000;

export function createConversionSweep(deps: { db: Database; clock: Clock }) {
  const { db, clock } = deps;

  async function sweepRun(run: { tenant_id: string; run_id: string; snapshot: unknown; conversions_checked_until: Date | null; started_at: Date | null }): Promise<number> {
    const snapshot = run.snapshot as RunSnapshot;
    if (!snapshot.goal_event_type) return 0;
    const upTo = new Date(clock.now().getTime() - SETTLE_MS);
    const after = run.conversions_checked_until ?? run.started_at ?? upTo;
    if (after >= upTo) return 0;
    const events = await goalEvents(db, { tenantId: run.tenant_id, eventType: snapshot.goal_event_type, receivedAfter: after, receivedUpTo: upTo, limit: PAGE });
    const cursor = events.length === PAGE ? events[events.length - 1]!.received_at : upTo;
    return inTransaction(db, async (trx) => {
      let converted = 0;
      if (events.length > 0) {
        const rows = JSON.stringify(events.map((e) => ({ user_id: e.user_id, at: e.occurred_at.toISOString() })));
        const r = await sql<{ n: number }>`
          with e as (
            select user_id, min(at) as at from jsonb_to_recordset(${rows}::jsonb) as x(user_id text, at timestamptz) group by user_id
          ),
          upd as (
            update outreach_record r set converted_at = e.at, updated_at = ${clock.now()}
            from e
            where r.run_id = ${run.run_id} and r.customer_id = e.user_id and r.converted_at is null and r.delivered_at is not null
              and e.at >= r.delivered_at and e.at <= r.delivered_at + make_interval(hours => ${snapshot.conversion_window_hours})
            returning coalesce(r.variant, '') as variant
          ),
          counted as (
            insert into outreach_run_stat (tenant_id, run_id, variant, metric, n)
            select ${run.tenant_id}, ${run.run_id}, variant, 'converted', count(*) from upd group by variant
            on conflict (run_id, variant, metric) do update set n = outreach_run_stat.n + excluded.n
          )
          select count(*)::int as n from upd`.execute(trx);
        converted = r.rows[0]!.n;
      }
      await trx.updateTable('outreach_run').set({ conversions_checked_until: cursor }).where('run_id', '=', run.run_id).execute();
      return converted;
    });
  }

  return {
    /** One sweep over the runs whose goal window is still open; returns how many records converted. */
    async tick(): Promise<number> {
      const now = clock.now();
      const runs = await db
        .selectFrom('outreach_run')
        .select(['tenant_id', 'run_id', 'snapshot', 'conversions_checked_until', 'started_at', 'finished_at'])
        .where('execution_type', '=', 'actual')
        .where('started_at', 'is not', null)
        .where(sql<boolean>`snapshot ->> 'goal_event_type' is not null`)
        .where((eb) =>
          eb.or([
            eb('finished_at', 'is', null),
            eb('finished_at', '>', sql<Date>`${now}::timestamptz - make_interval(hours => (snapshot ->> 'conversion_window_hours')::int)`),
          ]),
        )
        .limit(200)
        .execute();
      let total = 0;
      for (const run of runs) total += await sweepRun(run);
      return total;
    },
  };
}
