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

export function createSoldOutGate(options: { ttlMs?: number; now?: () => number; maxEntries?: number } = {}): SoldOutGate {
  const ttl = options.ttlMs ?? 1000;
  const now = options.now ?? Date.now;
  const max = options.maxEntries ?? 100_000;
  const until = new Map<string, number>();
  return {
    isSoldOut(key) {
      const t = until.get(key);
      if (t === undefined) return false;
      if (t > now()) return true;
      until.delete(key);
      return false;
    },
    markSoldOut(key) {
      if (until.size >= max) until.delete(until.keys().next().value as string);
      until.set(key, now() + ttl);
    },
    clear(key) {
      until.delete(key);
    },
  };
}
