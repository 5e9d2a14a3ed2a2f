/**
 * bench/referral: the referral hub on PostgreSQL, printed as ratios to a
 * baseline measured in the same run.
 *
 *   npx tsx bench/referral.ts        (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
 *
 * 1. Orders: keyless `POST /api/v1/orders` (the landing page's sign-up) through HTTP against
 *    `marketing-hub serve` in its own process: one published sandbox campaign with the product
 *    document's form, distinct phones, a referrer (`u_id`, one of REFERRERS) and a channel on each.
 *    The per-IP limit of the keyless page routes (rate_limits.referral_page, 600 a minute) is
 *    raised to 10^9 in the bench's config file: every request comes from 127.0.0.1.
 *    Baseline: pgbench inserting the same row (one statement, one transaction, the same columns)
 *    into `bench_order`, a copy of referral_order with all its indexes and constraints, from as
 *    many clients as the server has connections, against the same PostgreSQL.
 * 2. Payment callback to settled reward: the service in this process (buildApp on the same
 *    database, job workers running), so that the bench can sign callbacks with the sandbox
 *    provider's keys exactly as WeChat Pay signs them (RSA-SHA256 over timestamp/nonce/body, the
 *    resource in AEAD_AES_256_GCM). Notices are signed before the clock starts; 32 senders post
 *    them, one distinct pending order with a referrer each, to `POST
 *    /api/v1/orders/payment/callback` over keep-alive HTTP. The callback answers after its
 *    transaction (order paid, reward row, BALANCE credit through the ledger, sync enqueued) has
 *    committed, so its HTTP latency is "sent -> settled". At the end: per referrer, the sum of its
 *    reward rows = its BALANCE in the ledger = the rewards balance route.
 * 3. Sync lag: a PostgreSQL sync target (a second scratch database on the same server, the
 *    document's mapping, `arrived_at default clock_timestamp()` in the target table), then more
 *    orders paid by the 32 senders for SYNC_SECONDS while the service's sync workers deliver.
 *    Lag = the row's arrival in the target - its sync record's creation (in the payment
 *    transaction); success = rows in the target = orders paid in this phase, all records synced.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import pg from 'pg';
import { Agent, request } from 'undici';
import { buildApp } from '../src/app/build-app.js';
import { registerJobHandlers } from '../src/app/job-handlers.js';
import { loadConfig } from '../src/config/load.js';
import { openPostgres } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { systemClock } from '../src/platform/clock.js';
import { createJobRunner } from '../src/platform/jobs.js';
import { hashSecret } from '../src/platform/secrets.js';
import { admin, apiCaller, pgbench, postgresCpuMs, startServer, withDatabase } from './support.js';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const DURATION = Number(process.env.BENCH_SECONDS ?? 15);
const POOL = Number(process.env.BENCH_POOL ?? 32);
const SENDERS = 32;
const CALLBACKS = Number(process.env.BENCH_CALLBACKS ?? 3200);
const SYNC_SECONDS = Number(process.env.BENCH_SYNC_SECONDS ?? 20);
// BENCH_ONLY=orders: the orders case and its pgbench baseline only (no callbacks, no sync).
const ONLY = process.env.BENCH_ONLY;
if (ONLY !== undefined && ONLY !== 'orders') throw new Error(`BENCH_ONLY: only "orders" is known, not "${ONLY}"`);
const REFERRERS = 200;
const MASTER = 'bench-master-key-0123456789abcdefghij';
const REWARD = 1000;
const AMOUNT = 9900;

const FORM = {
  type: 'object',
  required: ['name', 'phone'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 50, title: '姓名' },
    phone: { type: 'string', pattern: '^1[3-9]\\d{9}$', title: '手机号' },
    age: { type: 'integer', minimum: 3, maximum: 99, title: '年龄' },
    grade: { type: 'string', enum: ['小学', '初中', '高中'], title: '年级' },
  },
  additionalProperties: false,
};

const ALONE = 200;

// Statements sent to PostgreSQL by this process (the service in phases 2 and 3), counted per callback.
let queries = 0;
const clientQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  queries++;
  return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof clientQuery;

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : Number.NaN);
const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
const ms = (x: number) => `${x.toFixed(1)} ms`;

let phoneSeq = 0;
function orderBody(campaignId: string): string {
  const n = ++phoneSeq;
  const phone = `13${String(n).padStart(9, '0')}`;
  return JSON.stringify({ campaign_id: campaignId, phone, form_data: { name: '张三', phone, age: 12, grade: '初中' }, u_id: `ref-${n % REFERRERS}`, c_id: 'poster' });
}

async function prepare(base: string) {
  const call = apiCaller(base);
  await call('POST', '/v1/tenants', MASTER, { tenant_id: 'bench', name: 'Bench' });
  const key = (await call('POST', '/v1/tenants/bench/api-keys', MASTER, { name: 'bench', role: 'admin' })).key as string;
  await call('POST', '/v1/apps', key, { product_code: 'app1', name: 'App' });
  const campaign = await call('POST', '/v1/campaigns', key, { campaign_name: '暑期编程课', campaign_type: 'PROMOTION', product_code: 'app1', start_time: '2020-01-01T00:00:00Z', end_time: '2099-12-31T23:59:59Z', form_fields: FORM });
  await call('PUT', `/v1/campaigns/${campaign.campaign_id}/referral`, key, { image_url: 'https://img.example.test/main.png', reward_rule: { type: 'fixed', amount: REWARD }, payment: { amount: AMOUNT, currency: 'CNY', provider: 'sandbox' } });
  await call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`, key);
  return { key, campaignId: campaign.campaign_id as string };
}

async function orders(url: string, campaignId: string, duration: number) {
  const result = await autocannon({
    url: `${url}/api/v1/orders`,
    connections: CONNECTIONS,
    duration,
    requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: orderBody(campaignId) }) }],
  });
  const ok = result.statusCodeStats?.['201' as '200']?.count ?? 0;
  const codes = Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => `${code}:${(s as { count: number }).count}`).join(' ');
  return { ok, perSecond: ok / result.duration, p50: result.latency.p50, p99: result.latency.p99, codes, errors: result.errors };
}

/** The same row as a sign-up, into a copy of referral_order with its indexes, one statement per transaction. */
function pgbenchScript(dir: string, campaignId: string): string {
  const file = join(dir, 'order.sql');
  writeFileSync(
    file,
    `insert into bench_order (order_id, tenant_id, campaign_id, phone, form_data, referrer_id, channel, status, pay_status, amount, currency, provider, trade_no, flag_reason, paid_at, created_at, updated_at)
select 'rfo_' || n, 'bench', '${campaignId}', '13' || lpad(n::text, 9, '0'), jsonb_build_object('name', '张三', 'phone', '13' || lpad(n::text, 9, '0'), 'age', 12, 'grade', '初中'), 'ref-' || (n % ${REFERRERS}), 'poster', 'pending', 'unpaid', ${AMOUNT}, 'CNY', 'sandbox', null, null, null, now(), now()
from nextval('bench_order_seq') n;\n`,
  );
  return file;
}

interface Sender {
  send: (headers: Record<string, string>, body: string) => Promise<{ status: number; ms: number }>;
  close: () => Promise<void>;
}

function sender(base: string): Sender {
  const dispatcher = new Agent({ connections: SENDERS, keepAliveTimeout: 30_000 });
  return {
    async send(headers, body) {
      const started = performance.now();
      const res = await request(`${base}/api/v1/orders/payment/callback`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body, dispatcher });
      await res.body.text();
      return { status: res.statusCode, ms: performance.now() - started };
    },
    close: () => dispatcher.close(),
  };
}

/** Posts every notice, SENDERS at a time; returns the latencies of the 2xx answers and the other statuses. */
async function pay(s: Sender, notices: { headers: Record<string, string>; body: string }[], until = Number.POSITIVE_INFINITY, senders = SENDERS) {
  const latencies: number[] = [];
  const other: Record<string, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (next < notices.length && performance.now() < until) {
        const n = notices[next++]!;
        const r = await s.send(n.headers, n.body);
        if (r.status >= 200 && r.status < 300) latencies.push(r.ms);
        else other[r.status] = (other[r.status] ?? 0) + 1;
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), other, sent: next };
}

async function main(): Promise<void> {
  const dbName = `mh_bench_referral_${Date.now().toString(36)}`;
  const targetName = `${dbName}_target`;
  await admin(ADMIN_URL, `create database ${dbName}`);
  await admin(ADMIN_URL, `create database ${targetName}`);
  const url = withDatabase(ADMIN_URL, dbName);
  const targetUrl = withDatabase(ADMIN_URL, targetName);
  process.env.MARKETING_SECRET_KEY ??= randomBytes(32).toString('base64');
  const dir = mkdtempSync(join(tmpdir(), 'bench-referral-'));
  const configFile = join(dir, 'config.yaml');
  // BENCH_PAGE_CACHE_MS: referrals.page_cache_ms (0 reads the page's settings and campaign on every sign-up, as before the cache).
  const pageCache = process.env.BENCH_PAGE_CACHE_MS === undefined ? '' : `referrals:\n  page_cache_ms: ${Number(process.env.BENCH_PAGE_CACHE_MS)}\n`;
  writeFileSync(configFile, `rate_limits:\n  referral_page:\n    per_client_ip:\n      limit: 1000000000\n      window_seconds: 60\n${pageCache}`);
  const c = new pg.Client({ connectionString: url });
  const target = new pg.Client({ connectionString: targetUrl });
  const lines: string[] = [];
  const say = (line: string) => (console.log(line), lines.push(line));
  try {
    // 1. Orders, in a server process of their own.
    const server = await startServer({ DATABASE_URL: url, MARKETING_MASTER_KEY: MASTER, MARKETING_DB_POOL_SIZE: String(POOL), MARKETING_CONFIG: configFile });
    let s: Awaited<ReturnType<typeof prepare>>;
    let http: Awaited<ReturnType<typeof orders>>;
    let serverCpu: number;
    let pgCpu: number;
    try {
      s = await prepare(server.url);
      await orders(server.url, s.campaignId, Math.min(5, DURATION)); // warm-up, counted nowhere
      const cpu0 = server.cpuMs();
      const pg0 = await postgresCpuMs(ADMIN_URL);
      http = await orders(server.url, s.campaignId, DURATION);
      serverCpu = (server.cpuMs() - cpu0) / Math.max(1, http.ok);
      pgCpu = ((await postgresCpuMs(ADMIN_URL)) - pg0) / Math.max(1, http.ok);
    } finally {
      await server.stop();
    }
    await c.connect();
    await c.query('create table bench_order (like referral_order including all); create sequence bench_order_seq');
    const pg0 = await postgresCpuMs(ADMIN_URL);
    const base = pgbench(url, pgbenchScript(dir, s.campaignId), { clients: POOL, seconds: DURATION });
    const pgbenchCpu = ((await postgresCpuMs(ADMIN_URL)) - pg0) / Math.max(1, base.transactions);
    await c.query('drop table bench_order; drop sequence bench_order_seq');
    const ordersReport = () => {
      say(`\nbench/referral  PostgreSQL, ${CONNECTIONS} HTTP connections, server pool ${POOL}, ${DURATION} s per timed case\n`);
      say(`orders (POST /api/v1/orders, one API process)  ${http.perSecond.toFixed(0)} orders/s  p50 ${http.p50} ms  p99 ${http.p99} ms  ok ${http.ok}  statuses ${http.codes}${http.errors ? `  socket errors ${http.errors}` : ''}`);
      say(`  CPU per order: API process ${serverCpu.toFixed(2)} ms, PostgreSQL ${pgCpu.toFixed(2)} ms`);
      say(`pgbench INSERT of the same row (copy of referral_order with its indexes, ${POOL} clients)  ${base.tps.toFixed(0)} tps  avg ${base.latencyMs} ms  PostgreSQL CPU ${pgbenchCpu.toFixed(2)} ms/row`);
    };
    const ordersTargets = () => {
      say(`  orders/s >= 1000                          ${http.perSecond.toFixed(0)}  ${met(http.perSecond >= 1000)}`);
      say(`  orders/s / pgbench tps >= 0.40            ${(http.perSecond / base.tps).toFixed(2)}  ${met(http.perSecond / base.tps >= 0.4)}`);
    };
    if (ONLY === 'orders') {
      ordersReport();
      say('\ntargets');
      ordersTargets();
      return;
    }

    // 2 and 3. Callbacks and sync, the service in this process.
    const handle = await openPostgres(url, POOL);
    await migrate(handle);
    // BENCH_SYNC_CONCURRENCY: sync deliveries in flight in this process (sync.concurrency; default the service's, 4).
    const syncConcurrency = process.env.BENCH_SYNC_CONCURRENCY ? { 'sync.concurrency': Number(process.env.BENCH_SYNC_CONCURRENCY), 'sync.pool_max': Number(process.env.BENCH_SYNC_CONCURRENCY) } : {};
    const config = loadConfig({ env: {}, file: configFile, overrides: { 'log.level': 'silent', 'webhooks.allow_private_networks': true, ...syncConcurrency } });
    const app = await buildApp({ config, database: handle, masterKeyHash: hashSecret(MASTER), logger: false });
    const runner = createJobRunner({ db: handle.db, clock: systemClock, log: { info() {}, warn() {}, error() {} }, pollMs: config.jobs.poll_ms, lockSeconds: config.jobs.lock_seconds });
    registerJobHandlers(runner, app.services);
    const base2 = await app.listen({ port: 0, host: '127.0.0.1' });
    runner.start();
    const sandbox = app.services.referralSandbox as unknown as { ready?: () => Promise<unknown>; notice: (id: string, o: { amount: number }) => { headers: Record<string, string>; body: string } };
    await sandbox.ready?.();
    const pending = async (limit: number) =>
      (await c.query<{ order_id: string }>(`select order_id from referral_order where status = 'pending' and referrer_id is not null order by created_at, order_id limit $1`, [limit])).rows.map((r) => r.order_id);
    const sign = (ids: string[]): { headers: Record<string, string>; body: string }[] => ids.map((id) => sandbox.notice(id, { amount: AMOUNT }));
    const post = sender(base2);
    let callbacks: Awaited<ReturnType<typeof pay>>;
    let balances: string;
    let callbackCpu = { api: Number.NaN, pg: Number.NaN, queries: Number.NaN };
    let alone: Awaited<ReturnType<typeof pay>>;
    let callbackRate = 0;
    let sync: { paid: number; rows: number; synced: number; lags: number[]; rate: number; other: Record<string, number>; waitedMs: number };
    try {
      const warm = SENDERS * 10;
      // Enough pending orders for phases 2 and 3 (phase 1 may have made fewer on a busy machine).
      const wanted = CALLBACKS + warm + ALONE + Number(process.env.BENCH_SYNC_ORDERS ?? 6000);
      const have = (await pending(wanted)).length;
      let made = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (made < wanted - have) {
            made++;
            const r = await app.inject({ method: 'POST', url: '/api/v1/orders', headers: { 'content-type': 'application/json' }, payload: orderBody(s.campaignId) });
            if (r.statusCode !== 201) throw new Error(`order: ${r.statusCode} ${r.body}`);
          }
        }),
      );
      const ids = await pending(CALLBACKS + warm + ALONE);
      if (ids.length < CALLBACKS + warm + ALONE) throw new Error(`only ${ids.length} pending orders for the callbacks`);
      const notices = sign(ids);
      await pay(post, notices.slice(0, warm)); // warm-up
      // One sender: the callback's own latency, without waiting for the CPU behind 31 others.
      alone = await pay(post, notices.slice(warm, warm + ALONE), Number.POSITIVE_INFINITY, 1);
      const cpu0 = process.cpuUsage();
      const pgc0 = await postgresCpuMs(ADMIN_URL);
      const q0 = queries;
      const t0 = performance.now();
      callbacks = await pay(post, notices.slice(warm + ALONE));
      callbackRate = callbacks.latencies.length / ((performance.now() - t0) / 1000);
      const cpu = process.cpuUsage(cpu0);
      const n = Math.max(1, callbacks.latencies.length);
      callbackCpu = { api: (cpu.user + cpu.system) / 1000 / n, pg: ((await postgresCpuMs(ADMIN_URL)) - pgc0) / n, queries: (queries - q0) / n };
      balances = await checkBalances(c, base2, s.key);

      // 3. Sync: a target, then orders paid for SYNC_SECONDS.
      await target.connect();
      await target.query(`create table dmh_orders (dmh_order_id text primary key, student_phone text, student_name text, order_amount bigint, register_time timestamptz, arrived_at timestamptz not null default clock_timestamp())`);
      const created = await app.inject({
        method: 'POST',
        url: '/v1/sync/targets',
        headers: { authorization: `Bearer ${s.key}` },
        payload: {
          name: 'crm', type: 'postgresql', host: '127.0.0.1', port: Number(new URL(ADMIN_URL).port || 5432), user: decodeURIComponent(new URL(ADMIN_URL).username) || 'postgres', password: decodeURIComponent(new URL(ADMIN_URL).password) || 'unused', database: targetName,
          mappings: { order: { table: 'dmh_orders', key_column: 'dmh_order_id', fields: { 'orders.phone': 'student_phone', 'orders.form_data.name': 'student_name', 'orders.amount': 'order_amount', 'orders.created_at': 'register_time' } } },
        },
      });
      if (created.statusCode !== 201) throw new Error(`sync target: ${created.statusCode} ${created.body}`);
      const more = sign(await pending(1_000_000).then((all) => all.slice(0, Number(process.env.BENCH_SYNC_ORDERS ?? 6000))));
      const started = performance.now();
      const paid = await pay(post, more, started + SYNC_SECONDS * 1000);
      const payMs = performance.now() - started;
      const waitStart = performance.now();
      let rows = 0;
      while (performance.now() - waitStart < 180_000) {
        rows = Number((await target.query('select count(*) as n from dmh_orders')).rows[0].n);
        if (rows >= paid.latencies.length) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const waitedMs = performance.now() - waitStart;
      const records = (await c.query<{ record_id: string; created_at: Date; status: string }>(`select record_id, created_at, status from sync_record where kind = 'order' and target_id is not null`)).rows;
      const arrived = new Map((await target.query<{ dmh_order_id: string; arrived_at: Date }>('select dmh_order_id, arrived_at from dmh_orders')).rows.map((r) => [r.dmh_order_id, r.arrived_at.getTime()]));
      const lags = records.filter((r) => arrived.has(r.record_id)).map((r) => arrived.get(r.record_id)! - r.created_at.getTime()).sort((a, b) => a - b);
      sync = { paid: paid.latencies.length, rows, synced: records.filter((r) => r.status === 'synced').length, lags, rate: paid.latencies.length / (payMs / 1000), other: paid.other, waitedMs };
    } finally {
      await post.close();
      await runner.stop();
      await app.close();
    }

    // Report.
    ordersReport();
    say(`callbacks (${SENDERS} concurrent, ${callbacks.latencies.length} distinct orders, sent -> settled)  p50 ${ms(pct(callbacks.latencies, 50))}  p99 ${ms(pct(callbacks.latencies, 99))}  max ${ms(callbacks.latencies.at(-1) ?? Number.NaN)}  other ${JSON.stringify(callbacks.other)}`);
    say(`  ${callbackRate.toFixed(0)} callbacks/s; CPU per callback: this process (service and senders) ${callbackCpu.api.toFixed(2)} ms, PostgreSQL ${callbackCpu.pg.toFixed(2)} ms; ${callbackCpu.queries.toFixed(1)} statements to PostgreSQL (BEGIN and COMMIT included)`);
    say(`  one sender alone (${alone.latencies.length} callbacks): p50 ${ms(pct(alone.latencies, 50))}  p99 ${ms(pct(alone.latencies, 99))}`);
    say(`  ${balances}`);
    const lagOf = (p: number) => `${(pct(sync.lags, p) / 1000).toFixed(2)} s`;
    say(`sync (PostgreSQL target, ${config.sync.concurrency} deliveries in flight, pool ${config.sync.pool_max}) while paying ${sync.rate.toFixed(0)} orders/s for ${SYNC_SECONDS} s: ${sync.paid} paid, ${sync.rows} rows in the target, ${sync.synced} records synced (waited ${(sync.waitedMs / 1000).toFixed(1)} s after the last payment)`);
    say(`  lag payment -> row in target: p50 ${lagOf(50)}  p99 ${lagOf(99)}  max ${((sync.lags.at(-1) ?? Number.NaN) / 1000).toFixed(2)} s  other ${JSON.stringify(sync.other)}`);
    say('\ntargets');
    ordersTargets();
    say(`  callback p99 < 50 ms                      ${ms(pct(callbacks.latencies, 99))}  ${met(pct(callbacks.latencies, 99) < 50)}`);
    say(`  sync lag max < 60 s, success 100%         ${((sync.lags.at(-1) ?? Number.NaN) / 1000).toFixed(2)} s, ${sync.rows}/${sync.paid}  ${met((sync.lags.at(-1) ?? Infinity) < 60_000 && sync.rows === sync.paid && sync.synced === sync.paid)}`);
  } finally {
    await c.end().catch(() => {});
    await target.end().catch(() => {});
    if (process.env.BENCH_KEEP) console.log(`kept databases ${dbName}, ${targetName} (BENCH_KEEP)`);
    else {
      await admin(ADMIN_URL, `drop database if exists ${dbName} with (force)`);
      await admin(ADMIN_URL, `drop database if exists ${targetName} with (force)`);
    }
  }
}

/** Per referrer: the sum of its settled reward rows = its BALANCE through the rewards route; and every paid order with a referrer has its reward. */
async function checkBalances(c: pg.Client, base: string, key: string): Promise<string> {
  const sums = (await c.query<{ user_id: string; total: string }>(`select user_id, sum(amount) as total from referral_reward where status = 'settled' group by user_id`)).rows;
  const paid = Number((await c.query(`select count(*) as n from referral_order where status = 'paid' and referrer_id is not null`)).rows[0].n);
  const rewards = Number((await c.query(`select count(*) as n from referral_reward where level = 1`)).rows[0].n);
  let wrong = 0;
  let total = 0;
  for (const row of sums) {
    const res = await fetch(`${base}/v1/referrals/rewards/balance/${encodeURIComponent(row.user_id)}`, { headers: { authorization: `Bearer ${key}` } });
    const balance = ((await res.json()) as { balance: number }).balance;
    total += balance;
    if (balance !== Number(row.total)) wrong++;
  }
  const ok = wrong === 0 && paid === rewards && total === paid * REWARD;
  return `${ok ? 'exact' : 'WRONG'} balances: ${sums.length} referrers, ${wrong} whose balance differs from the sum of their rewards; ${paid} paid orders with a referrer, ${rewards} rewards, balances total ${total} = ${paid} x ${REWARD}: ${total === paid * REWARD}`;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
