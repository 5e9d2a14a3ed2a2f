import { describe, expect, it } from 'vitest';
import { ALONE, createGroupCommit, type GroupAnswer } from './group-commit.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('group commit (platform/group-commit.ts)', () => {
  it('an item with no load runs alone; items that arrive meanwhile share the next group, by key and in order', async () => {
    const groups: number[][] = [];
    const alone: number[] = [];
    const g = createGroupCommit<number, number>({
      maxSize: 3,
      concurrency: 1,
      keyOf: (n) => String(n % 2),
      order: (a, b) => b - a,
      runGroup: async (items) => {
        groups.push(items);
        await tick();
        return items.map((n) => ({ ok: n * 10 }));
      },
      runAlone: async (n) => {
        alone.push(n);
        await tick();
        return n * 10;
      },
    });
    const answers = await Promise.all([1, 2, 3, 4, 5, 7, 9].map((n) => g.submit(n)));
    expect(answers).toEqual([10, 20, 30, 40, 50, 70, 90]);
    // 1 alone; then the oldest waiting (2) with its key's items, then the odd ones up to 3 (sorted by
    // `order`), then the last odd one alone.
    expect(alone).toEqual([1, 9]);
    expect(groups).toEqual([
      [4, 2],
      [7, 5, 3],
    ]);
  });

  it('a failed group runs each item alone, an ALONE answer runs that item alone, and an error answer rejects only its item', async () => {
    let fail = true;
    const alone: number[] = [];
    const g = createGroupCommit<number, number>({
      maxSize: 10,
      concurrency: 1,
      runGroup: async (items) => {
        await tick();
        if (fail) {
          fail = false;
          throw new Error('deadlock');
        }
        return items.map((n): GroupAnswer<number> => (n === 3 ? ALONE : n === 4 ? { error: new Error('refused 4') } : { ok: n }));
      },
      runAlone: async (n) => {
        alone.push(n);
        if (n === 0) await tick();
        return -n;
      },
    });
    const first = g.submit(0); // runs alone at once
    const failed = [g.submit(1), g.submit(2)]; // one failing group -> both alone
    await first;
    expect(await Promise.all(failed)).toEqual([-1, -2]);
    const next = [3, 4, 5, 6].map((n) => g.submit(n).catch((e: Error) => e.message));
    const firstOfNext = await next[0];
    expect(firstOfNext).toBe(-3); // ran alone (it was the first of an empty queue)
    expect(await Promise.all(next)).toEqual([-3, 'refused 4', 5, 6]);
    expect(alone).toContain(3);
  });
});
