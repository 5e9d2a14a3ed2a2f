/**
 * bench/redeem: redemption throughput on PostgreSQL (+ Redis), next to a baseline measured in
 * the same run on the same fresh database (absolute figures on a shared 2-core machine are noise).
 *
 *   npx tsx bench/redeem.ts   (BENCH_DATABASE_URL default postgres://postgres@127.0.0.1:5432/test,
 *                              BENCH_REDIS_URL default redis://127.0.0.1:6379, BENCH_CODES 1000000,
 *                              BENCH_CONNECTIONS 64, BENCH_SECONDS 15, BENCH_WORKERS 1 (API processes),
 *                              BENCH_NODE_ARGS for --cpu-prof)
 *
 * 1. A pool of BENCH_CODES codes (ALPHANUM, 12) generated with the service (createBatch +
 *    runBatch, mirrored into Redis as each chunk commits), on a fresh database.
 * 2. Redeem: POST /v1/redeem over HTTP at BENCH_CONNECTIONS connections, each request a random
 *    unused code of the pool and a distinct user (no client_ip: one backend calling for its users).
 * 3. Invalid codes: random codes of the pool's shape that are none of its codes (404
 *    code_not_found), which the Redis fast path refuses without the database.
 * 4. Baseline: pgbench, the same conditional UPDATE of redeem_code straight into PostgreSQL
 *    (random seq of the pool, autocommit), at 32 clients as in the issue.
 * Only 201s count as redemptions and only 404 code_not_found as rejections.
 */
import { writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createMetricsRegistry } from '../src/app/metrics.js';
import { createServices } from '../src/app/services.js';
import { loadConfig } from '../src/config/load.js';
import { openPostgres } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { generateCodes, resolveRule } from '../src/modules/redeem-codes/redeem-code.rules.js';
import { mirrorKeys } from '../src/modules/redeem-codes/index.js';
import type { TenantActor } from '../src/platform/actor.js';
import { systemClock } from '../src/platform/clock.js';
import { admin, pgbench, postgresCpuMs, type Server, startServer } from './support.js';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const COUNT = Number(process.env.BENCH_CODES ?? 1_000_000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const DURATION = Number(process.env.BENCH_SECONDS ?? 15);
const POOL = Number(process.env.BENCH_POOL ?? 32);
const PGBENCH_CLIENTS = Number(process.env.BENCH_PGBENCH_CLIENTS ?? 32);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const MASTER = 'bench-master-key-0123456789abcdefghij';
const TENANT = 'bench';

interface Result {
  name: string;
  ok: number;
  other: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** CPU per counted request, in microseconds: the API process(es) and Redis (NaN: not measured). */
  serverUs: number;
  redisUs: number;
  pgUs: number;
}

async function main(): Promise<void> {
  const dbName = `mh_redeem_${Date.now().toString(36)}`;
  const prefix = `mhbench:${dbName}:`;
  await admin(ADMIN_URL, `create database ${dbName}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  let server: Server | undefined;
  try {
    const t0 = performance.now();
    const pool = await makePool(url.toString(), prefix);
    console.log(`pool: ${COUNT} codes generated and mirrored in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    server = await startServer({ DATABASE_URL: url.toString(), REDIS_URL, MARKETING_REDIS_KEY_PREFIX: prefix, MARKETING_MASTER_KEY: MASTER, MARKETING_DB_POOL_SIZE: String(POOL) }, WORKERS > 1 ? ['--workers', String(WORKERS)] : []);
    const key = await apiKey(server.url);
    const codes = shuffle(pool.codes);
    let next = 0;
    const results: Result[] = [];
    // Warm-up, not counted: JIT, pools, prepared statements, the shape cache.
    await load('warm-up', server, key, () => codes[next++]!, 201, Math.min(5, DURATION));
    // BENCH_ONLY_INVALID=1 (with BENCH_NODE_ARGS=--cpu-prof): a profile of invalid-code rejections alone.
    if (process.env.BENCH_ONLY_INVALID) {
      const invalid = generateCodes(resolveRule({ code_type: 'ALPHANUM', length: 12 }), 400_000);
      let i = 0;
      return console.log(await load('invalid codes', server, key, () => invalid[i++ % invalid.length]!, 404));
    }
    results.push(await load(`redeem (random pool codes, ${CONNECTIONS} conns)`, server, key, () => codes[next++]!, 201));
    // BENCH_ONLY_REDEEM=1 (with BENCH_NODE_ARGS=--cpu-prof): a profile of redemptions alone.
    if (process.env.BENCH_ONLY_REDEEM) return console.log(results);
    const invalid = generateCodes(resolveRule({ code_type: 'ALPHANUM', length: 12 }), 400_000);
    let bad = 0;
    results.push(await load('invalid codes (404, Redis fast path)', server, key, () => invalid[bad++ % invalid.length]!, 404));
    results.push(baseline(url.toString(), pool.batchId));
    report(results, await verify(url.toString()));
  } finally {
    await server?.stop();
    const redis = new Redis(REDIS_URL);
    // Everything this run wrote under its prefix: the mirror and the rate-limit counters.
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<string[]>) {
      if (keys.length) await redis.unlink(...keys);
    }
    await redis.quit();
    if (process.env.BENCH_KEEP) console.log(`kept database ${dbName} (BENCH_KEEP)`);
    else await admin(ADMIN_URL, `drop database if exists ${dbName} with (force)`);
  }
}

/** Tenant, app, campaign, reward and the pool of codes, through the services (as the CLI does). */
async function makePool(url: string, prefix: string) {
  const database = await openPostgres(url, 4);
  try {
    await migrate(database);
    const config = loadConfig({ env: {}, file: null, overrides: { 'log.level': 'silent', 'data.redis.addr': REDIS_URL, 'data.redis.key_prefix': prefix, 'data.redis.command_timeout_ms': 10_000 } });
    const services = createServices({ config, db: database.db, clock: systemClock, registry: createMetricsRegistry(), masterKeyHash: null, pool: database.pool ?? null, warn: () => {} });
    const actor: TenantActor = { kind: 'tenant', tenantId: TENANT, keyId: 'bench', role: 'admin', productCodes: null };
    await services.tenants.createTenant({ tenant_id: TENANT, name: 'Bench' });
    await services.apps.createApp(actor, { product_code: 'app1', name: 'App' });
    const campaign = await services.campaigns.createCampaign(actor, { campaign_name: 'Codes', campaign_type: 'REDEEM_CODE', product_code: 'app1', start_time: '2020-01-01T00:00:00Z', end_time: '2099-01-01T00:00:00Z' });
    await services.campaigns.transitionCampaign(actor, campaign.campaign_id, 'publish');
    const reward = await services.rewards.createReward(actor, { reward_name: 'Points', reward_type: 'POINTS', product_code: 'app1', campaign_id: campaign.campaign_id, config: { generator: { points: 1 } } });
    const { batch } = await services.redeemBatches.createBatch(actor, campaign.campaign_id, { count: COUNT, reward_id: reward.reward_id, code_type: 'ALPHANUM', length: 12 });
    const done = await services.redeemBatches.runBatch(TENANT, batch.batch_id);
    if (done?.status !== 'DONE') throw new Error(`batch not done: ${done?.status}`);
    const codes = (await database.pool!.query<{ code: string }>('select code from redeem_code where tenant_id = $1', [TENANT])).rows.map((r) => r.code);
    const redis = new Redis(REDIS_URL);
    const mirrored = await redis.hlen(mirrorKeys(prefix, TENANT).codes);
    await redis.quit();
    if (mirrored !== COUNT) throw new Error(`mirror holds ${mirrored} codes, expected ${COUNT}`);
    await services.close();
    return { codes, batchId: batch.batch_id };
  } finally {
    await database.close();
  }
}

async function apiKey(base: string): Promise<string> {
  const res = await fetch(`${base}/v1/tenants/${TENANT}/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', role: 'service' }),
  });
  return ((await res.json()) as { key: string }).key;
}

/** Redis's own CPU so far (INFO cpu: user + system of the server and its threads), in ms. */
async function redisCpuMs(): Promise<number> {
  const redis = new Redis(REDIS_URL);
  try {
    const info = await redis.info('cpu');
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
    return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
  } finally {
    redis.disconnect();
  }
}

async function load(name: string, server: Server, key: string, code: () => string, expect: number, duration = DURATION): Promise<Result> {
  let n = 0;
  const [cpu0, redis0, pg0] = [server.cpuMs(), await redisCpuMs(), await postgresCpuMs(ADMIN_URL)];
  const result = await autocannon({
    url: `${server.url}/v1/redeem`,
    connections: CONNECTIONS,
    duration,
    requests: [
      {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ code: code(), user_id: `user-${name.length}-${process.pid}-${n++}` }) }),
      },
    ],
  });
  const ok = expect === 201 ? result['2xx'] : (result.statusCodeStats?.[String(expect) as '404']?.count ?? 0);
  const other = result.requests.total - ok;
  const [cpu1, redis1, pg1] = [server.cpuMs(), await redisCpuMs(), await postgresCpuMs(ADMIN_URL)];
  // Per counted request; every request of a case is of its kind (other stays 0 in a sound run).
  const per = (ms: number) => (ok > 0 ? (ms * 1000) / ok : Number.NaN);
  return { name, ok, other, perSecond: ok / result.duration, p50: result.latency.p50, p99: result.latency.p99, serverUs: per(cpu1 - cpu0), redisUs: per(redis1 - redis0), pgUs: per(pg1 - pg0) };
}

/** pgbench: the redemption's conditional UPDATE alone, on random codes of the pool. */
function baseline(url: string, batchId: string): Result {
  const script = '/tmp/mh-bench-redeem.sql';
  writeFileSync(
    script,
    `\\set s random(1, ${COUNT})\nUPDATE redeem_code SET uses = uses + 1, status = CASE WHEN uses + 1 >= 1 THEN 'REDEEMED' ELSE status END, last_redeemed_at = now() WHERE tenant_id = '${TENANT}' AND batch_id = '${batchId}' AND seq = :s AND status = 'ACTIVE' AND uses < 1 AND assigned_user_id IS NULL;\n`,
  );
  const { tps, latencyMs: latency, transactions: tx } = pgbench(url, script, { clients: PGBENCH_CLIENTS, seconds: DURATION });
  return { name: `baseline: pgbench UPDATE, ${PGBENCH_CLIENTS} clients`, ok: tx, other: 0, perSecond: tps, p50: latency, p99: Number.NaN, serverUs: Number.NaN, redisUs: Number.NaN, pgUs: Number.NaN };
}

/** Every HTTP redemption is one used code, one redemption row and one grant. */
async function verify(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const n = async (q: string) => Number((await c.query(q)).rows[0].n);
  const redemptions = await n('select count(*) as n from redeem_code_redemption');
  const grants = await n("select count(*) as n from reward_grant where source = 'redeem_code'");
  const viaHttp = await n('select count(*) as n from redeem_code c join redeem_code_redemption r using (tenant_id, batch_id, seq)');
  await c.end();
  return redemptions === grants && grants === viaHttp ? `consistent: ${redemptions} redemptions = ${grants} grants = ${viaHttp} used codes with a redemption` : `INCONSISTENT: redemptions ${redemptions}, grants ${grants}, codes ${viaHttp}`;
}

function report(results: Result[], consistency: string): void {
  const [redeem, invalid, base] = results as [Result, Result, Result];
  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-');
  console.log(`\nbench/redeem  pool ${COUNT} codes, ${CONNECTIONS} connections, ${DURATION} s each, server pool ${POOL}, ${WORKERS} API process(es), PostgreSQL + Redis\n`);
  console.log('case                                        ok/s     p50 ms  p99 ms   ok      other   CPU us/req: server  redis  postgres');
  for (const r of results) {
    console.log(
      `${r.name.padEnd(42)} ${f(r.perSecond).padStart(7)}  ${String(r.p50).padStart(7)} ${String(Number.isFinite(r.p99) ? r.p99 : '-').padStart(7)}  ${String(r.ok).padStart(7)} ${String(r.other).padStart(7)}   ${f(r.serverUs).padStart(18)} ${f(r.redisUs).padStart(6)} ${f(r.pgUs).padStart(9)}`,
    );
  }
  const check = (label: string, value: number, target: number) => console.log(`  ${label.padEnd(44)} ${value.toFixed(2)}x  (target >= ${target}x)  ${value >= target ? 'met' : 'NOT met'}`);
  console.log('\nratios');
  check('redemptions/s / pgbench UPDATE tps', redeem.perSecond / base.perSecond, 0.4);
  check('invalid rejections/s / redemptions/s', invalid.perSecond / redeem.perSecond, 3);
  console.log(`  ${'redeem p99'.padEnd(44)} ${redeem.p99} ms  (target < 25 ms)  ${redeem.p99 < 25 ? 'met' : 'NOT met'}`);
  console.log(`\n${consistency}\n`);
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
