import { decodeTime } from 'ulidx';
import { describe, expect, it } from 'vitest';
import { newId } from './ids.js';
import { fingerprint, hashSecret, sameHash, stableStringify } from './secrets.js';

describe('newId', () => {
  it('is prefixed, 26 Crockford base32 characters, and sorts by creation time', () => {
    const a = newId('cmp', 1_700_000_000_000);
    const b = newId('cmp', 1_700_000_000_001);
    expect(a).toMatch(/^cmp_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(a < b).toBe(true);
  });

  it('sorts in creation order within one millisecond', () => {
    const ids = Array.from({ length: 1000 }, () => newId('x', 1_700_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(newId('x', 1_700_000_000_001) > ids[999]!).toBe(true);
  });

  it('carries the time asked for, also when the clock moved back, and continues monotonic from there', () => {
    const later = newId('x', 1_800_000_000_000);
    const earlier = [newId('x', 1_700_000_000_000), newId('x', 1_700_000_000_000)];
    expect(decodeTime(later.slice(2))).toBe(1_800_000_000_000);
    expect(earlier.map((id) => decodeTime(id.slice(2)))).toEqual([1_700_000_000_000, 1_700_000_000_000]);
    expect(earlier[0]! < earlier[1]!).toBe(true);
    expect(earlier[1]! < later).toBe(true);
  });

  it('spreads the random part over the whole alphabet', () => {
    const seen = new Set(Array.from({ length: 2000 }, (_, i) => newId('x', 1_600_000_000_000 + i).slice(-16)).join(''));
    expect(seen.size).toBe(32);
  });

  it('does not repeat', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newId('x', 0)));
    expect(ids.size).toBe(10_000);
  });
});

describe('stableStringify / fingerprint', () => {
  it('ignores key order at every depth and undefined members', () => {
    expect(stableStringify({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
    expect(fingerprint({ a: 1, b: undefined })).toBe(fingerprint({ a: 1 }));
  });

  it('tells different values apart', () => {
    expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: '1' }));
    expect(fingerprint([1, 2])).not.toBe(fingerprint([2, 1]));
  });
});

describe('hashSecret / sameHash', () => {
  it('compares digests, not secrets', () => {
    const digest = hashSecret('mhk_ABCDEFGH_secret');
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(sameHash(digest, hashSecret('mhk_ABCDEFGH_secret'))).toBe(true);
    expect(sameHash(digest, hashSecret('mhk_ABCDEFGH_other'))).toBe(false);
    expect(sameHash(digest, 'abc')).toBe(false);
  });
});
