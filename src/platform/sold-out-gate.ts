import { LRUCache } from 'lru-cache';

/**
 * Remembers, for a moment, that a reward was found sold out by the database, so the flood of
 * requests that follows a flash sale is turned away without a transaction. It is only ever set
 * from a database answer, and cleared when units come back in this process; other processes see
 * returned units after at most `ttlMs`. It can delay a grant by that long, never over-issue.
 */
export interface SoldOutGate {
  isSoldOut(key: string): boolean;
  markSoldOut(key: string): void;
  clear(key: string): void;
}

/** At most `maxEntries` keys (default 100,000; least recently used out first), each for `ttlMs` (default 1000). */
export function createSoldOutGate(options: { ttlMs?: number; now?: () => number; maxEntries?: number } = {}): SoldOutGate {
  const ttlMs = options.ttlMs ?? 1000;
  const soldOut = new LRUCache<string, true>({
    max: options.maxEntries ?? 100_000,
    // lru-cache reads ttl 0 as "never expires"; here it means the gate never closes.
    ttl: Math.max(0, ttlMs),
    // 0: read the clock on every check (see snapshot-cache.ts).
    ttlResolution: 0,
    perf: { now: options.now ?? Date.now },
  });
  return {
    // lru-cache's get drops an expired entry and answers undefined.
    isSoldOut: (key) => soldOut.get(key) === true,
    markSoldOut(key) {
      if (ttlMs > 0) soldOut.set(key, true);
    },
    clear(key) {
      soldOut.delete(key);
    },
  };
}
