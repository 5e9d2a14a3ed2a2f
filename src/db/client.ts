import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { type Driver, Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import { type DataDirLock, lockDataDir } from './data-dir-lock.js';
import type { DB } from './schema.js';

export type Database = Kysely<DB>;
/** What a repo function runs its SQL on: the database, or the transaction a service opened. */
export type Executor = Kysely<DB> | Transaction<DB>;

export interface DatabaseHandle {
  db: Database;
  kind: 'pglite' | 'postgres';
  /** Where the data lives, for the start-up banner (password masked by the caller). */
  location: string;
  /** The PostgreSQL pool (null on PGlite), for bulk writes through COPY, which Kysely cannot stream. */
  pool?: pg.Pool | null;
  /**
   * Runs a multi-statement SQL script on `conn` (a connection or transaction already held), as
   * migrations need. PGlite's extended-protocol `query` takes one statement; its `exec` takes many.
   */
  execScript(conn: Executor, script: string): Promise<void>;
  close(): Promise<void>;
}

// int8 (counts, sums) comes back from `pg` as a string and from PGlite as a number; make both
// numbers. Our int8 values are counters and minor-unit amounts, far below 2^53.
pg.types.setTypeParser(20, (value) => Number(value));

/**
 * Embedded PostgreSQL (PGlite) in `dataDir`, or in memory when `dataDir` is null. A data
 * directory is locked for this process until close (DataDirInUseError when another holds it).
 */
export async function openPglite(dataDir: string | null): Promise<DatabaseHandle> {
  let location = 'memory';
  let lock: DataDirLock | null = null;
  let client: PGlite;
  try {
    if (dataDir) {
      lock = lockDataDir(dataDir);
      location = resolve(dataDir, 'pglite');
      mkdirSync(location, { recursive: true });
    }
    client = dataDir ? await PGlite.create(location) : await PGlite.create();
  } catch (err) {
    lock?.release();
    throw err;
  }
  const db = new Kysely<DB>({ dialect: new TurnTakingPGliteDialect(client) });
  return {
    db,
    kind: 'pglite',
    location,
    pool: null,
    // The caller holds the single PGlite connection (Kysely serialises access), so exec runs
    // inside the caller's transaction.
    execScript: async (_conn, script) => {
      await client.exec(script);
    },
    close: async () => {
      try {
        await db.destroy();
        if (!client.closed) await client.close();
      } finally {
        lock?.release();
      }
    },
  };
}

/**
 * PGlite runs PostgreSQL inside this process and answers every query without real I/O: its
 * promises settle as microtasks, so a job that runs one transaction after another (a code batch,
 * an import) never lets the event loop reach the network, and the server stops answering, even
 * /health, until the job ends (a 1,000,000-code batch froze it for 27 s). So every hand-out of
 * the connection first lets the event loop turn twice: a request on a new connection (a
 * liveness probe's) is accepted in one turn and read in the next, and queues for the connection
 * ahead of the job's next transaction. With one turn such requests waited several of the job's
 * transactions each (p50 535 ms against 52 ms, with 50 ms busy spans between turns). A turn
 * costs microseconds, below the noise of a PGlite statement (about 300 us for `select $1`).
 */
class TurnTakingPGliteDialect extends PGliteDialect {
  override createDriver(): Driver {
    const driver = super.createDriver();
    const acquire = driver.acquireConnection.bind(driver);
    driver.acquireConnection = async () => {
      await nextTurn();
      await nextTurn();
      return acquire();
    };
    return driver;
  }
}

export async function openPostgres(url: string, poolSize: number, options: { preparedStatements?: boolean } = {}): Promise<DatabaseHandle> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, application_name: 'marketing-hub' });
  // A dropped idle connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  // Nor one dropped while checked out (PostgreSQL restarted mid-request: 57P01): pg-pool listens
  // for errors on idle clients only, and an unheard 'error' event ends the process. The query
  // in flight fails instead, and the pool discards the broken client when it is released.
  pool.on('connect', (client) => client.on('error', () => {}));
  markConnectFailures(pool);
  if (options.preparedStatements !== false) pool.on('connect', (client) => usePreparedStatements(client));
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    kind: 'postgres',
    location: url,
    pool,
    // Without parameters `pg` uses the simple query protocol, which accepts several statements.
    execScript: async (conn, script) => {
      await sql.raw(script).execute(conn);
    },
    close: () => db.destroy(),
  };
}

/**
 * A failed connect (the server down or still starting) is marked as the database being away, so
 * the request is refused with 503 database_unavailable, not a 500. Kysely takes connections by
 * the promise form; pg-pool's own callers use the callback form, left as it is.
 */
function markConnectFailures(pool: pg.Pool): void {
  const connect = pool.connect.bind(pool) as (callback?: unknown) => Promise<pg.PoolClient> | undefined;
  (pool as unknown as { connect: (callback?: unknown) => unknown }).connect = (callback?: unknown) => {
    if (callback) return connect(callback);
    return connect()!.catch((err: unknown) => {
      if (err && typeof err === 'object') Object.assign(err, { databaseUnavailable: true });
      throw err;
    });
  };
}

const statementNames = new Map<string, string>();

// Above this many elements a set-based statement stays named: a large batch (say 1,000 trigger
// events) did better with its cached plan than planned afresh (11,200-11,400 against 9,300
// events/s), and the plans cached for it are made for large arrays.
const LARGE_ARRAY = 100;

/** A statement over small arrays (`unnest`), to be planned for its own arrays each time. */
function plannedPerCall(text: string, values: readonly unknown[]): boolean {
  return text.includes('unnest(') && !values.some((v) => Array.isArray(v) && v.length > LARGE_ARRAY);
}

/**
 * Makes every parameterised query of this connection a named prepared statement, so PostgreSQL
 * parses and plans each distinct statement once per connection and afterwards only binds and
 * executes it. On the grant path that is most of PostgreSQL's work per statement. Kysely calls
 * `client.query(sql, params)`; statements without parameters (BEGIN, migrations) stay unnamed.
 *
 * Set-based statements over small arrays (`unnest($1::text[])` with up to LARGE_ARRAY elements:
 * the groups of single task events) stay unnamed too, so each is planned for its own arrays.
 * After five executions a named statement may switch to a generic plan, which cannot know how
 * many elements an array holds; such a plan made single-event trigger runs bimodal (about 1,100
 * or about 2,400 events/s from one run to the next, depending on the plan a connection kept;
 * planned per call, four runs in a row gave 1,830-2,200).
 */
function usePreparedStatements(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (text: unknown, values?: unknown, callback?: unknown) => {
    if (typeof text !== 'string' || !Array.isArray(values) || values.length === 0 || plannedPerCall(text, values)) return query(text, values, callback);
    let name = statementNames.get(text);
    if (!name) {
      name = `mh_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
      if (statementNames.size < 10_000) statementNames.set(text, name);
    }
    return query({ name, text, values }, callback);
  };
}

export async function openDatabase(options: {
  url?: string | undefined;
  dataDir: string;
  poolSize: number;
  preparedStatements?: boolean;
}): Promise<DatabaseHandle> {
  return options.url
    ? openPostgres(options.url, options.poolSize, { preparedStatements: options.preparedStatements ?? true })
    : openPglite(options.dataDir);
}

/** Runs `fn` in a transaction: the caller's, if `executor` already is one, or a new one. */
export async function inTransaction<T>(executor: Executor, fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  if (executor.isTransaction) return fn(executor as Transaction<DB>);
  return runTransaction(executor, fn);
}

// Work to run once a transaction commits, by transaction (dropped with it on a rollback).
const afterCommitWork = new WeakMap<object, (() => void)[]>();

/**
 * Runs `fn` once the transaction `exec` has committed, or at once when `exec` is not a
 * transaction; never when it rolls back (a deadlock retry runs the work again and registers
 * again). For effects that must describe committed work only, such as metrics. The transaction
 * must have been started with runTransaction (or inTransaction, or the HTTP unit of work).
 */
export function afterCommit(exec: Executor, fn: () => void): void {
  if (!exec.isTransaction) return fn();
  const queue = afterCommitWork.get(exec);
  if (queue) queue.push(fn);
  else afterCommitWork.set(exec, [fn]);
}

/** A new transaction around `fn`; after it commits, the work `afterCommit` registered on it runs. */
export async function runTransaction<T>(executor: Executor, fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  let trx: Transaction<DB> | undefined;
  const value = await executor.transaction().execute((t) => {
    trx = t;
    return fn(t);
  });
  const queue = trx && afterCommitWork.get(trx);
  if (queue) {
    afterCommitWork.delete(trx!);
    for (const work of queue) work();
  }
  return value;
}

export async function pingDatabase(db: Executor): Promise<void> {
  await sql`select 1`.execute(db);
}
