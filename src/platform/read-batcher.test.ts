import { describe, expect, it } from 'vitest';
import { createReadBatcher } from './read-batcher.js';

interface Row {
  key: string;
  n: number;
}

/** A batcher over a fake table whose loads can be held open, recording the keys of each load. */
function fixture(options: { maxSize: number; concurrency: number; fail?: (keys: readonly string[]) => boolean }) {
  const loads: string[][] = [];
  const holds: (() => void)[] = [];
  let hold = false;
  const batcher = createReadBatcher<string, Row>({
    load: async (keys) => {
      loads.push([...keys]);
      if (hold) await new Promise<void>((resolve) => holds.push(resolve));
      if (options.fail?.(keys)) throw new Error('load failed');
      return keys.flatMap((key) => (key.startsWith('none') ? [] : [{ key, n: 1 }, { key, n: 2 }]));
    },
    keyOf: (k) => k,
    rowKey: (r) => r.key,
    maxSize: options.maxSize,
    concurrency: options.concurrency,
  });
  return { batcher, loads, holds, holdLoads: (on: boolean) => (hold = on) };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('createReadBatcher', () => {
  it('reads the lookups of one tick in one query and gives each key its own rows', async () => {
    const { batcher, loads } = fixture({ maxSize: 10, concurrency: 2 });
    const [a, b, none] = await Promise.all([batcher.get('a'), batcher.get('b'), batcher.get('none')]);
    expect(loads).toEqual([['a', 'b', 'none']]);
    expect(a).toEqual([{ key: 'a', n: 1 }, { key: 'a', n: 2 }]);
    expect(b.map((r) => r.key)).toEqual(['b', 'b']);
    expect(none).toEqual([]);
    // No memo: the same key later is read again.
    await batcher.get('a');
    expect(loads).toEqual([['a', 'b', 'none'], ['a']]);
  });

  it('splits a tick at maxSize', async () => {
    const { batcher, loads } = fixture({ maxSize: 2, concurrency: 10 });
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => batcher.get(k)));
    expect(loads).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('holds at most `concurrency` queries in flight; later lookups wait and go together', async () => {
    const { batcher, loads, holds, holdLoads } = fixture({ maxSize: 10, concurrency: 1 });
    holdLoads(true);
    const first = batcher.get('a');
    await tick();
    const waiting = [batcher.get('b')];
    await tick();
    waiting.push(batcher.get('c'), batcher.get('d'));
    await tick();
    expect(loads).toEqual([['a']]);
    holdLoads(false);
    holds.shift()!();
    await Promise.all([first, ...waiting]);
    // b, c and d arrived in different ticks while a's query held the one slot: one query.
    expect(loads).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it('rejects every lookup of a failed query, and only those', async () => {
    const { batcher } = fixture({ maxSize: 10, concurrency: 2, fail: (keys) => keys.includes('bad') });
    const failed = Promise.allSettled([batcher.get('bad'), batcher.get('x')]);
    await tick();
    const fine = batcher.get('y');
    expect((await failed).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await fine).toHaveLength(2);
  });
});
