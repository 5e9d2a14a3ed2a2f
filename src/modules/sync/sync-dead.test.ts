/**
 * A sync job the queue gives up (its attempts exhausted, or the worker of its last attempt gone)
 * never leaves its record `pending`: the record is `failed` with the last error and the attempts,
 * and `POST /api/v1/sync/retry/:orderId` brings it back. Against a real PostgreSQL target
 * (127.0.0.1:5432, a scratch database), on both runs of the service's own database.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Executor, runTransaction } from '../../db/client.js';
import { ManualClock } from '../../platform/clock.js';
import { claimJobs, createJobRunner, type JobRunner } from '../../platform/jobs.js';
import { closedPort } from '../../../test/helpers/tcp-proxy.js';
import { createScratchDatabase } from '../../../test/helpers/postgres-admin.js';
import { must, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { SYNC_QUEUE } from './index.js';

const PG_ADMIN = 'postgres://postgres@127.0.0.1:5432/postgres';
const silentLog = { info() {}, warn() {}, error() {} };
const LEASE_SECONDS = 60;
// The test's jobs move to a queue of their own, so its runner never takes (nor is raced for) the
// sync jobs of other test files sharing the database.
const QUEUE = `${SYNC_QUEUE}_dead_test_${Date.now().toString(36)}`;

let app: TestApp;
let runner: JobRunner;
const runnerClock = new ManualClock(new Date());
let target: { url: string; database: string; drop: () => Promise<void>; pool: pg.Pool };

/** Moves the runner's clock 10 minutes on (past any backoff and lease) and runs what is due. */
async function drain(): Promise<number> {
  runnerClock.set(new Date(Math.max(Date.now(), runnerClock.now().getTime()) + 600_000));
  return runner.runDue();
}

/** Moves the tenant's sync jobs (enqueued on the sync queue) onto the test's own queue. */
async function adopt(t: TenantFixture, exec: Executor = app.database.db): Promise<void> {
  await sql`update job set queue = ${QUEUE} where tenant_id = ${t.tenantId} and queue = ${SYNC_QUEUE}`.execute(exec);
}

async function jobOf(t: TenantFixture): Promise<{ status: string; attempts: number; max_attempts: number }> {
  const { rows } = await sql<{ status: string; attempts: number; max_attempts: number }>`select status, attempts, max_attempts from job where tenant_id = ${t.tenantId} and queue = ${QUEUE}`.execute(app.database.db);
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

let seq = 0;
async function setup(port: number) {
  const t = await app.newTenant();
  await target.pool.query(`create schema t_${t.tenantId}; create table t_${t.tenantId}.dmh_orders (dmh_order_id varchar(64) primary key, student_phone varchar(32))`);
  const body = {
    name: 'crm', type: 'postgresql', host: '127.0.0.1', port, user: 'postgres', password: 'pw', database: target.database,
    mappings: { order: { table: `t_${t.tenantId}.dmh_orders`, key_column: 'dmh_order_id', fields: { 'orders.phone': 'student_phone' } } },
  };
  const { target_id } = must(await t.call('POST', '/v1/sync/targets', body, { key: t.admin }), 201).body as { target_id: string };
  const orderId = `ord_dead_${Date.now().toString(36)}_${++seq}`;
  // Enqueued and moved in one transaction: no other runner ever sees the job on the sync queue.
  await runTransaction(app.database.db, async (trx) => {
    await app.app.services.sync.enqueue(trx, { tenant_id: t.tenantId, kind: 'order', record_id: orderId, order_id: orderId, record: { id: orderId, phone: '13800001111' } });
    await adopt(t, trx);
  });
  const rows = async () => (await target.pool.query(`select dmh_order_id from t_${t.tenantId}.dmh_orders`)).rows.map((r) => r.dmh_order_id as string);
  const status = async () => must(await t.call('GET', `/api/v1/sync/status/${orderId}`), 200).body;
  return { t, target_id, orderId, rows, status };
}

beforeAll(async () => {
  app = await testApp();
  runner = createJobRunner({ db: app.database.db, clock: runnerClock, log: silentLog, random: () => 0.5, lockSeconds: LEASE_SECONDS });
  const { sync } = app.app.services;
  runner.register(QUEUE, sync.deliver, { concurrency: 4, onDead: sync.dead });
  const scratch = await createScratchDatabase(PG_ADMIN, 'syncdead');
  target = { ...scratch, database: new URL(scratch.url).pathname.slice(1), pool: new pg.Pool({ connectionString: scratch.url, max: 2 }) };
}, 60_000);

afterAll(async () => {
  await runner.stop();
  await target.pool.end();
  await app.app.services.sync.close();
  await target.drop();
});

describe('sync: a job given up by the queue', () => {
  it('after every attempt failed: failed with the driver error and all attempts, job dead; a retry brings it back once', async () => {
    const s = await setup(await closedPort());
    const { max_attempts } = await jobOf(s.t);
    for (let i = 0; i < max_attempts; i++) await drain();
    expect(await jobOf(s.t)).toMatchObject({ status: 'DEAD', attempts: max_attempts });
    const failed = await s.status();
    expect(failed.sync_status).toBe('failed');
    expect(failed.records[0]).toMatchObject({ status: 'failed', attempts: max_attempts });
    // The delivery's own error is kept (not the queue's wrapper).
    expect(failed.records[0].last_error).toMatch(/ECONNREFUSED|connect/i);
    expect(failed.records[0].last_error).not.toMatch(/^sync to postgresql target/);
    // Nothing runs any more by itself.
    expect(await drain()).toBe(0);
    expect((await s.status()).sync_status).toBe('failed');

    must(await s.t.call('PUT', `/v1/sync/targets/${s.target_id}`, { port: 5432 }, { key: s.t.admin }), 200);
    expect(must(await s.t.call('POST', `/api/v1/sync/retry/${s.orderId}`), 200).body).toMatchObject({ retried: 1, sync_status: 'pending' });
    await adopt(s.t);
    await drain();
    expect((await s.status()).records[0]).toMatchObject({ status: 'synced', attempts: max_attempts + 1, last_error: null });
    expect(await s.rows()).toEqual([s.orderId]);
  });

  it('when the worker of the last attempt vanished before recording anything: pending -> failed (lease expired); a retry syncs it', async () => {
    const s = await setup(5432);
    const { max_attempts } = await jobOf(s.t);
    // Every attempt is claimed by a worker that dies before the handler records an outcome.
    for (let i = 0; i < max_attempts; i++) {
      runnerClock.set(new Date(runnerClock.now().getTime() + 600_000));
      expect(await claimJobs(app.database.db, { queue: QUEUE, limit: 100, now: runnerClock.now(), lockSeconds: LEASE_SECONDS })).toHaveLength(1);
    }
    expect((await s.status()).records[0]).toMatchObject({ status: 'pending', attempts: 0 });
    await drain();
    expect(await jobOf(s.t)).toMatchObject({ status: 'DEAD' });
    const failed = await s.status();
    expect(failed.sync_status).toBe('failed');
    expect(failed.records[0]).toMatchObject({ status: 'failed', attempts: max_attempts });
    expect(failed.records[0].last_error).toMatch(/lease expired/);
    expect(await s.rows()).toEqual([]);
    const metrics = (await app.call('GET', '/metrics', undefined, { key: null })).body as string;
    expect(metrics).toMatch(/marketing_sync_failures_total\{target_type="postgresql"\} [1-9]/);

    expect(must(await s.t.call('POST', `/api/v1/sync/retry/${s.orderId}`), 200).body.retried).toBe(1);
    await adopt(s.t);
    await drain();
    expect((await s.status()).records[0]).toMatchObject({ status: 'synced', last_error: null });
    expect(await s.rows()).toEqual([s.orderId]);
  });
});
