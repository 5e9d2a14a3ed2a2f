import type { Database } from '../../db/client.js';
import * as repo from './checkout.repo.js';

/**
 * Counts the quotes that applied each offer in memory and adds them to the database in one
 * statement when flushed (every few seconds by the runner): a quote writes nothing. A process
 * killed between two flushes loses the quotes it counted since the last one (the conversion
 * figure is a ratio of many quotes; orders and payments are never lost, they are rows).
 */
export function createQuoteCounter(db: Database) {
  let pending = new Map<string, { tenant_id: string; offer_kind: 'promotion' | 'coupon'; offer_id: string; quotes: number }>();
  return {
    count(tenantId: string, offers: { kind: 'promotion' | 'coupon'; id: string }[]): void {
      for (const o of offers) {
        const key = `${tenantId}\u0000${o.kind}\u0000${o.id}`;
        const cur = pending.get(key);
        if (cur) cur.quotes++;
        else pending.set(key, { tenant_id: tenantId, offer_kind: o.kind, offer_id: o.id, quotes: 1 });
      }
    },
    async flush(): Promise<number> {
      if (pending.size === 0) return 0;
      const batch = [...pending.values()];
      pending = new Map();
      try {
        await repo.addQuoteCounts(db, batch);
      } catch (err) {
        // Put them back for the next flush.
        for (const row of batch) {
          const key = `${row.tenant_id}\u0000${row.offer_kind}\u0000${row.offer_id}`;
          const cur = pending.get(key);
          if (cur) cur.quotes += row.quotes;
          else pending.set(key, row);
        }
        throw err;
      }
      return batch.length;
    },
  };
}
