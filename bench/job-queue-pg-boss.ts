/**
 * bench/job-queue-pg-boss: our job queue (platform/jobs) against pg-boss, to decide whether to
 * replace ours. pg-boss is not a dependency, so it is loaded from a scratch
 * directory where it was installed (`cd /tmp/eval && npm init -y && npm install pg-boss`):
 *
 *   PG_BOSS_DIR=/tmp/eval npx tsx bench/job-queue-pg-boss.ts
 *     (BENCH_DATABASE_URL default postgres://postgres@127.0.0.1:5432/test, the admin database a
 *      scratch database is created from; BENCH_JOBS 2000)
 *
 * On embedded PGlite and on PostgreSQL, for each queue: enqueue BENCH_JOBS jobs, each in its own
 * transaction of the caller (as a grant writes its delivery), then drain them with a no-op
 * handler, 8 at a time. Also checks what the grant path needs: an enqueue inside the caller's
 * transaction that a rollback removes, and an enqueue from inside a SQL function.
 */
import { createRequire } from 'node:module';
import { CompiledQuery, sql } from 'kysely';
import { type DatabaseHandle, type Executor, openPglite, openPostgres } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { ManualClock } from '../src/platform/clock.js';
import { createJobQueue, createJobRunner } from '../src/platform/jobs.js';
import { admin, withDatabase } from './support.js';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const JOBS = Number(process.env.BENCH_JOBS ?? 2000);
const BATCH = 8;
const WARM_UP = 100;
const bossDir = process.env.PG_BOSS_DIR;
if (!bossDir) throw new Error('set PG_BOSS_DIR to a directory where pg-boss is installed');

// pg-boss's own surface, as far as this script uses it (the package is not installed here).
interface Boss {
  start(): Promise<unknown>;
  stop(options?: { graceful?: boolean; close?: boolean }): Promise<void>;
  createQueue(name: string): Promise<void>;
  send(name: string, data: object, options?: { db?: SqlAdapter }): Promise<string | null>;
  fetch(name: string, options?: { batchSize?: number }): Promise<{ id: string }[]>;
  complete(name: string, ids: string[]): Promise<unknown>;
  getQueueSize(name: string): Promise<number>;
  on(event: 'error', listener: (err: unknown) => void): void;
}
interface SqlAdapter {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}
const PgBoss = createRequire(`${bossDir}/`)('pg-boss') as new (options: object) => Boss;
const bossVersion = (createRequire(`${bossDir}/`)('pg-boss/package.json') as { version: string }).version;

/** pg-boss's `db` option over one of our executors (the root database or a caller's transaction). */
function adapter(exec: Executor, handle: DatabaseHandle): SqlAdapter {
  return {
    async executeSql(text, values) {
      if (values?.length || !text.includes(';')) return exec.executeQuery(CompiledQuery.raw(text, values ?? []));
      // Its install script is many statements; PGlite's extended-protocol query takes one.
      await handle.execScript(exec, text);
      return { rows: [] };
    },
  };
}

const perJob = (ms: number) => `${((ms * 1000) / JOBS).toFixed(0).padStart(5)} µs/job`;

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

async function compare(label: string, handle: DatabaseHandle, bossOptions: object): Promise<void> {
  const { db } = handle;
  await migrate(handle);
  const clock = new ManualClock(new Date());
  const queue = createJobQueue({ db, clock });
  const runner = createJobRunner({ db, clock, log: { info: () => {}, warn: () => {}, error: () => {} } });
  runner.register('bench', async () => {}, { concurrency: BATCH });

  const oursEnqueueAll = async (n: number) => {
    for (let i = 0; i < n; i++) await db.transaction().execute((trx) => queue.enqueue(trx, { tenantId: 't1', queue: 'bench', payload: { i } }));
  };
  const oursDrainAll = async (n: number) => {
    if ((await runner.runDue()) !== n) throw new Error('ours: not every job ran');
  };
  // Untimed warm-up of each side first: connections, plans, the JIT.
  await oursEnqueueAll(WARM_UP);
  await oursDrainAll(WARM_UP);
  const oursEnqueue = await timed(() => oursEnqueueAll(JOBS));
  const oursDrain = await timed(() => oursDrainAll(JOBS));

  const boss = new PgBoss({ ...bossOptions, supervise: false, schedule: false });
  boss.on('error', (err) => console.error(err));
  const installMs = await timed(async () => {
    await boss.start();
    await boss.createQueue('bench');
  });
  const bossEnqueueAll = async (n: number) => {
    for (let i = 0; i < n; i++) await db.transaction().execute((trx) => boss.send('bench', { i }, { db: adapter(trx, handle) }));
  };
  // fetch + complete of a batch, as its work() does with batchSize: two statements per batch.
  const bossDrainAll = async (n: number) => {
    let drained = 0;
    for (;;) {
      const jobs = await boss.fetch('bench', { batchSize: BATCH });
      if (jobs.length === 0) break;
      await boss.complete('bench', jobs.map((j) => j.id));
      drained += jobs.length;
    }
    if (drained !== n) throw new Error(`pg-boss: ${drained} of ${n} jobs ran`);
  };
  await bossEnqueueAll(WARM_UP);
  await bossDrainAll(WARM_UP);
  const bossEnqueue = await timed(() => bossEnqueueAll(JOBS));
  const bossDrain = await timed(() => bossDrainAll(JOBS));

  // The grant path: enqueue in the caller's transaction, and from inside a SQL function.
  await db.transaction().execute(async (trx) => {
    await boss.send('bench', { rolled: true }, { db: adapter(trx, handle) });
    await sql`select 1`.execute(trx);
  });
  const before = await boss.getQueueSize('bench');
  await db
    .transaction()
    .execute(async (trx) => {
      await boss.send('bench', { rolled: true }, { db: adapter(trx, handle) });
      throw new Error('rollback');
    })
    .catch(() => undefined);
  const rolledBack = (await boss.getQueueSize('bench')) === before;
  // pg-boss has no SQL-level enqueue (graphile-worker's add_job is the counterpart); a function
  // can only write pg-boss's internal, partitioned table and skip its defaults.
  await sql
    .raw(`create or replace function bench_enqueue() returns void language sql as $$ insert into pgboss.job (name, data) values ('bench', '{"from": "sql"}') $$`)
    .execute(db);
  await sql`select bench_enqueue()`.execute(db);
  const fromSql = (await boss.fetch('bench', { batchSize: 100 })).length === before + 1;
  await boss.stop({ graceful: false, close: true });

  console.log(`${label} (pg-boss ${bossVersion}, ${JOBS} jobs, one transaction each; drain ${BATCH} at a time):`);
  console.log(`  enqueue  ours ${perJob(oursEnqueue)}   pg-boss ${perJob(bossEnqueue)}   ratio ${(bossEnqueue / oursEnqueue).toFixed(2)}`);
  console.log(`  drain    ours ${perJob(oursDrain)}   pg-boss ${perJob(bossDrain)}   ratio ${(bossDrain / oursDrain).toFixed(2)}`);
  console.log(`  pg-boss install + createQueue ${installMs.toFixed(0)} ms; enqueue in caller's transaction, gone on rollback: ${rolledBack}; enqueue from a SQL function (raw insert into pgboss.job): ${fromSql}`);
}

async function main(): Promise<void> {
  const pglite = await openPglite(null);
  try {
    await compare('PGlite (in memory)', pglite, { db: adapter(pglite.db, pglite) });
  } finally {
    await pglite.close();
  }
  const name = `bench_jobs_${Date.now()}`;
  await admin(ADMIN_URL, `create database ${name}`);
  const url = withDatabase(ADMIN_URL, name);
  const postgres = await openPostgres(url, 10);
  try {
    await compare('PostgreSQL', postgres, { connectionString: url, max: 10 });
  } finally {
    await postgres.close();
    await admin(ADMIN_URL, `drop database ${name} with (force)`);
  }
}

await main();
