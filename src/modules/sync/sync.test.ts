/**
 * Sync for real: the service (PGlite or PostgreSQL, as the run) writes orders and rewards into a
 * real PostgreSQL target (127.0.0.1:5432, a scratch database) and a real MariaDB target
 * (127.0.0.1:3306, a scratch database; skipped when MariaDB is not reachable), through the job
 * queue, including targets that are down and come back behind a TCP proxy.
 */
import { connect as netConnect } from 'node:net';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTransaction } from '../../db/client.js';
import { ManualClock } from '../../platform/clock.js';
import { createJobRunner, type JobRunner } from '../../platform/jobs.js';
import { closedPort, startTcpProxy, type TcpProxy } from '../../../test/helpers/tcp-proxy.js';
import { createScratchDatabase } from '../../../test/helpers/postgres-admin.js';
import { must, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { SYNC_QUEUE } from './index.js';

const PG_ADMIN = 'postgres://postgres@127.0.0.1:5432/postgres';
const PASSWORD = 'Pa55-word-that-must-never-be-answered';
const silentLog = { info() {}, warn() {}, error() {} };

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1');
    socket.setTimeout(1000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}
const mariaUp = await reachable(3306);

const ORDER_TABLE = `
  dmh_order_id varchar(64) not null primary key,
  student_phone varchar(32),
  student_name varchar(100),
  order_amount bigint,
  register_time timestamp null`;
const REWARD_TABLE = `
  dmh_reward_id varchar(64) not null,
  referrer varchar(64),
  reward_amount bigint,
  unique (dmh_reward_id)`;

const orderMapping = (table = 'dmh_orders') => ({
  table,
  key_column: 'dmh_order_id',
  fields: { 'orders.phone': 'student_phone', 'orders.form_data.name': 'student_name', 'orders.amount': 'order_amount', 'orders.created_at': 'register_time' },
});
const rewardMapping = { table: 'dmh_rewards', key_column: 'dmh_reward_id', fields: { 'rewards.user_id': 'referrer', 'rewards.amount': 'reward_amount' } };

let app: TestApp;
let runner: JobRunner;
const runnerClock = new ManualClock(new Date());
let pgTarget: { url: string; database: string; drop: () => Promise<void>; pool: pg.Pool };
const replies: unknown[] = [];

/** Runs every due sync job, the runner's clock first moved 10 minutes on (past any backoff). */
async function drain(): Promise<number> {
  runnerClock.set(new Date(Math.max(Date.now(), runnerClock.now().getTime()) + 600_000));
  return runner.runDue();
}

let orderSeq = 0;
/** Enqueues an order (and optionally its reward) as the payment transaction would. */
async function payOrder(t: TenantFixture, options: { orderId?: string; reward?: boolean } = {}) {
  const orderId = options.orderId ?? `ord_${Date.now().toString(36)}_${++orderSeq}`;
  const record = { id: orderId, phone: `1380000${String(orderSeq).padStart(4, '0')}`, form_data: { name: `学生${orderSeq}` }, amount: 9900, created_at: new Date('2026-12-07T10:00:00Z').toISOString() };
  const { sync } = app.app.services;
  await runTransaction(app.database.db, async (trx) => {
    await sync.enqueue(trx, { tenant_id: t.tenantId, kind: 'order', record_id: orderId, order_id: orderId, record });
    if (options.reward) {
      await sync.enqueue(trx, { tenant_id: t.tenantId, kind: 'reward', record_id: `rwd_${orderId}`, order_id: orderId, record: { id: `rwd_${orderId}`, user_id: 'u_referrer', amount: 990 } });
    }
  });
  return { orderId, record };
}

/** Every answer is kept: none may ever contain the password. */
async function call(t: TenantFixture, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, key?: string) {
  const reply = await t.call(method, url, body, key ? { key } : {});
  replies.push(reply.body);
  return reply;
}

async function newPgTarget(t: TenantFixture, port = 5432, extra: Record<string, unknown> = {}) {
  const body = { name: 'crm', type: 'postgresql', host: '127.0.0.1', port, user: 'postgres', password: PASSWORD, database: pgTarget.database, mappings: { order: orderMapping(`t_${t.tenantId}.dmh_orders`), reward: { ...rewardMapping, table: `t_${t.tenantId}.dmh_rewards` } }, ...extra };
  return must(await call(t, 'POST', '/v1/sync/targets', body, t.admin), 201).body as { target_id: string };
}

/** A schema per tenant in the scratch database holds its target tables. */
async function pgTables(t: TenantFixture) {
  await pgTarget.pool.query(`create schema t_${t.tenantId}; create table t_${t.tenantId}.dmh_orders (${ORDER_TABLE}); create table t_${t.tenantId}.dmh_rewards (${REWARD_TABLE})`);
  return {
    // bigint comes back as text or number depending on the process's pg type parsers.
    orders: async () => (await pgTarget.pool.query(`select * from t_${t.tenantId}.dmh_orders order by dmh_order_id`)).rows.map((r) => ({ ...r, order_amount: r.order_amount === null ? null : Number(r.order_amount) })),
    rewards: async () => (await pgTarget.pool.query(`select * from t_${t.tenantId}.dmh_rewards order by dmh_reward_id`)).rows.map((r) => ({ ...r, reward_amount: Number(r.reward_amount) })),
  };
}

beforeAll(async () => {
  app = await testApp();
  runner = createJobRunner({ db: app.database.db, clock: runnerClock, log: silentLog, random: () => 0.5 });
  runner.register(SYNC_QUEUE, app.app.services.sync.deliver, { concurrency: 8 });
  const scratch = await createScratchDatabase(PG_ADMIN, 'sync');
  const database = new URL(scratch.url).pathname.slice(1);
  pgTarget = { ...scratch, database, pool: new pg.Pool({ connectionString: scratch.url, max: 2 }) };
}, 60_000);

afterAll(async () => {
  await runner.stop();
  await pgTarget.pool.end();
  // The service's pools to the target close before the target database is dropped under them.
  await app.app.services.sync.close();
  await pgTarget.drop();
  // The password was never in any answer of this file.
  expect(JSON.stringify(replies)).not.toContain(PASSWORD);
  expect(JSON.stringify(replies)).not.toContain('password_sealed');
});

describe('sync targets', () => {
  it('admin keys create, read, change and delete targets; the password is sealed and never answered', async () => {
    const t = await app.newTenant();
    const created = await newPgTarget(t);
    expect(created).toMatchObject({ type: 'postgresql', host: '127.0.0.1', port: 5432, user: 'postgres', password_set: true, ssl: false });
    expect(created).not.toHaveProperty('password');
    const stored = await app.database.db.withTables<{ sync_target: { target_id: string; password_sealed: string } }>().selectFrom('sync_target').select('password_sealed').where('target_id', '=', created.target_id).executeTakeFirstOrThrow();
    expect(stored.password_sealed).toMatch(/^v1\./);
    expect(stored.password_sealed).not.toContain(PASSWORD);

    expect(must(await call(t, 'GET', '/v1/sync/targets', undefined, t.readonly), 200).body.data).toHaveLength(1);
    const changed = must(await call(t, 'PUT', `/v1/sync/targets/${created.target_id}`, { name: 'crm2', port: 5433 }, t.admin), 200).body;
    expect(changed).toMatchObject({ name: 'crm2', port: 5433, password_set: true });
    expect(must(await call(t, 'GET', `/v1/sync/targets/${created.target_id}`, undefined, t.readonly), 200).body.name).toBe('crm2');

    expect(must(await call(t, 'POST', '/v1/sync/targets', { name: 'x' }, t.service), 403).body.error.code).toBe('insufficient_role');
    expect(must(await call(t, 'PUT', `/v1/sync/targets/${created.target_id}`, { name: 'x' }, t.service), 403).body.error.code).toBe('insufficient_role');
    expect((await call(t, 'DELETE', `/v1/sync/targets/${created.target_id}`, undefined, t.admin)).status).toBe(204);
    expect(must(await call(t, 'GET', `/v1/sync/targets/${created.target_id}`), 404).body.error.code).toBe('sync_target_not_found');
    expect(must(await call(t, 'DELETE', `/v1/sync/targets/${created.target_id}`, undefined, t.admin), 404).body.error.code).toBe('sync_target_not_found');
  });

  it('refuses mappings that are not SQL identifiers or paths, with invalid_mapping and nothing written', async () => {
    const t = await app.newTenant();
    const base = { name: 'crm', type: 'mysql', host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'x' };
    const bad = [
      { order: { ...orderMapping(), table: 'orders; drop table x' } },
      { order: { ...orderMapping(), key_column: 'id"' } },
      { order: { ...orderMapping(), fields: { 'orders.phone': 'student phone' } } },
      { order: { ...orderMapping(), fields: { 'orders.phone': 'a', 'orders.amount': 'a' } } },
      { order: { ...orderMapping(), fields: { 'orders.phone[0]': 'a' } } },
      { reward: { ...rewardMapping, fields: { 'orders.amount': 'a' } } },
    ];
    for (const mappings of bad) expect(must(await call(t, 'POST', '/v1/sync/targets', { ...base, mappings }, t.admin), 400).body.error.code).toBe('invalid_mapping');
    expect(must(await call(t, 'POST', '/v1/sync/targets', { ...base, type: 'db2', mappings: { order: orderMapping() } }, t.admin), 400).body.error.code).toBe('invalid_request');
    expect(must(await call(t, 'POST', '/v1/sync/targets', { ...base, mappings: {} }, t.admin), 400).body.error.code).toBe('invalid_request');
    expect(must(await call(t, 'GET', '/v1/sync/targets', undefined, t.readonly), 200).body.data).toEqual([]);
  });
});

describe('sync into PostgreSQL', () => {
  it("copies orders and rewards with the document's mapping; status synced on both paths; health check ok", async () => {
    const t = await app.newTenant();
    const tables = await pgTables(t);
    const { target_id } = await newPgTarget(t);
    const check = must(await call(t, 'POST', `/v1/sync/targets/${target_id}/check`, undefined, t.admin), 200).body;
    expect(check).toMatchObject({
      ok: true,
      error: null,
      kinds: [
        { kind: 'order', table_found: true, missing_columns: [], key_unique: true },
        { kind: 'reward', table_found: true, missing_columns: [], key_unique: true },
      ],
    });

    const { orderId, record } = await payOrder(t, { reward: true });
    const pending = must(await call(t, 'GET', `/v1/sync/status/${orderId}`, undefined, t.readonly), 200).body;
    expect(pending.sync_status).toBe('pending');
    expect(pending.records.map((r: { kind: string; status: string }) => [r.kind, r.status]).sort()).toEqual([['order', 'pending'], ['reward', 'pending']]);

    expect(await drain()).toBe(2);
    const rows = await tables.orders();
    expect(rows).toEqual([{ dmh_order_id: orderId, student_phone: record.phone, student_name: record.form_data.name, order_amount: 9900, register_time: new Date('2026-12-07T10:00:00Z') }]);
    expect(await tables.rewards()).toEqual([{ dmh_reward_id: `rwd_${orderId}`, referrer: 'u_referrer', reward_amount: 990 }]);

    for (const url of [`/v1/sync/status/${orderId}`, `/api/v1/sync/status/${orderId}`]) {
      const status = must(await call(t, 'GET', url, undefined, t.readonly), 200).body;
      expect(status.sync_status).toBe('synced');
      for (const r of status.records) expect(r).toMatchObject({ status: 'synced', attempts: 1, last_error: null, target_id });
    }
    const metrics = (await app.call('GET', '/metrics', undefined, { key: null })).body as string;
    expect(metrics).toMatch(/marketing_sync_lag_seconds_count\{target_type="postgresql"\} [1-9]/);
  });

  it('a record enqueued twice, a job run twice, and a record synced then retried insert one row', async () => {
    const t = await app.newTenant();
    const tables = await pgTables(t);
    await newPgTarget(t);
    const { orderId } = await payOrder(t);
    await payOrder(t, { orderId });
    expect((await call(t, 'GET', `/v1/sync/status/${orderId}`)).body.records).toHaveLength(1);
    // At least once: the worker died after the INSERT, before recording it; the record is retried.
    const [job] = await app.database.db.selectFrom('job').select(['job_id', 'payload']).where('tenant_id', '=', t.tenantId).where('queue', '=', SYNC_QUEUE).execute();
    await app.app.services.sync.deliver({ jobId: job!.job_id, tenantId: t.tenantId, queue: SYNC_QUEUE, payload: job!.payload, attempt: 1, maxAttempts: 12 });
    await app.database.db.withTables<{ sync_record: { tenant_id: string; status: string } }>().updateTable('sync_record').set({ status: 'failed' }).where('tenant_id', '=', t.tenantId).execute();
    expect(must(await call(t, 'POST', `/api/v1/sync/retry/${orderId}`), 200).body).toMatchObject({ retried: 1, sync_status: 'pending' });
    await drain();
    expect(await tables.orders()).toHaveLength(1);
    expect((await call(t, 'GET', `/v1/sync/status/${orderId}`)).body.sync_status).toBe('synced');
    // Nothing failed any more: a retry re-enqueues nothing.
    expect(must(await call(t, 'POST', `/v1/sync/retry/${orderId}`), 200).body.retried).toBe(0);
  });

  it('a target that is down then comes back: failed with the error and attempts, then synced; nothing lost, nothing doubled', async () => {
    const t = await app.newTenant();
    const tables = await pgTables(t);
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
    try {
      const { target_id } = await newPgTarget(t, proxy.port);
      await proxy.cut();
      const orders = [];
      for (let i = 0; i < 6; i++) orders.push((await payOrder(t)).orderId);
      // One of them is already in the target (say an earlier attempt got through): still one row.
      await pgTarget.pool.query(`insert into t_${t.tenantId}.dmh_orders (dmh_order_id) values ($1)`, [orders[0]]);

      const down = must(await call(t, 'POST', `/v1/sync/targets/${target_id}/check`, undefined, t.admin), 200).body;
      expect(down.ok).toBe(false);
      expect(down.error).toMatch(/ECONNREFUSED|connect/i);
      await drain();
      await drain();
      for (const orderId of orders) {
        const status = (await call(t, 'GET', `/v1/sync/status/${orderId}`)).body;
        expect(status.sync_status).toBe('failed');
        expect(status.records[0]).toMatchObject({ status: 'failed', attempts: 2 });
        expect(status.records[0].last_error).toMatch(/ECONNREFUSED|connect/i);
        expect(status.records[0].last_attempt_at).not.toBeNull();
      }
      const metrics = (await app.call('GET', '/metrics', undefined, { key: null })).body as string;
      expect(metrics).toMatch(/marketing_sync_failures_total\{target_type="postgresql"\} [1-9]/);

      await proxy.restore();
      await drain();
      for (const orderId of orders) {
        const status = (await call(t, 'GET', `/v1/sync/status/${orderId}`)).body;
        expect(status.records[0]).toMatchObject({ status: 'synced', attempts: 3, last_error: null });
      }
      const rows = await tables.orders();
      expect(rows.map((r) => r.dmh_order_id)).toEqual([...orders].sort());
    } finally {
      await proxy.close();
    }
  });

  it('manual retry after the job gave up: many parallel retries re-enqueue each failed record once', async () => {
    const t = await app.newTenant();
    const tables = await pgTables(t);
    const port = await closedPort();
    const { target_id } = await newPgTarget(t, port);
    const { orderId } = await payOrder(t, { reward: true });
    await drain();
    expect((await call(t, 'GET', `/v1/sync/status/${orderId}`)).body.sync_status).toBe('failed');
    // The target is fixed (right port); retries race.
    must(await call(t, 'PUT', `/v1/sync/targets/${target_id}`, { port: 5432 }, t.admin), 200);
    const answers = await Promise.all(Array.from({ length: 50 }, () => call(t, 'POST', `/v1/sync/retry/${orderId}`)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.reduce((n, a) => n + (a.body.retried as number), 0)).toBe(2);
    await drain();
    expect((await call(t, 'GET', `/v1/sync/status/${orderId}`)).body.sync_status).toBe('synced');
    expect(await tables.orders()).toHaveLength(1);
    expect(await tables.rewards()).toHaveLength(1);
  });

  it('six targets: one pending record and one job each, distinct ids; a second enqueue adds nothing', async () => {
    const t = await app.newTenant();
    const port = await closedPort();
    for (let i = 0; i < 6; i++) await newPgTarget(t, port);
    const { orderId, record } = await payOrder(t);
    await runTransaction(app.database.db, (trx) => app.app.services.sync.enqueue(trx, { tenant_id: t.tenantId, kind: 'order', record_id: orderId, order_id: orderId, record }));
    const { records } = must(await call(t, 'GET', `/v1/sync/status/${orderId}`), 200).body as { records: { sync_id: string; target_id: string; status: string }[] };
    expect(records.map((r) => r.status)).toEqual(Array(6).fill('pending'));
    expect(new Set(records.map((r) => r.sync_id)).size).toBe(6);
    expect(new Set(records.map((r) => r.target_id)).size).toBe(6);
  });

  it('without a target the records are skipped and no job is enqueued; unknown orders are 404', async () => {
    const t = await app.newTenant();
    const { orderId } = await payOrder(t, { reward: true });
    const status = must(await call(t, 'GET', `/v1/sync/status/${orderId}`), 200).body;
    expect(status.sync_status).toBe('skipped');
    expect(status.records.map((r: { status: string; target_id: string | null }) => [r.status, r.target_id])).toEqual([['skipped', null], ['skipped', null]]);
    expect(await app.database.db.selectFrom('job').select('job_id').where('tenant_id', '=', t.tenantId).where('queue', '=', SYNC_QUEUE).execute()).toEqual([]);
    expect(must(await call(t, 'GET', '/v1/sync/status/nope'), 404).body.error.code).toBe('sync_order_not_found');
    expect(must(await call(t, 'POST', '/api/v1/sync/retry/nope'), 404).body.error.code).toBe('sync_order_not_found');
  });

  it('the health check names a missing table, missing columns and a key column without a unique key', async () => {
    const t = await app.newTenant();
    await pgTables(t);
    const { target_id } = await newPgTarget(t, 5432, {
      mappings: { order: { ...orderMapping(`t_${t.tenantId}.dmh_orders`), fields: { 'orders.phone': 'student_phone', 'orders.city': 'city' } }, reward: { ...rewardMapping, table: `t_${t.tenantId}.nope` } },
    });
    const check = must(await call(t, 'POST', `/v1/sync/targets/${target_id}/check`, undefined, t.admin), 200).body;
    expect(check).toMatchObject({ ok: false, error: null, kinds: [{ kind: 'order', table_found: true, missing_columns: ['city'], key_unique: true }, { kind: 'reward', table_found: false, key_unique: false }] });

    await pgTarget.pool.query(`create table t_${t.tenantId}.loose (dmh_order_id text, student_phone text)`);
    const loose = await newPgTarget(t, 5432, { mappings: { order: { table: `t_${t.tenantId}.loose`, key_column: 'dmh_order_id', fields: { 'orders.phone': 'student_phone' } } } });
    const looseCheck = must(await call(t, 'POST', `/v1/sync/targets/${loose.target_id}/check`, undefined, t.admin), 200).body;
    expect(looseCheck).toMatchObject({ ok: false, error: null, kinds: [{ kind: 'order', table_found: true, missing_columns: [], key_unique: false }] });
  });
});

describe.skipIf(!mariaUp)('sync into MariaDB', () => {
  const database = `mh_sync_${Date.now().toString(36)}_${process.pid}`;
  let admin: mysql.Pool;

  beforeAll(async () => {
    admin = mysql.createPool({ host: '127.0.0.1', port: 3306, user: 'root', connectionLimit: 2 });
    await admin.query(`create database ${database}`);
  });
  afterAll(async () => {
    await admin.query(`drop database if exists ${database}`);
    await admin.end();
  });

  async function mariaTarget(t: TenantFixture, port: number) {
    const table = `o_${t.tenantId}`;
    await admin.query(`create table ${database}.${table} (${ORDER_TABLE})`);
    await admin.query(`create table ${database}.r_${t.tenantId} (${REWARD_TABLE})`);
    const body = { name: 'maria', type: 'mariadb', host: '127.0.0.1', port, user: 'root', password: '', database, mappings: { order: orderMapping(table), reward: { ...rewardMapping, table: `r_${t.tenantId}` } } };
    const { target_id } = must(await call(t, 'POST', '/v1/sync/targets', body, t.admin), 201).body as { target_id: string };
    return { target_id, orders: async () => (await admin.query(`select * from ${database}.${table} order by dmh_order_id`))[0] as Record<string, unknown>[] };
  }

  it("copies orders with the document's mapping, once, whatever the retries", async () => {
    const t = await app.newTenant();
    const target = await mariaTarget(t, 3306);
    expect(must(await call(t, 'POST', `/v1/sync/targets/${target.target_id}/check`, undefined, t.admin), 200).body).toMatchObject({
      ok: true,
      kinds: [{ kind: 'order', key_unique: true }, { kind: 'reward', key_unique: true }],
    });
    const { orderId, record } = await payOrder(t, { reward: true });
    await drain();
    const rows = await target.orders();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ dmh_order_id: orderId, student_phone: record.phone, student_name: record.form_data.name, order_amount: 9900 });
    expect((await call(t, 'GET', `/api/v1/sync/status/${orderId}`)).body.sync_status).toBe('synced');

    await app.database.db.withTables<{ sync_record: { tenant_id: string; status: string } }>().updateTable('sync_record').set({ status: 'failed' }).where('tenant_id', '=', t.tenantId).execute();
    expect(must(await call(t, 'POST', `/v1/sync/retry/${orderId}`), 200).body.retried).toBe(2);
    await drain();
    expect(await target.orders()).toHaveLength(1);
    expect((await admin.query(`select count(*) as n from ${database}.r_${t.tenantId}`))[0]).toEqual([{ n: 1 }]);
  });

  it('a MariaDB that is down then comes back: failed -> synced, nothing lost, nothing doubled', async () => {
    const t = await app.newTenant();
    const proxy: TcpProxy = await startTcpProxy({ host: '127.0.0.1', port: 3306 });
    try {
      const target = await mariaTarget(t, proxy.port);
      // The pool is opened while the target is up, then the target goes away.
      const first = await payOrder(t);
      await drain();
      await proxy.cut();
      const orders = [first.orderId];
      for (let i = 0; i < 5; i++) orders.push((await payOrder(t)).orderId);
      await drain();
      for (const orderId of orders.slice(1)) {
        const r = (await call(t, 'GET', `/v1/sync/status/${orderId}`)).body.records[0];
        expect(r).toMatchObject({ status: 'failed', attempts: 1 });
        expect(r.last_error).toBeTruthy();
      }
      await proxy.restore();
      await drain();
      for (const orderId of orders) expect((await call(t, 'GET', `/v1/sync/status/${orderId}`)).body.sync_status).toBe('synced');
      expect((await target.orders()).map((r) => r.dmh_order_id)).toEqual([...orders].sort());
    } finally {
      await proxy.close();
    }
  });
});
