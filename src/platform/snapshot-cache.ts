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

export function createSnapshotCache<V>(options: { ttlMs: number; maxEntries?: number; now?: () => number }): SnapshotCache<V> {
  const now = options.now ?? Date.now;
  const max = options.maxEntries ?? 10_000;
  const entries = new Map<string, { value: V; until: number }>();
  return {
    get(key) {
      const e = entries.get(key);
      if (!e) return undefined;
      if (e.until > now()) return e.value;
      entries.delete(key);
      return undefined;
    },
    set(key, value) {
      if (options.ttlMs <= 0) return;
      // Oldest first out: Map keeps insertion order.
      if (entries.size >= max && !entries.has(key)) entries.delete(entries.keys().next().value as string);
      entries.set(key, { value, until: now() + options.ttlMs });
    },
    delete(key) {
      entries.delete(key);
    },
  };
}
