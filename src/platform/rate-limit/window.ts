import type { LimitResult, RateRule, StoreMode } from './types.js';

/**
 * Sliding-window counting in buckets, shared by the in-process store and (line for line) by the
 * Lua script of the Redis store, so both answer the same.
 *
 * A window of W ms is counted in buckets of B = ceil(W / 100) ms, so a key holds at most about
 * 101 counters whatever its limit (a log of every hit would grow with the limit: a product quota
 * of 100,000 a day would be 100,000 entries). A hit in bucket j is treated as if it happened at
 * the bucket's last millisecond, so it leaves the window at `j*B + B - 1 + W`: never early (the
 * limit holds over every real window of W ms), at most B - 1 ms (1% of the window) late. For
 * windows up to 100 ms, B is 1 and the window is exact.
 */
export const BUCKETS_PER_WINDOW = 100;

export const bucketWidth = (windowMs: number): number => Math.max(1, Math.ceil(windowMs / BUCKETS_PER_WINDOW));

/** When the hits of bucket `j` stop counting. */
export const leavesAt = (j: number, b: number, w: number): number => j * b + b - 1 + w;

/** The counters of one key: bucket index -> units. */
export type Buckets = Map<number, number>;

/** Drops buckets that have left the window; returns the units still in it and the newest bucket. */
export function prune(buckets: Buckets, now: number, b: number, w: number): { used: number; newest: number } {
  let used = 0;
  let newest = -1;
  for (const [j, count] of buckets) {
    if (leavesAt(j, b, w) > now) {
      used += count;
      if (j > newest) newest = j;
    } else {
      buckets.delete(j);
    }
  }
  return { used, newest };
}

/** Milliseconds until `used + cost <= limit`, as the oldest buckets leave the window. */
export function waitFor(buckets: Buckets, used: number, cost: number, limit: number, now: number, b: number, w: number): number {
  if (cost > limit) return w;
  let need = used + cost - limit;
  for (const j of [...buckets.keys()].sort((x, y) => x - y)) {
    need -= buckets.get(j)!;
    if (need <= 0) return leavesAt(j, b, w) - now;
  }
  return w; // not reached: the live buckets hold `used`
}

/** Adds `cost` to the current bucket; returns when the key's newest bucket leaves the window. */
export function charge(buckets: Buckets, newest: number, cost: number, now: number, b: number, w: number): number {
  const j = Math.floor(now / b);
  buckets.set(j, (buckets.get(j) ?? 0) + cost);
  return leavesAt(Math.max(j, newest), b, w);
}

/**
 * One atomic evaluation over several rules (the caller guarantees nothing else runs between its
 * steps: a synchronous call in-process, one Lua script in Redis). `get` returns a key's buckets,
 * `expire` records when a charged key may be dropped.
 */
export function evaluate(
  mode: StoreMode,
  rules: readonly RateRule[],
  cost: number,
  now: number,
  get: (key: string) => Buckets,
  expire: (key: string, at: number) => void,
): LimitResult {
  if (mode === 'add') {
    for (const rule of rules) {
      const b = bucketWidth(rule.windowMs);
      const buckets = get(rule.key);
      const { newest } = prune(buckets, now, b, rule.windowMs);
      expire(rule.key, charge(buckets, newest, cost, now, b, rule.windowMs));
    }
  }
  let refusedBy = -1;
  let worst = 0;
  let remaining = Infinity;
  const seen: { used: number; newest: number }[] = [];
  rules.forEach((rule, i) => {
    const b = bucketWidth(rule.windowMs);
    const buckets = get(rule.key);
    const state = prune(buckets, now, b, rule.windowMs);
    seen.push(state);
    remaining = Math.min(remaining, Math.max(0, rule.limit - state.used));
    if (state.used + cost > rule.limit) {
      const wait = waitFor(buckets, state.used, cost, rule.limit, now, b, rule.windowMs);
      if (refusedBy < 0 || wait > worst) {
        refusedBy = i;
        worst = wait;
      }
    }
  });
  if (refusedBy >= 0) return { allowed: false, remaining, retryAfterMs: worst, rule: rules[refusedBy]!.name };
  if (mode === 'hit') {
    rules.forEach((rule, i) => {
      if (rule.peek) return;
      const b = bucketWidth(rule.windowMs);
      expire(rule.key, charge(get(rule.key), seen[i]!.newest, cost, now, b, rule.windowMs));
    });
    remaining = Math.min(...rules.map((rule, i) => rule.limit - seen[i]!.used - (rule.peek ? 0 : cost)));
  }
  return { allowed: true, remaining: rules.length ? remaining : Infinity, retryAfterMs: 0, rule: null };
}
