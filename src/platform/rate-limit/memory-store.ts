import type { LimitResult, LimitStore, RateRule, StoreMode } from './types.js';
import { type Buckets, evaluate } from './window.js';

interface Entry {
  buckets: Buckets;
  /** When the newest counted hit leaves its window: after that the entry is empty. */
  expiresAt: number;
}

export interface MemoryStoreOptions {
  now?: () => number;
  /** Most keys kept; default 100,000 (each at most ~101 small counters). */
  maxKeys?: number;
}

/**
 * The in-process store: the same bucketed sliding window as Redis, for one process. A call is
 * synchronous inside, so it is atomic without locks. Memory is bounded: expired keys are swept
 * every `max(1000, size)` calls (amortised O(1)), and past `maxKeys` the least recently used keys
 * are forgotten, which can only make a limit more lenient, never refuse wrongly.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): LimitStore & { size(): number } {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 100_000;
  const entries = new Map<string, Entry>();
  let callsSinceSweep = 0;

  function sweep(t: number): void {
    callsSinceSweep = 0;
    for (const [key, entry] of entries) if (entry.expiresAt <= t) entries.delete(key);
    // Map order is least recently used first (get() re-inserts what it touches).
    if (entries.size > maxKeys) {
      let excess = entries.size - Math.floor(maxKeys * 0.9);
      for (const key of entries.keys()) {
        if (excess-- <= 0) break;
        entries.delete(key);
      }
    }
  }

  function runSync(mode: StoreMode, rules: readonly RateRule[], cost: number): LimitResult {
    const t = now();
    if (++callsSinceSweep >= Math.max(1000, entries.size) || entries.size > maxKeys) sweep(t);
    const touched = new Map<string, Entry>();
    const get = (key: string): Buckets => {
      let entry = touched.get(key);
      if (!entry) {
        entry = entries.get(key) ?? { buckets: new Map(), expiresAt: 0 };
        entries.delete(key);
        touched.set(key, entry);
      }
      return entry.buckets;
    };
    const expire = (key: string, at: number) => {
      const entry = touched.get(key)!;
      entry.expiresAt = Math.max(entry.expiresAt, at);
    };
    const result = evaluate(mode, rules, cost, t, get, expire);
    // Keys that hold nothing are not kept (a refused or peeked key with no hits costs no memory).
    for (const [key, entry] of touched) if (entry.buckets.size > 0) entries.set(key, entry);
    return result;
  }

  return {
    run: async (mode, rules, cost) => runSync(mode, rules, cost),
    size: () => entries.size,
  };
}
