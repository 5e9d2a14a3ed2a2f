import { describe, expect, it } from 'vitest';
import { createSnapshotCache } from './snapshot-cache.js';
import { createSoldOutGate } from './sold-out-gate.js';

// Both are lru-cache underneath; these pin the bounds and expiry their callers rely on, read
// from an injected clock.
describe('createSnapshotCache', () => {
  it('keeps an entry for ttlMs, then forgets it', () => {
    let t = 1_000_000;
    const cache = createSnapshotCache<{ v: number }>({ ttlMs: 100, now: () => t });
    cache.set('a', { v: 1 });
    t += 99;
    expect(cache.get('a')).toEqual({ v: 1 });
    t += 2;
    expect(cache.get('a')).toBeUndefined();
  });

  it('holds at most maxEntries, dropping the least recently used', () => {
    const cache = createSnapshotCache<{ v: number }>({ ttlMs: 1000, maxEntries: 2 });
    cache.set('a', { v: 1 });
    cache.set('b', { v: 2 });
    cache.get('a');
    cache.set('c', { v: 3 });
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([{ v: 1 }, undefined, { v: 3 }]);
  });

  it('caches nothing when ttlMs <= 0, and deletes on demand', () => {
    const off = createSnapshotCache<{ v: number }>({ ttlMs: 0 });
    off.set('a', { v: 1 });
    expect(off.get('a')).toBeUndefined();
    const on = createSnapshotCache<{ v: number }>({ ttlMs: 1000 });
    on.set('a', { v: 1 });
    on.delete('a');
    expect(on.get('a')).toBeUndefined();
  });
});

describe('createSoldOutGate', () => {
  it('is closed for ttlMs after markSoldOut, open after it or after clear', () => {
    let t = 1_000_000;
    const gate = createSoldOutGate({ ttlMs: 50, now: () => t });
    expect(gate.isSoldOut('r')).toBe(false);
    gate.markSoldOut('r');
    t += 49;
    expect(gate.isSoldOut('r')).toBe(true);
    t += 2;
    expect(gate.isSoldOut('r')).toBe(false);
    gate.markSoldOut('r');
    gate.clear('r');
    expect(gate.isSoldOut('r')).toBe(false);
  });

  it('holds at most maxEntries keys, and never closes with ttlMs 0', () => {
    const gate = createSoldOutGate({ maxEntries: 2 });
    for (const k of ['a', 'b', 'c']) gate.markSoldOut(k);
    expect(['a', 'b', 'c'].map((k) => gate.isSoldOut(k))).toEqual([false, true, true]);
    const never = createSoldOutGate({ ttlMs: 0 });
    never.markSoldOut('a');
    expect(never.isSoldOut('a')).toBe(false);
  });
});
