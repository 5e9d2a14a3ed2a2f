import { LRUCache } from 'lru-cache';

/**
 * Rows a decision is based on (a reward and its campaign), kept for a short while so a hot path
 * does not read them on every request. Never trusted blindly: the write that acts on a cached
 * row checks in the same statement that the stored row still has the cached version, and on a
 * mismatch the caller drops the entry and reads again. The cache saves round trips; it cannot
 * make an answer wrong.
 */
export interface SnapshotCache<V> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  delete(key: string): void;
}

/** At most `maxEntries` (default 10,000; least recently used out first), each for `ttlMs`; ttlMs <= 0 caches nothing. */
export function createSnapshotCache<V extends object>(options: { ttlMs: number; maxEntries?: number; now?: () => number }): SnapshotCache<V> {
  const cache = new LRUCache<string, V>({
    max: options.maxEntries ?? 10_000,
    ttl: Math.max(0, options.ttlMs),
    // 0: read the clock on every check instead of lru-cache's 1 ms memo, which runs a timer and
    // would ignore a test clock moved by hand within that millisecond.
    ttlResolution: 0,
    perf: { now: options.now ?? Date.now },
  });
  return {
    get: (key) => cache.get(key),
    set(key, value) {
      if (options.ttlMs > 0) cache.set(key, value);
    },
    delete(key) {
      cache.delete(key);
    },
  };
}
