import { sql } from 'kysely';
import { type Database, inTransaction } from '../../db/client.js';
import type { Clock } from '../../platform/clock.js';
import * as runRepo from './run.repo.js';
import { counterRows, splitByVariant, type StatsView } from './run.stats.js';
import type { RunSnapshot } from './send.prepare.js';

/**
 * A/B with a winner: the variants' cells are sent first; the rest of the audience waits (held).
 * When the test window ends, the variant with the best chosen rate wins and the held records
 * are released with its content, in one transaction with the counters moved to the winner.
 */

const METRIC: Record<string, (s: StatsView) => number | null> = {
  open_rate: (s) => s.rates.open_rate,
  click_rate: (s) => s.rates.click_rate,
  conversion_rate: (s) => s.rates.conversion_rate,
  delivery_rate: (s) => s.rates.delivery_rate,
};

export function pickWinner(metric: string, keys: readonly string[], variants: Record<string, StatsView>): { winner: string; scores: Record<string, number | null> } {
  const score = METRIC[metric] ?? METRIC.open_rate!;
  const scores = Object.fromEntries(keys.map((k) => [k, variants[k] ? score(variants[k]) : null]));
  let winner = keys[0]!;
  for (const k of keys) if ((scores[k] ?? -1) > (scores[winner] ?? -1)) winner = k;
  return { winner, scores };
}

/** Decides a run's A/B winner when its window has ended; returns how many held records it released. */
export async function decideWinner(db: Database, clock: Clock, head: { tenant_id: string; run_id: string; snapshot: unknown; ab_state: unknown }): Promise<number> {
  const ab = (head.snapshot as RunSnapshot).ab;
  if (!ab || head.ab_state) return 0;
  const now = clock.now();
  if (now < new Date(ab.decide_at)) return 0;
  return inTransaction(db, async (trx) => {
    const run = await runRepo.findRun(trx, head.tenant_id, head.run_id, { forUpdate: true });
    if (!run || run.ab_state || run.status !== 'sending') return 0;
    const { variants } = splitByVariant(await counterRows(trx, run.tenant_id, [run.run_id]));
    const { winner, scores } = pickWinner(ab.metric, ab.keys, variants);
    const r = await sql<{ n: number }>`
      with upd as (
        update outreach_record set status = 'pending', variant = ${winner}, next_attempt_at = ${now}, updated_at = ${now}
        where run_id = ${run.run_id} and status = 'held'
        returning 1
      )
      select count(*)::int as n from upd`.execute(trx);
    const n = r.rows[0]!.n;
    if (n > 0) {
      await sql`
        insert into outreach_run_stat (tenant_id, run_id, variant, metric, n)
        values (${run.tenant_id}, ${run.run_id}, '', 'held', ${-n}), (${run.tenant_id}, ${run.run_id}, '', 'planned', ${-n}),
               (${run.tenant_id}, ${run.run_id}, ${winner}, 'planned', ${n})
        on conflict (run_id, variant, metric) do update set n = outreach_run_stat.n + excluded.n`.execute(trx);
    }
    await runRepo.updateRun(trx, run.tenant_id, run.run_id, {
      ab_state: JSON.stringify({ metric: ab.metric, decide_at: ab.decide_at, decided_at: now.toISOString(), winner, scores, released: n }),
    });
    return n;
  });
}
