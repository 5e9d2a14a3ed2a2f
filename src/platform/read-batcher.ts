import DataLoader from 'dataloader';

/**
 * Group reads: lookups made in the same tick go together, up to `maxSize`, as ONE query, and
 * while `concurrency` queries are in flight, later lookups keep joining the next batch instead of
 * opening more. A round trip to the database costs more CPU in the sockets (and in parsing and
 * planning the statement) than a primary-key lookup itself, so under load many lookups share
 * one; with no load a lookup goes at the end of its tick, alone. The same pattern as the grants'
 * group commit (src/platform/group-commit.ts), for reads. DataLoader does the grouping; the
 * in-flight bound is its batch scheduler below.
 */
export interface ReadBatcher<K, V> {
  /** The rows `load` finds for this key (as it would alone). */
  get(key: K): Promise<V[]>;
}

export function createReadBatcher<K, V>(options: {
  /** One query for all of the keys; every row must name the key it belongs to through `rowKey`. */
  load: (keys: readonly K[]) => Promise<V[]>;
  /** The identity of a key and of the key a row answers (same string for both). */
  keyOf: (key: K) => string;
  rowKey: (row: V) => string;
  maxSize: number;
  concurrency: number;
}): ReadBatcher<K, V> {
  // Batches DataLoader has closed for the tick (or filled), waiting for a free query slot.
  const ready: (() => void)[] = [];
  let inFlight = 0;
  let releaseQueued = false;

  function release(): void {
    releaseQueued = false;
    while (inFlight < options.concurrency && ready.length > 0) ready.shift()!();
  }

  async function loadBatch(keys: readonly K[]): Promise<V[][]> {
    inFlight++;
    try {
      const rows = await options.load(keys);
      const byKey = new Map<string, V[]>();
      for (const row of rows) {
        const k = options.rowKey(row);
        const list = byKey.get(k);
        if (list) list.push(row);
        else byKey.set(k, [row]);
      }
      return keys.map((key) => byKey.get(options.keyOf(key)) ?? []);
    } finally {
      inFlight--;
      release();
    }
  }

  const loader = new DataLoader<K, V[]>(loadBatch, {
    // No memo: a read must see the row as it is now, and a repeated key is read again (as before).
    cache: false,
    maxBatchSize: options.maxSize,
    // DataLoader hands over a batch as it opens it, before its first key is added: release after
    // the current tick's promise jobs (DataLoader's own default timing), so the tick's lookups are
    // in it. A batch waiting for a slot goes when a query ends (loadBatch's finally).
    batchScheduleFn: (dispatch) => {
      ready.push(dispatch);
      if (!releaseQueued) {
        releaseQueued = true;
        void Promise.resolve().then(() => process.nextTick(release));
      }
    },
  });

  return {
    get: (key) => loader.load(key),
  };
}
