/**
 * Group reads: lookups that arrive while `concurrency` reads are in flight wait for the next one
 * and go together, up to `maxSize`, as ONE query. A round trip to the database costs more CPU in
 * the sockets (and in parsing and planning the statement) than a primary-key lookup itself, so
 * under load many lookups share one; with no load a lookup goes at once, alone. The same pattern
 * as the grants' group commit (src/modules/grants/grant.statement.ts), for reads.
 */
export interface ReadBatcher<K, V> {
  /** The rows `load` finds for this key (as it would alone). */
  get(key: K): Promise<V[]>;
}

interface Waiting<K, V> {
  key: K;
  resolve: (rows: V[]) => void;
  reject: (err: unknown) => void;
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
  const queue: Waiting<K, V>[] = [];
  let inFlight = 0;

  function pump(): void {
    while (inFlight < options.concurrency && queue.length > 0) {
      const batch = queue.splice(0, options.maxSize);
      inFlight++;
      void run(batch).finally(() => {
        inFlight--;
        pump();
      });
    }
  }

  async function run(batch: Waiting<K, V>[]): Promise<void> {
    let rows: V[];
    try {
      rows = await options.load(batch.map((w) => w.key));
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    const byKey = new Map<string, V[]>();
    for (const row of rows) {
      const k = options.rowKey(row);
      const list = byKey.get(k);
      if (list) list.push(row);
      else byKey.set(k, [row]);
    }
    for (const w of batch) w.resolve(byKey.get(options.keyOf(w.key)) ?? []);
  }

  return {
    get(key) {
      return new Promise((resolve, reject) => {
        queue.push({ key, resolve, reject });
        pump();
      });
    },
  };
}
