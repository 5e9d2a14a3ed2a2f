import { sql } from 'kysely';
import type { Executor } from '../../db/client.js';

/**
 * Stats are read from counters kept with the records (outreach_run_stat), never counted over
 * the records, so a campaign of a million messages answers as fast as one of ten.
 */

export interface Counts {
  planned: number;
  attempted: number;
  sent: number;
  delivered: number;
  failed: number;
  opened: number;
  machine_opened: number;
  clicked: number;
  converted: number;
  skipped: number;
  skipped_by_reason: Record<string, number>;
  deferred: number;
  held: number;
  cancelled: number;
  would_send: number;
  /** Still to be decided: planned minus everything that reached a final state. */
  remaining: number;
}

export interface Rates {
  send_success_rate: number | null;
  delivery_rate: number | null;
  open_rate: number | null;
  click_rate: number | null;
  click_to_open_rate: number | null;
  conversion_rate: number | null;
}

export interface StatsView extends Counts {
  rates: Rates;
}

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 10_000) / 10_000 : null);

export function statsOf(rows: readonly { metric: string; n: number | string }[]): StatsView {
  const c: Counts = {
    planned: 0, attempted: 0, sent: 0, delivered: 0, failed: 0, opened: 0, machine_opened: 0, clicked: 0, converted: 0,
    skipped: 0, skipped_by_reason: {}, deferred: 0, held: 0, cancelled: 0, would_send: 0, remaining: 0,
  };
  for (const row of rows) {
    const n = Number(row.n);
    if (row.metric.startsWith('skipped:')) {
      const reason = row.metric.slice('skipped:'.length);
      c.skipped += n;
      c.skipped_by_reason[reason] = (c.skipped_by_reason[reason] ?? 0) + n;
    } else if (row.metric in c && row.metric !== 'skipped_by_reason' && row.metric !== 'remaining') {
      const counts = c as unknown as Record<string, number>;
      counts[row.metric] = (counts[row.metric] ?? 0) + n;
    }
  }
  c.remaining = Math.max(0, c.planned - c.attempted - c.skipped - c.cancelled - c.would_send);
  return {
    ...c,
    rates: {
      send_success_rate: ratio(c.sent, c.attempted),
      delivery_rate: ratio(c.delivered, c.sent),
      open_rate: ratio(c.opened, c.delivered),
      click_rate: ratio(c.clicked, c.delivered),
      click_to_open_rate: ratio(c.clicked, c.opened),
      conversion_rate: ratio(c.converted, c.delivered),
    },
  };
}

/** Counter rows of runs, by run and variant. */
export async function counterRows(exec: Executor, tenantId: string, runIds: readonly string[]) {
  if (runIds.length === 0) return [];
  return exec
    .selectFrom('outreach_run_stat')
    .select(['run_id', 'variant', 'metric', 'n'])
    .where('tenant_id', '=', tenantId)
    .where('run_id', '=', sql<string>`any(${[...runIds]}::text[])`)
    .execute();
}

/** Stats as a whole and per variant ('' = no variant). */
export function splitByVariant(rows: readonly { variant: string; metric: string; n: number | string }[]) {
  const byVariant = new Map<string, { metric: string; n: number | string }[]>();
  for (const row of rows) {
    if (!row.variant) continue;
    const list = byVariant.get(row.variant) ?? [];
    list.push(row);
    byVariant.set(row.variant, list);
  }
  return {
    total: statsOf(rows),
    variants: Object.fromEntries([...byVariant.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, statsOf(v)])),
  };
}
