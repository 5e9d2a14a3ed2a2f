import type { Database } from '../../db/client.js';
import type { Clock } from '../../platform/clock.js';
import { createSnapshotCache } from '../../platform/snapshot-cache.js';
import * as repo from './promotion.repo.js';
import type { PromotionScope, PromotionTerms, PromotionType } from './promotion.tables.js';
import { phaseOf } from './promotion.view.js';

/** A promotion active now, as the quote reads it (shared by every caller: do not change it). */
export interface LivePromotion {
  promotion_id: string;
  name: string;
  promotion_type: PromotionType;
  terms: PromotionTerms;
  scope: PromotionScope;
  audience_id: string | null;
  priority: number;
  stacking_group: string | null;
  exclusive: boolean;
  start_time: Date;
  end_time: Date;
  /** Flash-sale items or the gift item: units left (stock - sold, when read) and the per-user limit. */
  stock: { item_id: string; kind: 'flash' | 'gift'; left: number; per_user_limit: number | null }[];
}

interface Entry {
  /** Every promotion that is active at some moment while the entry is kept, by priority desc then id. */
  candidates: LivePromotion[];
}

const byPriority = (a: LivePromotion, b: LivePromotion) => b.priority - a.priority || (a.promotion_id < b.promotion_id ? -1 : a.promotion_id > b.promotion_id ? 1 : 0);

/**
 * The tenant's live promotions, kept per tenant in this process for `ttlMs`: a cached call reads
 * no row. The entry holds every promotion that may be active while it is kept (not ended, starting
 * within the TTL), and each call filters them by the clock (window and time slots), so a promotion
 * starting or ending meanwhile is seen at once. `drop` (a change by this process) forgets the
 * tenant's entry, and a read that began before it does not store its stale answer.
 */
export function createLiveCache(deps: { db: Database; clock: Clock; ttlMs: number }) {
  const { db, clock } = deps;
  const cache = createSnapshotCache<Entry>({ ttlMs: deps.ttlMs, maxEntries: 10_000, now: () => clock.now().getTime() });
  const generation = new Map<string, number>();
  const inflight = new Map<string, Promise<Entry>>();

  async function read(tenantId: string): Promise<Entry> {
    const now = clock.now();
    const horizon = new Date(now.getTime() + Math.max(0, deps.ttlMs));
    const rows = await repo.livePromotions(db, tenantId, now, horizon);
    const stock = await repo.stockOf(db, tenantId, rows.map((r) => r.promotion_id));
    const candidates = rows.map(
      (r): LivePromotion =>
        Object.freeze({
          promotion_id: r.promotion_id,
          name: r.name,
          promotion_type: r.promotion_type,
          terms: r.terms,
          scope: r.scope,
          audience_id: r.audience_id,
          priority: r.priority,
          stacking_group: r.stacking_group,
          exclusive: r.exclusive,
          start_time: r.start_time,
          end_time: r.end_time,
          stock: stock
            .filter((s) => s.promotion_id === r.promotion_id)
            .map((s) => Object.freeze({ item_id: s.item_id, kind: s.kind, left: Math.max(0, s.stock - s.sold), per_user_limit: s.per_user_limit })),
        }),
    );
    return { candidates: candidates.sort(byPriority) };
  }

  function load(tenantId: string): Promise<Entry> {
    const running = inflight.get(tenantId);
    if (running) return running;
    const gen = generation.get(tenantId) ?? 0;
    const p = read(tenantId)
      .then((entry) => {
        if ((generation.get(tenantId) ?? 0) === gen) cache.set(tenantId, entry);
        return entry;
      })
      .finally(() => {
        if (inflight.get(tenantId) === p) inflight.delete(tenantId);
      });
    inflight.set(tenantId, p);
    return p;
  }

  return {
    /** Every promotion of the tenant active at clock.now(), by priority (highest first) then promotion id. */
    async live(tenantId: string): Promise<LivePromotion[]> {
      const entry = cache.get(tenantId) ?? (await load(tenantId));
      const now = clock.now();
      return entry.candidates.filter((p) => phaseOf(p, now) === 'active');
    },

    /** Forgets the tenant's entry (and any read in flight is not stored). */
    drop(tenantId: string): void {
      cache.delete(tenantId);
      inflight.delete(tenantId);
      generation.set(tenantId, (generation.get(tenantId) ?? 0) + 1);
    },
  };
}
