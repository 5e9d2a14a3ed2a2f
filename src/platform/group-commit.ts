/**
 * Group commit: work items that arrive while `concurrency` groups are in flight wait for the next
 * group, and a group runs as ONE statement or transaction. Under load many items share one round
 * trip and one commit (one WAL flush) instead of queueing for connections one by one; with no
 * load an item goes at once, alone.
 *
 * Every item gets the answer it would get on its own:
 * - a group of one runs as the item alone (`runAlone`), and its error is the item's error;
 * - when a group fails as a whole (an error in any item, a deadlock), nothing of it committed, so
 *   each item runs again alone and gets its own answer;
 * - an item the group could not settle (answered `ALONE`) runs again alone.
 *
 * The grant statement (grants), redemptions (redeem-codes) and trigger events (tasks) each keep
 * one such queue; this is the one implementation of it.
 */

/** The answer of a group for an item it could not settle: the item runs again on its own. */
export const ALONE = Symbol('run alone');

/** A group's answer for one item: its result, its error, or ALONE. */
export type GroupAnswer<R> = { ok: R } | { error: unknown } | typeof ALONE;

export interface GroupCommitOptions<I, R> {
  /** Most items in one group. */
  maxSize: number;
  /** Most groups in flight at once. */
  concurrency: number;
  /** Only items with the same key share a group (for example one caller's scope); default: any. */
  keyOf?: (item: I) => string;
  /** The order of the items inside a group (for example the order rows are locked in). */
  order?: (a: I, b: I) => number;
  /** Runs a group of two or more items; one answer per item, in the group's order. */
  runGroup: (items: I[]) => Promise<GroupAnswer<R>[]>;
  /** Runs one item on its own; its result or error is the item's answer. */
  runAlone: (item: I) => Promise<R>;
  /** Called with the size of every group as it starts. */
  onGroup?: (size: number) => void;
  /** Called when a group of two or more failed as a whole (each item then runs alone). */
  onGroupFailed?: (err: unknown) => void;
}

export interface GroupCommit<I, R> {
  /** Runs the item in the next group; answers (or throws) as the item alone would. */
  submit(item: I): Promise<R>;
}

interface Waiting<I, R> {
  item: I;
  key: string;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export function createGroupCommit<I, R>(options: GroupCommitOptions<I, R>): GroupCommit<I, R> {
  const queue: Waiting<I, R>[] = [];
  let inFlight = 0;

  /** The oldest waiting item and the next ones with its key, up to maxSize. */
  function takeGroup(): Waiting<I, R>[] {
    const key = queue[0]!.key;
    const group: Waiting<I, R>[] = [];
    for (let i = 0; i < queue.length && group.length < options.maxSize; ) {
      if (queue[i]!.key === key) group.push(...queue.splice(i, 1));
      else i++;
    }
    if (options.order) group.sort((a, b) => options.order!(a.item, b.item));
    return group;
  }

  function pump(): void {
    while (inFlight < options.concurrency && queue.length > 0) {
      const group = takeGroup();
      options.onGroup?.(group.length);
      inFlight++;
      void run(group).finally(() => {
        inFlight--;
        pump();
      });
    }
  }

  const alone = (w: Waiting<I, R>): Promise<void> => options.runAlone(w.item).then(w.resolve, w.reject);

  async function run(group: Waiting<I, R>[]): Promise<void> {
    if (group.length === 1) return alone(group[0]!);
    let answers: GroupAnswer<R>[];
    try {
      answers = await options.runGroup(group.map((w) => w.item));
    } catch (err) {
      // Nothing of the group committed. One item's error must not fail the others. The items
      // that run again alone do not hold the group's place: the next group may start meanwhile.
      options.onGroupFailed?.(err);
      for (const w of group) void alone(w);
      return;
    }
    group.forEach((w, i) => {
      const a = answers[i]!;
      if (a === ALONE) void alone(w);
      else if ('ok' in a) w.resolve(a.ok);
      else w.reject(a.error);
    });
  }

  return {
    submit(item) {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, key: options.keyOf?.(item) ?? '', resolve, reject });
        pump();
      });
    },
  };
}
