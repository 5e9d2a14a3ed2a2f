/**
 * bench/capacity: what each kind of row costs, for the capacity model in docs/scaling.md.
 *
 *   npx tsx bench/capacity.ts     (as root with PostgreSQL's server binaries: a private PostgreSQL of
 *                                  its own, so WAL and CPU are this run's alone; otherwise a scratch
 *                                  database on BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test,
 *                                  where WAL and PostgreSQL CPU include whatever else that server runs)
 *
 * Knobs: BENCH_CUSTOMERS (default 100,000), BENCH_CODES (200,000), BENCH_GRANTS (100,000),
 * BENCH_REDEMPTIONS (50,000), BENCH_CONNECTIONS (32), BENCH_REDIS_URL (redis://127.0.0.1:6379).
 *
 * Every row is made through the service: `marketing-hub serve` (API and in-process jobs) on the
 * scratch database, driven over HTTP (autocannon for the many rows). In order:
 * 1. customers: PUT /v1/customers/{id} with typical attributes (name, phone, city, age, plan, a
 *    registration date), two or three tags and SMS consent;
 * 2. codes: one batch of BENCH_CODES through POST /v1/campaigns/{id}/redeem-codes (the generation
 *    job, mirrored into Redis);
 * 3. grants: POST /v1/reward-grants over 100 rewards, users drawn from the customers;
 * 4. redemptions: POST /v1/redeem of random codes of the batch;
 * 5. outreach: one SMS campaign to every customer, sent to a local provider that answers at once.
 * Around each step it reads every table's pg_total_relation_size (heap, indexes, TOAST, free space
 * maps) and row count, the WAL position and pg_stat_wal, the API process's CPU (utime + stime of
 * it and its children, /proc) and PostgreSQL's (the postmaster and every backend, exited ones
 * included); each delta is divided by the rows the step made. Background work a step leaves (the
 * job runner's outbox and webhook jobs) is waited for and counted in its step.
 */
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import { postgresInstanceUnavailable, startPostgresInstance, type PostgresInstance } from '../test/system/support/postgres-instance.js';
import { admin, apiCaller, postgresCpuMs, type Server, startProcess, startServer, withDatabase } from './support.js';

const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 100_000);
const CODES = Number(process.env.BENCH_CODES ?? 200_000);
const GRANTS = Number(process.env.BENCH_GRANTS ?? 100_000);
const REDEMPTIONS = Number(process.env.BENCH_REDEMPTIONS ?? 50_000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const MASTER = 'bench-master-key-0123456789abcdefghij';
const TENANT = 'bench';

/** A provider answering every POST at once with a message id. */
const PROVIDER = `
const http = require('node:http');
let n = 0;
http.createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"message_id":"m' + (++n) + '"}')); })
  .listen(0, '127.0.0.1', function () { console.log('listening on http://127.0.0.1:' + this.address().port); });`;

interface Snapshot {
  tables: Map<string, { bytes: number; rows: number }>;
  walBytes: bigint;
  walFpi: number;
  apiMs: number;
  pgMs: number;
  redisBytes: number;
  /** Sum and count of the group-commit size histograms (grants, redemptions). */
  groups: Record<string, { sum: number; count: number }>;
}

interface Step {
  name: string;
  unit: string;
  count: number;
  tables: Array<{ table: string; rows: number; bytes: number }>;
  walBytes: number;
  walFpi: number;
  apiMs: number;
  pgMs: number;
  redisBytes: number;
  seconds: number;
  /** Mean group-commit size of the step (grants, redemptions). */
  groups: Record<string, number>;
}

async function main(): Promise<void> {
  const reason = postgresInstanceUnavailable();
  const instance: PostgresInstance | null = reason ? null : await startPostgresInstance({ settings: { fsync: 'on', shared_buffers: '256MB' } });
  const adminUrl = instance?.url ?? process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  if (reason) console.log(`shared PostgreSQL (${reason}): WAL and PostgreSQL CPU include other work on that server`);
  const dbName = `mh_capacity_${Date.now().toString(36)}`;
  const prefix = `mhbench:${dbName}:`;
  await admin(adminUrl, `create database ${dbName}`);
  const url = withDatabase(adminUrl, dbName);
  const provider = await startProcess(['-e', PROVIDER]);
  let server: Server | undefined;
  const c = new pg.Client({ connectionString: url });
  try {
    server = await startServer({
      DATABASE_URL: url,
      REDIS_URL,
      MARKETING_REDIS_KEY_PREFIX: prefix,
      MARKETING_MASTER_KEY: MASTER,
      MARKETING_DB_POOL_SIZE: '16',
      MARKETING_SECRET_KEY: randomBytes(32).toString('base64'),
      MARKETING_WEBHOOKS_ALLOW_PRIVATE: 'true',
    });
    await c.connect();
    const probe = { c, server, adminUrl };
    const setup = await prepare(server.url, provider.url);
    const steps: Step[] = [];
    steps.push(await measure(probe, 'customers (PUT /v1/customers)', 'customer', () => putCustomers(server!.url, setup.key)));
    steps.push(await measure(probe, 'codes (one batch, generation job)', 'code', () => makeCodes(server!.url, setup)));
    steps.push(await measure(probe, 'grants (POST /v1/reward-grants)', 'grant', () => grant(server!.url, setup.key, setup.rewards)));
    const codes = shuffle((await c.query<{ code: string }>('select code from redeem_code where tenant_id = $1', [TENANT])).rows.map((r) => r.code));
    steps.push(await measure(probe, 'redemptions (POST /v1/redeem)', 'redemption', () => redeem(server!.url, setup.key, codes)));
    steps.push(await measure(probe, 'outreach (one SMS campaign, sent)', 'message', () => reach(server!.url, setup.key, setup.providerId, c)));
    report(steps, instance !== null);
    await breakdown(c);
  } finally {
    await c.end().catch(() => {});
    await server?.stop();
    await provider.stop();
    const redis = new Redis(REDIS_URL);
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<string[]>) if (keys.length) await redis.unlink(...keys);
    await redis.quit();
    if (instance) await instance.destroy();
    else await admin(adminUrl, `drop database if exists ${dbName} with (force)`);
  }
}

async function prepare(base: string, providerUrl: string) {
  const call = apiCaller(base);
  await call('POST', '/v1/tenants', MASTER, { tenant_id: TENANT, name: 'Bench' });
  const key = (await call('POST', `/v1/tenants/${TENANT}/api-keys`, MASTER, { name: 'bench', role: 'admin' })).key as string;
  await call('POST', '/v1/apps', key, { product_code: 'app1', name: 'App' });
  const sale = await call('POST', '/v1/campaigns', key, { product_code: 'app1', campaign_name: 'Grants', campaign_type: 'FLASH_SALE' });
  await call('POST', `/v1/campaigns/${sale.campaign_id}/publish`, key);
  const rewards: string[] = [];
  for (let i = 0; i < 100; i++) {
    const reward = await call('POST', '/v1/rewards', key, { reward_name: `points ${i}`, reward_type: 'POINTS', product_code: 'app1', campaign_id: sale.campaign_id, total_stock: 1_000_000_000, config: { generator: { points: 10 } } });
    rewards.push(reward.reward_id as string);
  }
  const codeCampaign = await call('POST', '/v1/campaigns', key, { product_code: 'app1', campaign_name: 'Codes', campaign_type: 'REDEEM_CODE', start_time: '2020-01-01T00:00:00Z', end_time: '2099-01-01T00:00:00Z' });
  await call('POST', `/v1/campaigns/${codeCampaign.campaign_id}/publish`, key);
  const codeReward = await call('POST', '/v1/rewards', key, { reward_name: 'code points', reward_type: 'POINTS', product_code: 'app1', campaign_id: codeCampaign.campaign_id, config: { generator: { points: 1 } } });
  const providerId = (await call('POST', '/v1/outreach/providers', key, { name: 'sms', kind: 'sms_generic', config: { url: `${providerUrl}/sms` }, secrets: { secret: randomBytes(24).toString('hex') }, rate_per_second: 100_000 })).provider_id as string;
  return { key, rewards, codeCampaign: codeCampaign.campaign_id as string, codeReward: codeReward.reward_id as string, providerId };
}

/** Reads the state a step is measured against. */
async function snapshot(p: { c: pg.Client; server: Server; adminUrl: string }): Promise<Snapshot> {
  const { c } = p;
  const rel = await c.query<{ relname: string; bytes: string }>(
    "select c.relname, pg_total_relation_size(c.oid) as bytes from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind in ('r', 'p')",
  );
  const tables = new Map<string, { bytes: number; rows: number }>();
  for (const r of rel.rows) {
    const rows = Number((await c.query(`select count(*) as n from "${r.relname}"`)).rows[0].n);
    tables.set(r.relname, { bytes: Number(r.bytes), rows });
  }
  const wal = (await c.query<{ lsn: string; fpi: string }>("select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint as lsn, (select wal_fpi from pg_stat_wal) as fpi")).rows[0]!;
  const redis = new Redis(REDIS_URL);
  const memory = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? Number.NaN);
  redis.disconnect();
  return { tables, walBytes: BigInt(wal.lsn), walFpi: Number(wal.fpi), apiMs: p.server.cpuMs(), pgMs: await postgresCpuMs(p.adminUrl), redisBytes: memory, groups: await groupSizes(p.server.url) };
}

/** The group-commit size histograms' sums and counts from /metrics: how many items shared a commit. */
async function groupSizes(base: string): Promise<Snapshot['groups']> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const groups: Snapshot['groups'] = {};
  for (const name of ['marketing_reward_grant_batch_size', 'marketing_redeem_code_batch_size']) {
    const sum = Number(new RegExp(`^${name}_sum(?:\\{[^}]*\\})? ([\\d.e+]+)$`, 'm').exec(text)?.[1] ?? 0);
    const count = Number(new RegExp(`^${name}_count(?:\\{[^}]*\\})? ([\\d.e+]+)$`, 'm').exec(text)?.[1] ?? 0);
    groups[name] = { sum, count };
  }
  return groups;
}

async function measure(p: { c: pg.Client; server: Server; adminUrl: string }, name: string, unit: string, run: () => Promise<number>): Promise<Step> {
  await settle(p.c);
  const before = await snapshot(p);
  const started = performance.now();
  const count = await run();
  await settle(p.c);
  const seconds = (performance.now() - started) / 1000;
  const after = await snapshot(p);
  const tables: Step['tables'] = [];
  for (const [table, a] of after.tables) {
    const b = before.tables.get(table) ?? { bytes: 0, rows: 0 };
    if (a.bytes !== b.bytes || a.rows !== b.rows) tables.push({ table, rows: a.rows - b.rows, bytes: a.bytes - b.bytes });
  }
  tables.sort((x, y) => y.bytes - x.bytes);
  const groups: Step['groups'] = {};
  for (const [metric, a] of Object.entries(after.groups)) {
    const b = before.groups[metric] ?? { sum: 0, count: 0 };
    if (a.count > b.count) groups[metric.replace(/^marketing_|_batch_size$/g, '')] = (a.sum - b.sum) / (a.count - b.count);
  }
  const step = { name, unit, count, tables, groups, walBytes: Number(after.walBytes - before.walBytes), walFpi: after.walFpi - before.walFpi, apiMs: after.apiMs - before.apiMs, pgMs: after.pgMs - before.pgMs, redisBytes: after.redisBytes - before.redisBytes, seconds };
  console.log(`${name}: ${count} ${unit}s in ${seconds.toFixed(1)} s`);
  return step;
}

/** Waits until the job queue has nothing due or running (the grants' outbox, sends, the batch). */
async function settle(c: pg.Client): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const open = Number((await c.query("select count(*) as n from job where status in ('PENDING', 'RUNNING') and run_at <= now()")).rows[0].n);
    if (open === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('jobs did not settle in 5 minutes');
}

async function cannon(base: string, key: string, method: 'POST' | 'PUT', amount: number, next: (i: number) => { path: string; body: unknown }, expect: number): Promise<number> {
  let n = 0;
  const result = await autocannon({
    url: base,
    connections: CONNECTIONS,
    amount,
    requests: [
      {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        setupRequest: (req) => {
          const r = next(n++);
          return { ...req, path: r.path, body: JSON.stringify(r.body) };
        },
      },
    ],
  });
  const ok = result.statusCodeStats?.[String(expect) as '200']?.count ?? 0;
  if (ok !== amount) throw new Error(`${amount} requests, ${ok} answered ${expect}: ${JSON.stringify(result.statusCodeStats)} errors ${result.errors}`);
  return ok;
}

const CITIES = ['上海', '北京', '深圳', '杭州', '成都', '武汉', '南京', '西安'];

function putCustomers(base: string, key: string): Promise<number> {
  return cannon(base, key, 'PUT', CUSTOMERS, (i) => ({
    path: `/v1/customers/user-${i}`,
    body: {
      tags: ['vip', i % 3 === 0 ? 'new' : 'returning', ...(i % 10 === 0 ? ['high_value'] : [])],
      attributes: { name: `客户${i}`, phone: `+86138${String(i).padStart(8, '0')}`, city: CITIES[i % CITIES.length], age: 18 + (i % 60), plan: ['free', 'pro', 'team'][i % 3], registered_at: new Date(Date.UTC(2025, 0, 1) + (i % 365) * 86_400_000).toISOString() },
      consent: { sms: 'opt_in' },
    },
  }), 201);
}

async function makeCodes(base: string, setup: { key: string; codeCampaign: string; codeReward: string }): Promise<number> {
  const call = apiCaller(base);
  const made = await call('POST', `/v1/campaigns/${setup.codeCampaign}/redeem-codes`, setup.key, { count: CODES, reward_id: setup.codeReward, code_type: 'ALPHANUM', length: 12 });
  const batchId = ((made as unknown as { batch?: { batch_id: string } }).batch?.batch_id ?? made.batch_id) as string;
  for (;;) {
    const batch = await call('GET', `/v1/redeem-code-batches/${batchId}`, setup.key);
    if (batch.status === 'DONE') return CODES;
    if (batch.status === 'FAILED') throw new Error(`batch failed: ${JSON.stringify(batch)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function grant(base: string, key: string, rewards: string[]): Promise<number> {
  return cannon(base, key, 'POST', GRANTS, () => ({
    path: '/v1/reward-grants',
    body: { reward_id: rewards[Math.floor(Math.random() * rewards.length)], user_id: `user-${Math.floor(Math.random() * CUSTOMERS)}` },
  }), 201);
}

function redeem(base: string, key: string, codes: string[]): Promise<number> {
  return cannon(base, key, 'POST', Math.min(REDEMPTIONS, codes.length), (i) => ({ path: '/v1/redeem', body: { code: codes[i], user_id: `user-${i % CUSTOMERS}` } }), 201);
}

async function reach(base: string, key: string, providerId: string, c: pg.Client): Promise<number> {
  const call = apiCaller(base);
  const campaign = await call('POST', '/v1/outreach/campaigns', key, { name: 'capacity', channel: 'sms', target_tags: ['vip'], provider_id: providerId, content: { text: '您有一份专属好礼待领取，详情请访问链接。退订请回复TD。' }, link_url: 'https://shop.example.test/gift' });
  const run = await call('POST', `/v1/outreach/campaigns/${campaign.campaign_id}/trigger`, key, { execution_type: 'actual' });
  for (;;) {
    const state = await call('GET', `/v1/outreach/runs/${run.run_id}`, key);
    if (['completed', 'failed', 'cancelled'].includes(String(state.status).toLowerCase())) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return Number((await c.query('select count(*) as n from outreach_record where run_id = $1', [run.run_id])).rows[0].n);
}

function report(steps: Step[], privateServer: boolean): void {
  const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d }) : '-');
  console.log(`\nbench/capacity  ${CONNECTIONS} connections, ${privateServer ? 'a private PostgreSQL (fsync on, shared_buffers 256MB)' : 'the shared PostgreSQL'}, one API process with in-process jobs\n`);
  for (const s of steps) {
    console.log(`${s.name}: ${f(s.count)} ${s.unit}s, ${s.seconds.toFixed(1)} s (${f(s.count / s.seconds)}/s)`);
    for (const t of s.tables) console.log(`  ${t.table.padEnd(34)} ${f(t.rows).padStart(10)} rows  ${f(t.bytes / 1024 / 1024, 1).padStart(8)} MiB  ${f(t.bytes / s.count).padStart(6)} B/${s.unit}${t.rows > 0 ? `  ${f(t.bytes / t.rows).padStart(6)} B/row` : ''}`);
    const total = s.tables.reduce((a, t) => a + t.bytes, 0);
    console.log(`  ${'all tables, indexes, TOAST'.padEnd(34)} ${''.padStart(15)} ${f(total / 1024 / 1024, 1).padStart(8)} MiB  ${f(total / s.count).padStart(6)} B/${s.unit}`);
    console.log(`  WAL ${f(s.walBytes / s.count)} B/${s.unit} (${f(s.walFpi)} full-page images), Redis ${f(s.redisBytes / s.count)} B/${s.unit}`);
    const groups = Object.entries(s.groups).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
    console.log(`  CPU per ${s.unit}: API ${f(s.apiMs / s.count, 3)} ms, PostgreSQL ${f(s.pgMs / s.count, 3)} ms${groups ? `; mean group commit: ${groups}` : ''}\n`);
  }
}

/** Heap, TOAST and each index of the big tables, per row: what the model sizes RAM and disk from. */
async function breakdown(c: pg.Client): Promise<void> {
  const tables = ['redeem_code', 'redeem_code_redemption', 'reward_grant', 'ledger_entry', 'ledger_account', 'customer', 'outreach_record'];
  console.log('per row, after the run (bytes): heap, TOAST, then each index');
  for (const table of tables) {
    const rows = Number((await c.query(`select count(*) as n from ${table}`)).rows[0].n);
    if (rows === 0) continue;
    const heap = (await c.query<{ heap: string; toast: string }>('select pg_relation_size($1::regclass) as heap, coalesce(pg_total_relation_size(nullif(reltoastrelid, 0)), 0) as toast from pg_class where oid = $1::regclass', [table])).rows[0]!;
    const indexes = (await c.query<{ name: string; bytes: string }>('select indexrelid::regclass::text as name, pg_relation_size(indexrelid) as bytes from pg_index where indrelid = $1::regclass order by 2 desc', [table])).rows;
    const per = (b: string | number) => (Number(b) / rows).toFixed(0);
    console.log(`  ${table} (${rows.toLocaleString('en')} rows): heap ${per(heap.heap)}, TOAST ${per(heap.toast)}; ${indexes.map((i) => `${i.name} ${per(i.bytes)}`).join(', ')}`);
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
