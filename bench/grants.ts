/**
 * bench/grants: grant throughput on PostgreSQL, printed as ratios to a baseline measured in the
 * same run (absolute figures on a shared 2-core machine are noise; ratios are not).
 *
 *   npx tsx bench/grants.ts            (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
 *
 * 1. Baseline: pgbench, the bare hot-row grant: UPDATE inventory SET used = used + 1 WHERE id = 1
 *    AND used < total, plus one INSERT, at the same number of connections.
 * 2. Hot: POST /v1/reward-grants over HTTP, every request for ONE reward, distinct users (after
 *    an uncounted warm-up of the server on another reward).
 * 3. Spread: the same over 100 rewards.
 * 4. Sold out: the same on a reward with no stock left (409 inventory_exhausted).
 * 5. HTTP ceiling: a bare Fastify process answering the same 409 to the same requests
 *    (bench/http-ceiling.ts): what one Node process can answer at all on this machine, next to
 *    which the sold-out figure is read.
 * Only 201s count as grants and only 409 inventory_exhausted as sold-out rejections: requests
 * that fail some other way are counted and printed, never as throughput.
 */
import autocannon from 'autocannon';
import pg from 'pg';
import { admin, apiCaller, pgbench, startProcess, startServer, withDatabase } from './support.js';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const DURATION = Number(process.env.BENCH_SECONDS ?? 15);
const POOL = Number(process.env.BENCH_POOL ?? 32);
const MASTER = 'bench-master-key-0123456789abcdefghij';

interface Result {
  name: string;
  ok: number;
  other: number;
  perSecond: number;
  p50: number;
  p99: number;
}

async function main(): Promise<void> {
  const dbName = `mh_bench_${Date.now().toString(36)}`;
  await admin(ADMIN_URL, `create database ${dbName}`);
  const url = withDatabase(ADMIN_URL, dbName);
  // BENCH_DIAG=1: time the grant functions inside PostgreSQL and show the stock table's update
  // statistics after each case (a diagnostic; it adds a little overhead to every call).
  if (process.env.BENCH_DIAG) await admin(ADMIN_URL, `alter database ${dbName} set track_functions = 'pl'`);
  const server = await startServer({ DATABASE_URL: url, MARKETING_MASTER_KEY: MASTER, MARKETING_DB_POOL_SIZE: String(POOL) }, process.env.BENCH_WORKERS ? ['--workers', process.env.BENCH_WORKERS] : []);
  try {
    const setup = await prepare(server.url);
    const results: Result[] = [];
    // BENCH_ONLY=soldout|hot (with BENCH_NODE_ARGS=--cpu-prof): that case alone, for a profile.
    const only = process.env.BENCH_ONLY;
    if (only === 'soldout' || only === 'hot') {
      await load('warm-up', server.url, setup.key, () => setup.warmUp, 201, Math.min(5, DURATION));
      return console.log(only === 'hot' ? await load('hot', server.url, setup.key, () => setup.hot, 201) : await load('sold out', server.url, setup.key, () => setup.soldOut, 409));
    }
    results.push(await baseline(url));
    // Warm-up, not counted: JIT, the server's connection pool and its prepared statements. The
    // first measured case would otherwise pay for them and look slower than it is.
    await load('warm-up', server.url, setup.key, () => setup.warmUp, 201, Math.min(5, DURATION));
    await diagnose(url, 'after warm-up');
    results.push(await load('hot reward (1 reward)', server.url, setup.key, () => setup.hot, 201));
    await diagnose(url, 'after hot');
    results.push(await load('spread (100 rewards)', server.url, setup.key, () => setup.spread[Math.floor(Math.random() * setup.spread.length)]!, 201));
    await diagnose(url, 'after spread');
    results.push(await load('sold out (409 rejections)', server.url, setup.key, () => setup.soldOut, 409));
    results.push(await ceiling(setup.soldOut));
    report(results, await verify(url, setup.hot));
  } finally {
    await server.stop();
    if (process.env.BENCH_KEEP) console.log(`kept database ${dbName} (BENCH_KEEP)`);
    else await admin(ADMIN_URL, `drop database if exists ${dbName} with (force)`);
  }
}

/** The pgbench hot-row baseline, in its own table of the bench database. */
async function baseline(url: string): Promise<Result> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('create table bench_inventory (id int primary key, total bigint not null, used bigint not null)');
  await c.query('create table bench_grant (id bigserial primary key, inventory_id int not null, user_id text not null, created_at timestamptz not null default now())');
  await c.query('insert into bench_inventory values (1, 1000000000000, 0)');
  await c.end();
  const script = '/tmp/mh-bench-hot.sql';
  const { writeFileSync } = await import('node:fs');
  writeFileSync(
    script,
    "\\set u random(1, 100000000)\nBEGIN;\nUPDATE bench_inventory SET used = used + 1 WHERE id = 1 AND used < total;\nINSERT INTO bench_grant (inventory_id, user_id) VALUES (1, 'u' || :u);\nEND;\n",
  );
  const { tps, latencyMs: latency, transactions: tx } = pgbench(url, script, { clients: CONNECTIONS, seconds: DURATION });
  return { name: `baseline: pgbench hot row, ${CONNECTIONS} clients`, ok: tx, other: 0, perSecond: tps, p50: latency, p99: Number.NaN };
}

/** The same sold-out load against bench/http-ceiling.ts, a bare Fastify 409 in its own process. */
async function ceiling(reward: string): Promise<Result> {
  const bare = await startProcess(['--import', 'tsx', 'bench/http-ceiling.ts']);
  try {
    return await load('http ceiling (bare Fastify 409)', bare.url, 'none', () => reward, 409);
  } finally {
    await bare.stop();
  }
}

async function load(name: string, base: string, key: string, reward: () => string, expect: number, duration = DURATION): Promise<Result> {
  let n = 0;
  const result = await autocannon({
    url: `${base}/v1/reward-grants`,
    connections: CONNECTIONS,
    duration,
    requests: [
      {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ reward_id: reward(), user_id: `user-${process.pid}-${n++}` }) }),
      },
    ],
  });
  const ok = expect === 201 ? result['2xx'] : (result.statusCodeStats?.[String(expect) as '409']?.count ?? 0);
  const other = result.requests.total - ok;
  return { name, ok, other, perSecond: ok / result.duration, p50: result.latency.p50, p99: result.latency.p99 };
}

async function prepare(base: string) {
  const call = apiCaller(base);
  await call('POST', '/v1/tenants', MASTER, { tenant_id: 'bench', name: 'Bench' });
  const key = (await call('POST', '/v1/tenants/bench/api-keys', MASTER, { name: 'bench', role: 'admin' })).key as string;
  await call('POST', '/v1/apps', key, { product_code: 'app1', name: 'App' });
  const campaign = await call('POST', '/v1/campaigns', key, { product_code: 'app1', campaign_name: 'Bench', campaign_type: 'FLASH_SALE' });
  await call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`, key);
  const reward = async (stock: number) =>
    (
      await call('POST', '/v1/rewards', key, {
        reward_name: 'points',
        reward_type: 'POINTS',
        product_code: 'app1',
        campaign_id: campaign.campaign_id,
        total_stock: stock,
        config: { generator: { points: 10 }, validator: { per_user_limit: 1 } },
      })
    ).reward_id as string;
  const hot = await reward(1_000_000_000);
  const spread: string[] = [];
  for (let i = 0; i < 100; i++) spread.push(await reward(1_000_000_000));
  const soldOut = await reward(1);
  const warmUp = await reward(1_000_000_000);
  await call('POST', '/v1/reward-grants', key, { reward_id: soldOut, user_id: 'first' });
  return { key, hot, spread, soldOut, warmUp };
}

async function diagnose(url: string, when: string): Promise<void> {
  if (!process.env.BENCH_DIAG) return;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const f = await c.query('select funcname, calls, round(total_time::numeric, 1) as total_ms, round(self_time::numeric, 1) as self_ms from pg_stat_user_functions order by funcname');
  const t = await c.query("select relname, n_tup_upd, n_tup_hot_upd, n_dead_tup, pg_relation_size(relid) as bytes from pg_stat_user_tables where relname in ('reward_stock_slot', 'reward_grant', 'ledger_account') order by relname");
  console.log(`-- ${when}`);
  console.table(f.rows);
  console.table(t.rows);
  await c.end();
}

/** Stock counters, grant rows and ledger entries of the hot reward must agree after the run. */
async function verify(url: string, hot: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const used = Number((await c.query('select sum(used) as n from reward_stock_slot where reward_id = $1', [hot])).rows[0].n);
  const grants = Number((await c.query('select count(*) as n from reward_grant where reward_id = $1', [hot])).rows[0].n);
  const entries = Number((await c.query("select count(*) as n from ledger_entry e join reward_grant g on g.grant_id = e.cause_id where g.reward_id = $1", [hot])).rows[0].n);
  await c.end();
  return used === grants && grants === entries ? `consistent (hot reward: ${used} used = ${grants} grants = ${entries} ledger entries)` : `INCONSISTENT: used ${used}, grants ${grants}, ledger entries ${entries}`;
}

function report(results: Result[], consistency: string): void {
  const [base, hot, spread, sold, bare] = results as [Result, Result, Result, Result, Result];
  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-');
  console.log(`\nbench/grants  ${CONNECTIONS} connections, ${DURATION} s each, server pool ${POOL}, ${process.env.BENCH_WORKERS ?? 1} API process(es), PostgreSQL\n`);
  console.log('case                                   ok/s     p50 ms  p99 ms   ok      other');
  for (const r of results) {
    console.log(`${r.name.padEnd(38)} ${f(r.perSecond).padStart(6)}  ${String(r.p50).padStart(7)} ${String(Number.isFinite(r.p99) ? r.p99 : '-').padStart(7)}  ${String(r.ok).padStart(7)} ${String(r.other).padStart(7)}`);
  }
  const check = (label: string, value: number, target: number, unit = 'x') =>
    console.log(`  ${label.padEnd(44)} ${value.toFixed(2)}${unit}  (target >= ${target}${unit})  ${value >= target ? 'met' : 'NOT met'}`);
  console.log('\nratios');
  check('hot grants/s / baseline tps', hot.perSecond / base.perSecond, 2);
  check('hot grants/s / spread grants/s', hot.perSecond / spread.perSecond, 0.8);
  check('sold-out rejections/s / hot grants/s', sold.perSecond / hot.perSecond, 5);
  console.log(`  ${'hot p99'.padEnd(44)} ${hot.p99} ms  (target < 50 ms)  ${hot.p99 < 50 ? 'met' : 'NOT met'}`);
  console.log('\nwhere the sold-out figure stands (no target)');
  console.log(`  ${'sold-out rejections/s / http ceiling'.padEnd(44)} ${(sold.perSecond / bare.perSecond).toFixed(2)}x`);
  console.log(`  ${'http ceiling / hot grants/s'.padEnd(44)} ${(bare.perSecond / hot.perSecond).toFixed(2)}x`);
  console.log(`\n${consistency}\n`);
}




main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
