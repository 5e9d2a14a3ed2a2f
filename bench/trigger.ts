/**
 * bench/trigger: task-trigger throughput on PostgreSQL, next to a raw-SQL baseline of the same
 * writes measured in the same run (absolute figures on a shared 2-core machine are noise).
 *
 *   npx tsx bench/trigger.ts          (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
 *
 * Setup: 5 ACTIVE campaigns, 20 tasks (4 per campaign) over 10 event types, so an event moves 2
 * tasks; conditions rotate count (3 events; 1 for the ONCE task, a first-time bonus) / amount_sum
 * (10,000) / distinct (2) / consecutive_days (2), repeats ONCE / WEEKLY / MONTHLY / UNLIMITED,
 * and every other task grants a POINTS reward. Users are drawn from 100,000 ids.
 *
 * 1. Baseline: pgbench running, per event, the writes a trigger makes, as bare SQL on look-alike
 *    tables: INSERT the event, two progress upserts, one completion row, one grant row and one
 *    balance upsert (an upper bound: not every event completes a task or grants).
 * 1b. Set-based baseline: the batch form's writes as bare SQL, 1,000 events per transaction at
 *    the batch form's clients (pgbench): the rate the writes alone allow.
 * 2. Single: POST /v1/tasks/trigger over HTTP, one event per request, distinct event ids.
 * 3. Batch: POST /v1/tasks/trigger/batch with BENCH_BATCH (1,000) events per request.
 * Only 200s count; everything else is counted and printed as "other". CPU per event: the server
 * process and PostgreSQL's backends. BENCH_LOG_MS=N logs the bench database's statements of N ms+.
 */
import { writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import pg from 'pg';
import { admin, apiCaller, pgbench, postgresCpuMs, type Server, startServer, withDatabase } from './support.js';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const BATCH_CONNECTIONS = Number(process.env.BENCH_BATCH_CONNECTIONS ?? 4);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const DURATION = Number(process.env.BENCH_SECONDS ?? 15);
const POOL = Number(process.env.BENCH_POOL ?? 16);
const USERS = 100_000;
const EVENT_TYPES = 10;
const MASTER = 'bench-master-key-0123456789abcdefghij';

interface Result {
  name: string;
  ok: number;
  other: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** CPU per event, in microseconds: the API process and PostgreSQL (NaN: not measured). */
  serverUs: number;
  pgUs: number;
}

let seq = 0;
/** A random event of one of the bench's types, for a random one of the 100,000 users. */
function event() {
  const r = Math.random();
  return {
    event_type: `E${Math.floor(r * EVENT_TYPES)}`,
    user_id: `u${Math.floor(Math.random() * USERS)}`,
    product_code: 'app1',
    event_id: `${process.pid}-${seq++}`,
    event_data: { amount: 100 + Math.floor(Math.random() * 5000), channel: `c${Math.floor(Math.random() * 4)}` },
  };
}

async function main(): Promise<void> {
  const dbName = `mh_bench_${Date.now().toString(36)}`;
  await admin(ADMIN_URL, `create database ${dbName}`);
  const url = withDatabase(ADMIN_URL, dbName);
  // BENCH_LOG_MS=N: PostgreSQL logs every statement of this database that takes N ms or more, with
  // its duration (in the server's log), to see where a case's database time goes.
  if (process.env.BENCH_LOG_MS) await admin(ADMIN_URL, `alter database ${dbName} set log_min_duration_statement = ${Number(process.env.BENCH_LOG_MS)}`);
  const server = await startServer({ DATABASE_URL: url, MARKETING_MASTER_KEY: MASTER, MARKETING_DB_POOL_SIZE: String(POOL) });
  try {
    const key = await prepare(server.url);
    const results: Result[] = [];
    // BENCH_ONLY=single|batch (with BENCH_NODE_ARGS=--cpu-prof): one form alone, for a profile.
    const only = process.env.BENCH_ONLY;
    if (only !== 'single') await baselineTables(url);
    if (!only) results.push(await baseline(url));
    if (!only || only === 'batch') results.push(await setBaseline(url));
    await load('warm-up', server, key, false, Math.min(5, DURATION)); // JIT, pool, prepared statements
    if (!only || only === 'single') results.push(await load(`single: POST /v1/tasks/trigger, ${CONNECTIONS} clients`, server, key, false));
    if (!only || only === 'batch') results.push(await load(`batch: ${BATCH} events/request, ${BATCH_CONNECTIONS} clients`, server, key, true));
    if (only) return console.log(results);
    report(results, await verify(url));
  } finally {
    await server.stop();
    if (process.env.BENCH_KEEP) console.log(`kept database ${dbName} (BENCH_KEEP)`);
    else await admin(ADMIN_URL, `drop database if exists ${dbName} with (force)`);
  }
}

/** The look-alike tables both baselines write (a bare copy of each table's shape and keys). */
async function baselineTables(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`
    create table b_event (tenant_id text, event_id text, user_id text, event_type text, occurred_at timestamptz, results jsonb, primary key (tenant_id, event_id));
    create table b_value (tenant_id text, task_id text, user_id text, period_key text, value text, primary key (tenant_id, task_id, user_id, period_key, value));
    create table b_progress (tenant_id text, task_id text, user_id text, period_key text, progress bigint not null, completions int not null,
                             primary key (tenant_id, task_id, user_id, period_key));
    create table b_completion (tenant_id text, completion_id bigserial, task_id text, user_id text, event_id text, completed_at timestamptz default now(), primary key (tenant_id, completion_id));
    create table b_grant (tenant_id text, grant_id bigserial, user_id text, source_id text, created_at timestamptz default now(), primary key (tenant_id, grant_id));
    create table b_balance (tenant_id text, user_id text, balance bigint not null, primary key (tenant_id, user_id));`);
  await c.end();
}

async function baseline(url: string): Promise<Result> {
  const script = '/tmp/mh-bench-trigger.sql';
  writeFileSync(
    script,
    [
      '\\set u random(1, 100000)',
      '\\set t random(1, 10)',
      'BEGIN;',
      "INSERT INTO b_event VALUES ('bench', md5(random()::text), 'u' || :u, 'E' || :t, now());",
      "INSERT INTO b_progress VALUES ('bench', 't' || :t, 'u' || :u, '', 1, 0) ON CONFLICT (tenant_id, task_id, user_id, period_key) DO UPDATE SET progress = b_progress.progress + 1, completions = b_progress.completions + (CASE WHEN b_progress.progress + 1 >= 3 THEN 1 ELSE 0 END) WHERE b_progress.completions < 1000000 RETURNING progress, completions;",
      "INSERT INTO b_progress VALUES ('bench', 't' || (:t + 10), 'u' || :u, '', 1, 0) ON CONFLICT (tenant_id, task_id, user_id, period_key) DO UPDATE SET progress = b_progress.progress + 1, completions = b_progress.completions + (CASE WHEN b_progress.progress + 1 >= 3 THEN 1 ELSE 0 END) WHERE b_progress.completions < 1000000 RETURNING progress, completions;",
      "INSERT INTO b_completion (tenant_id, task_id, user_id, event_id) VALUES ('bench', 't' || :t, 'u' || :u, 'e');",
      "INSERT INTO b_grant (tenant_id, user_id, source_id) VALUES ('bench', 'u' || :u, 'c');",
      "INSERT INTO b_balance VALUES ('bench', 'u' || :u, 10) ON CONFLICT (tenant_id, user_id) DO UPDATE SET balance = b_balance.balance + 10;",
      'END;',
      '',
    ].join('\n'),
  );
  const pg0 = await postgresCpuMs(ADMIN_URL);
  const { tps, latencyMs: latency, transactions: tx } = pgbench(url, script, { clients: CONNECTIONS, seconds: DURATION });
  const pgUs = ((await postgresCpuMs(ADMIN_URL)) - pg0) * 1000 / tx;
  return { name: `baseline: pgbench same writes, ${CONNECTIONS} clients`, ok: tx, other: 0, perSecond: tps, p50: latency, p99: Number.NaN, serverUs: Number.NaN, pgUs };
}

/**
 * The batch form's baseline: per transaction, the writes of BENCH_BATCH events as set-based bare
 * SQL on the same look-alike tables, at the batch case's client count; events/s = tps x batch.
 * The mix follows what the bench's events really write (printed at the end of a run): every
 * event row, written again with its answer; two progress upserts per event (distinct keys,
 * sorted, as the service locks them); a distinct value for one task in four; and for one event
 * in eight a completion, a grant and a balance upsert. What it leaves out is the service's own
 * reads (tasks, states before the batch, kept answers of duplicates) and its server-side work.
 */
async function setBaseline(url: string): Promise<Result> {
  const n = BATCH;
  const done = Math.round(n / 8);
  const script = '/tmp/mh-bench-trigger-set.sql';
  writeFileSync(
    script,
    [
      '\\set b random(1, 1000000000000)',
      'BEGIN;',
      `INSERT INTO b_event SELECT 'bench', :b || '-' || g, 'u' || (random() * 99999)::int, 'E' || g % 10, now() FROM generate_series(1, ${n}) g;`,
      `INSERT INTO b_progress SELECT DISTINCT 'bench', 't' || (random() * 19)::int, 'u' || (random() * 99999)::int, '', 1, 0 FROM generate_series(1, ${2 * n}) ORDER BY 2, 3 ` +
        'ON CONFLICT (tenant_id, task_id, user_id, period_key) DO UPDATE SET progress = b_progress.progress + 1, ' +
        'completions = b_progress.completions + (CASE WHEN b_progress.progress + 1 >= 3 THEN 1 ELSE 0 END) WHERE b_progress.completions < 1000000 RETURNING progress, completions;',
      `INSERT INTO b_value SELECT 'bench', 't' || (random() * 4)::int, 'u' || (random() * 99999)::int, '', 'c' || (random() * 3)::int FROM generate_series(1, ${n / 2}) ON CONFLICT DO NOTHING;`,
      `INSERT INTO b_completion (tenant_id, task_id, user_id, event_id) SELECT 'bench', 't' || g % 20, 'u' || (random() * 99999)::int, :b || '-' || g FROM generate_series(1, ${done}) g;`,
      `INSERT INTO b_grant (tenant_id, user_id, source_id) SELECT 'bench', 'u' || (random() * 99999)::int, :b || '-' || g FROM generate_series(1, ${done}) g;`,
      `INSERT INTO b_balance SELECT DISTINCT 'bench', 'u' || (random() * 99999)::int, 10 FROM generate_series(1, ${done}) ORDER BY 2 ` +
        'ON CONFLICT (tenant_id, user_id) DO UPDATE SET balance = b_balance.balance + 10;',
      `UPDATE b_event SET results = '{"tasks": [{"progressed": true, "progress": 1, "completions": 0}]}' WHERE tenant_id = 'bench' AND event_id = ANY (ARRAY(SELECT :b || '-' || g FROM generate_series(1, ${n}) g));`,
      'END;',
      '',
    ].join('\n'),
  );
  const pg0 = await postgresCpuMs(ADMIN_URL);
  const { tps, latencyMs: latency, transactions: tx } = pgbench(url, script, { clients: BATCH_CONNECTIONS, seconds: DURATION });
  const pgUs = ((await postgresCpuMs(ADMIN_URL)) - pg0) * 1000 / (tx * n);
  return { name: `baseline: same writes set-based, ${n}/tx, ${BATCH_CONNECTIONS} clients`, ok: tx * n, other: 0, perSecond: tps * n, p50: latency, p99: Number.NaN, serverUs: Number.NaN, pgUs };
}

async function load(name: string, server: Server, key: string, batch: boolean, duration = DURATION): Promise<Result> {
  const [cpu0, pg0] = [server.cpuMs(), await postgresCpuMs(ADMIN_URL)];
  const result = await autocannon({
    url: `${server.url}/v1/tasks/trigger${batch ? '/batch' : ''}`,
    connections: batch ? BATCH_CONNECTIONS : CONNECTIONS,
    duration,
    timeout: 60,
    requests: [
      {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: JSON.stringify(batch ? { events: Array.from({ length: BATCH }, event) } : event()) }),
      },
    ],
  });
  const ok = result['2xx'];
  const perRequest = batch ? BATCH : 1;
  const [cpu1, pg1] = [server.cpuMs(), await postgresCpuMs(ADMIN_URL)];
  const events = ok * perRequest;
  const per = (ms: number) => (events > 0 ? (ms * 1000) / events : Number.NaN);
  return { name, ok: events, other: result.requests.total - ok, perSecond: events / result.duration, p50: result.latency.p50, p99: result.latency.p99, serverUs: per(cpu1 - cpu0), pgUs: per(pg1 - pg0) };
}

async function prepare(base: string): Promise<string> {
  const call = apiCaller(base);
  await call('POST', '/v1/tenants', MASTER, { tenant_id: 'bench', name: 'Bench' });
  const key = (await call('POST', '/v1/tenants/bench/api-keys', MASTER, { name: 'bench', role: 'admin' })).key as string;
  await call('POST', '/v1/apps', key, { product_code: 'app1', name: 'App' });
  const conditions = [
    { type: 'count', target: 1 },
    { type: 'amount_sum', target: 10000 },
    { type: 'distinct', target: 2, field: 'channel' },
    { type: 'consecutive_days', target: 2 },
  ];
  const repeats = ['UNLIMITED', 'ONCE', 'WEEKLY', 'UNLIMITED', 'MONTHLY'];
  for (let c = 0; c < 5; c++) {
    const campaign = await call('POST', '/v1/campaigns', key, { product_code: 'app1', campaign_name: `Bench ${c}`, campaign_type: 'TASK' });
    await call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`, key);
    const reward = await call('POST', '/v1/rewards', key, { reward_name: 'points', reward_type: 'POINTS', product_code: 'app1', campaign_id: campaign.campaign_id, total_stock: null, config: { generator: { points: 10 } } });
    for (let k = 0; k < 4; k++) {
      const i = c * 4 + k;
      const task = await call('POST', '/v1/tasks', key, {
        task_name: `task ${i}`,
        task_type: 'CUSTOM',
        product_code: 'app1',
        event_type: `E${i % EVENT_TYPES}`,
        // Counting tasks need 3 events, except the ONCE ones (a first-time bonus): about one
        // event in ten completes a task and grants, most only move progress.
        condition: i % conditions.length === 0 && repeats[i % repeats.length] !== 'ONCE' ? { type: 'count', target: 3 } : conditions[i % conditions.length],
        repeat: repeats[i % repeats.length],
        ...(i % 2 === 0 ? { reward_id: reward.reward_id } : {}),
      });
      await call('POST', `/v1/campaigns/${campaign.campaign_id}/tasks`, key, { task_id: task.task_id });
    }
  }
  return key;
}

/** Completion rows, granted completions and task grants must agree after the run. */
async function verify(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  // One statement, so one snapshot: batches still committing after autocannon stopped must not
  // land between two counts.
  const { rows } = await c.query(`select (select count(*) from task_completion_log) as completions,
      (select count(*) from task_completion_log where grant_status = 'GRANTED') as granted,
      (select count(*) from reward_grant where source = 'task_completion') as grants,
      (select count(*) from task_event) as events`);
  await c.end();
  const { completions, granted, grants, events } = rows[0] as Record<string, string>;
  const line = `${events} events, ${completions} completions, ${granted} granted = ${grants} grants`;
  return granted === grants ? `consistent: ${line}` : `INCONSISTENT: ${line}`;
}

function report(results: Result[], consistency: string): void {
  const [base, setBase, single, batch] = results as [Result, Result, Result, Result];
  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-');
  console.log(`\nbench/trigger  ${DURATION} s each, server pool ${POOL}, PostgreSQL, 20 tasks in 5 campaigns, ${USERS} users\n`);
  console.log('case                                              events/s  p50 ms  p99 ms   events    other   CPU us/event: server  postgres');
  for (const r of results) {
    console.log(
      `${r.name.padEnd(49)} ${f(r.perSecond).padStart(8)}  ${String(r.p50).padStart(6)} ${String(Number.isFinite(r.p99) ? r.p99 : '-').padStart(7)}  ${String(r.ok).padStart(7)} ${String(r.other).padStart(7)}` +
        `                ${f(r.serverUs).padStart(6)}  ${f(r.pgUs).padStart(8)}`,
    );
  }
  const ratio = single.perSecond / base.perSecond;
  console.log('\ntargets');
  console.log(`  single events/s / baseline tps      ${ratio.toFixed(2)}  (target >= 0.40)  ${ratio >= 0.4 ? 'met' : 'NOT met'}`);
  console.log(`  single p99                          ${single.p99} ms  (target < 30 ms)  ${single.p99 < 30 ? 'met' : 'NOT met'}`);
  console.log(`  batch events/s                      ${batch.perSecond.toFixed(0)}  (target >= 20000)  ${batch.perSecond >= 20000 ? 'met' : 'NOT met'}`);
  console.log(`  batch / set-based baseline          ${(batch.perSecond / setBase.perSecond).toFixed(2)}  (the bare writes' own rate: ${setBase.perSecond.toFixed(0)} events/s)`);
  console.log(`\n${consistency}\n`);
}




main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
