/**
 * bench/outreach: outreach runs on PostgreSQL, each figure next to a bare baseline measured in the
 * same run (absolute figures on a shared 2-core machine drift with the load; ratios much less).
 *
 *   npx tsx bench/outreach.ts    (BENCH_DATABASE_URL, else TEST_DATABASE_URL, else DATABASE_URL, else
 *                                 postgres://postgres@127.0.0.1:5432/test; a scratch database is made
 *                                 on that server and dropped after, unless BENCH_KEEP)
 *
 * Knobs: BENCH_CUSTOMERS (fan-out size, default 1,000,000), BENCH_MESSAGES (sending, default
 * 20,000), BENCH_RATE (rate limit case, default 500/s) and BENCH_RATE_MESSAGES (default 5,000),
 * BENCH_STATS_CALLS (default 300), BENCH_EXPLAIN=1 (EXPLAIN ANALYZE of the fan-out's statement),
 * BENCH_BATCH / BENCH_CONCURRENCY (outreach.batch_size / send_concurrency; defaults 200 / 64),
 * BENCH_DEBUG=1 (time spent per statement during the drain; arrivals per 100 ms of the rate case),
 * BENCH_LANES (drains running at once in the sending case, default 1).
 *
 * The service runs in this process (buildApp over the scratch database, no job runner): setup goes
 * through the API (app.inject), the measured work through the services the worker runs.
 * 1. Fan-out: BENCH_CUSTOMERS profiles with tag vip (one INSERT ... SELECT FROM generate_series,
 *    not measured); a campaign on the tag is triggered through the API, then only
 *    `outreach.runs.resolveRun(runId)` is timed. Baseline: a bare INSERT ... SELECT of the same rows
 *    (same columns, same seq numbering) into a temp table without indexes; diagnostics: the same into
 *    a logged table without indexes (WAL), and into a copy of outreach_record with its indexes
 *    (`like ... including all`), plain and with ON CONFLICT DO NOTHING.
 * 2. Stats: GET /v1/outreach/campaigns/:id/stats of that campaign (1,000,000 records), many calls.
 * 3. Sending: a provider in a child process answering every POST at once with {"message_id"}
 *    (verifies nothing). Baseline: undici requests with the same concurrency (send_concurrency)
 *    and the same kind of body. Pipeline: a run over BENCH_MESSAGES customers with a rate far above
 *    what is reached, sent by `dispatcher.drain()` (claim, render, sign, send, write outcomes).
 * 4. Rate limit: a run over BENCH_RATE_MESSAGES at BENCH_RATE/s, ticked as the job runner ticks it
 *    (every poll_ms unless a tick still runs); the rate is read from the provider's arrival times.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Agent, request } from 'undici';
import { buildApp } from '../src/app/build-app.js';
import { loadConfig } from '../src/config/load.js';
import { openPostgres } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { hashSecret } from '../src/platform/secrets.js';
import { admin, postgresCpuMs, startProcess, withDatabase } from './support.js';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 1_000_000);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const RATE = Number(process.env.BENCH_RATE ?? 500);
const RATE_MESSAGES = Number(process.env.BENCH_RATE_MESSAGES ?? 5_000);
const STATS_CALLS = Number(process.env.BENCH_STATS_CALLS ?? 300);
const LANES = Number(process.env.BENCH_LANES ?? 1);
const MASTER = 'bench-master-key-0123456789abcdefghij';
const TENANT = 'bench';
const SMS = '亲爱的[客户姓名]，您有一份6月专属好礼待领取！详情请访问[链接]。退订请回复TD。';

/** The provider: answers every POST at once; GET /times gives the arrival times (ms) since the last POST /reset. */
const PROVIDER = `
const http = require('node:http');
let n = 0; let times = [];
const server = http.createServer((req, res) => {
  if (req.method === 'GET') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(times));
  if (req.url === '/reset') { times = []; req.resume(); return res.end('{}'); }
  req.on('data', () => {});
  req.on('end', () => { times.push(Date.now()); res.writeHead(200, { 'content-type': 'application/json' }).end('{"message_id":"m' + (++n) + '"}'); });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + server.address().port));`;

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const met = (ok: boolean) => (ok ? 'met' : 'NOT met');

async function main(): Promise<void> {
  const dbName = `mh_bench_outreach_${Date.now().toString(36)}`;
  await admin(ADMIN_URL, `create database ${dbName}`);
  const url = withDatabase(ADMIN_URL, dbName);
  const handle = await openPostgres(url, 8);
  const provider = await startProcess(['-e', PROVIDER]);
  process.env.MARKETING_SECRET_KEY ??= randomBytes(32).toString('base64');
  const c = new pg.Client({ connectionString: url });
  try {
    await migrate(handle);
    await c.connect();
    const overrides: Record<string, unknown> = { 'log.level': 'silent', 'webhooks.allow_private_networks': true };
    if (process.env.BENCH_BATCH) overrides['outreach.batch_size'] = Number(process.env.BENCH_BATCH);
    if (process.env.BENCH_CONCURRENCY) overrides['outreach.send_concurrency'] = Number(process.env.BENCH_CONCURRENCY);
    const config = loadConfig({ env: {}, file: null, overrides });
    const app = await buildApp({ config, database: handle, masterKeyHash: hashSecret(MASTER), logger: false });
    await app.ready();
    const outreach = app.services.outreach;
    const call = async (method: 'GET' | 'POST', path: string, key: string, body?: unknown) => {
      const r = await app.inject({ method, url: path, headers: { authorization: `Bearer ${key}` }, ...(body !== undefined ? { payload: body as object } : {}) });
      if (r.statusCode >= 300) throw new Error(`${method} ${path}: ${r.statusCode} ${r.body}`);
      return r.json();
    };
    await call('POST', '/v1/tenants', MASTER, { tenant_id: TENANT, name: 'Bench' });
    const key = (await call('POST', `/v1/tenants/${TENANT}/api-keys`, MASTER, { name: 'bench', role: 'admin' })).key as string;
    await seed(c);
    const addProvider = async (name: string, rate: number) =>
      (await call('POST', '/v1/outreach/providers', key, { name, kind: 'sms_generic', config: { url: `${provider.url}/sms` }, secrets: { secret: randomBytes(24).toString('hex') }, rate_per_second: rate })).provider_id as string;
    const trigger = async (tag: string, providerId: string) => {
      const campaign = await call('POST', '/v1/outreach/campaigns', key, { name: `bench ${tag}`, channel: 'sms', target_tags: [tag], provider_id: providerId, content: { text: SMS }, link_url: 'https://shop.example.test/june' });
      const run = await call('POST', `/v1/outreach/campaigns/${campaign.campaign_id}/trigger`, key, { execution_type: 'actual' });
      return { campaignId: campaign.campaign_id as string, runId: run.run_id as string };
    };
    const fast = await addProvider('fast', 100_000);

    // 1. Fan-out.
    const big = await trigger('vip', fast);
    const columns = 'run_id, seq, tenant_id, campaign_id, customer_id, channel, variant, status, next_attempt_at, updated_at';
    const select = `select $1, (row_number() over (order by c.user_id))::int, $2, $3, c.user_id, 'sms', null, 'pending', now(), now()
                    from customer c where c.tenant_id = $2 and c.tags && array['vip']::text[]`;
    const params = [big.runId, TENANT, big.campaignId];
    await c.query('create temp table bench_fanout (like outreach_record including defaults)');
    let started = performance.now();
    const bareRows = (await c.query(`insert into bench_fanout (${columns}) ${select}`, params)).rowCount ?? 0;
    const bareMs = performance.now() - started;
    await c.query('drop table bench_fanout');
    await c.query('checkpoint');
    started = performance.now();
    const planned = await outreach.runs.resolveRun(big.runId);
    const fanOutMs = performance.now() - started;
    await c.query('checkpoint');
    await c.query('create table bench_logged (like outreach_record including defaults)');
    started = performance.now();
    await c.query(`insert into bench_logged (${columns}) ${select}`, params);
    const loggedMs = performance.now() - started;
    await c.query('drop table bench_logged');
    await c.query('checkpoint');
    await c.query('create table bench_record (like outreach_record including all)');
    started = performance.now();
    await c.query(`insert into bench_record (${columns}) ${select}`, params);
    const indexedMs = performance.now() - started;
    await c.query('truncate bench_record');
    await c.query('checkpoint');
    started = performance.now();
    await c.query(`insert into bench_record (${columns}) ${select} on conflict do nothing`, params);
    const conflictMs = performance.now() - started;
    await c.query('drop table bench_record');
    if (process.env.BENCH_EXPLAIN) await explainFanOut(c, params);
    if (planned !== CUSTOMERS || bareRows !== CUSTOMERS) throw new Error(`fan-out wrote ${planned} records, baseline ${bareRows}; expected ${CUSTOMERS}`);

    // 2. Stats of the campaign with a million records (the run paused: nothing else sends it).
    await call('POST', `/v1/outreach/runs/${big.runId}/pause`, key);
    const statsTimes: number[] = [];
    let stats: Record<string, unknown> = {};
    for (let i = 0; i < STATS_CALLS; i++) {
      const t0 = performance.now();
      stats = await call('GET', `/v1/outreach/campaigns/${big.campaignId}/stats`, key);
      statsTimes.push(performance.now() - t0);
    }
    statsTimes.sort((a, b) => a - b);
    if (stats.planned !== CUSTOMERS) throw new Error(`stats planned ${String(stats.planned)}, expected ${CUSTOMERS}`);

    // 3. Sending: bare HTTP client loop, then the pipeline, to the same provider.
    const concurrency = config.outreach.send_concurrency;
    const cpu = async () => ({ self: (process.cpuUsage().user + process.cpuUsage().system) / 1000, pg: await postgresCpuMs(ADMIN_URL), provider: provider.cpuMs() });
    const cpuSince = async (before: Awaited<ReturnType<typeof cpu>>) => {
      const now = await cpu();
      return { self: now.self - before.self, pg: now.pg - before.pg, provider: now.provider - before.provider };
    };
    let cpuBefore = await cpu();
    const bareSendMs = await bareSend(`${provider.url}/sms`, MESSAGES, concurrency);
    const bareCpu = await cpuSince(cpuBefore);
    const bulk = await trigger('bulk', fast);
    started = performance.now();
    await outreach.runs.resolveRun(bulk.runId);
    const bulkFanOutMs = performance.now() - started;
    await reset(provider.url);
    watch?.start();
    cpuBefore = await cpu();
    started = performance.now();
    // BENCH_LANES > 1: that many drains at once in this process (steps claim with SKIP LOCKED), as
    // that many worker processes would, to see what overlapping steps would give.
    await Promise.all(Array.from({ length: LANES }, () => outreach.dispatcher.drain({ maxTicks: 100_000 })));
    const pipelineMs = performance.now() - started;
    const pipeCpu = await cpuSince(cpuBefore);
    watch?.stop(pipelineMs);
    const bulkRun = await call('GET', `/v1/outreach/runs/${bulk.runId}`, key);
    if (bulkRun.status !== 'completed' || bulkRun.stats.sent !== MESSAGES) throw new Error(`bulk run: ${bulkRun.status}, ${JSON.stringify(bulkRun.stats)}`);
    const arrivedBulk = (await times(provider.url)).length;

    // 4. Rate limit, ticked as a worker ticks it.
    const limited = await trigger('rate', await addProvider('limited', RATE));
    await reset(provider.url);
    // As the job runner does: a tick every poll_ms unless the previous one still runs.
    await new Promise<void>((resolve, reject) => {
      let running = false;
      const timer = setInterval(() => {
        if (running) return;
        running = true;
        void (async () => {
          await outreach.dispatcher.tick();
          if ((await call('GET', `/v1/outreach/runs/${limited.runId}`, key)).status !== 'completed') return;
          clearInterval(timer);
          resolve();
        })()
          .catch((err: unknown) => {
            clearInterval(timer);
            reject(err);
          })
          .finally(() => (running = false));
      }, config.outreach.poll_ms);
    });
    const arrivals = (await times(provider.url)).sort((a, b) => a - b);
    const rate = rateOf(arrivals);
    if (process.env.BENCH_DEBUG) {
      const per = new Map<number, number>();
      for (const t of arrivals) per.set(Math.floor((t - arrivals[0]!) / 100), (per.get(Math.floor((t - arrivals[0]!) / 100)) ?? 0) + 1);
      console.log([...Array(Math.ceil((arrivals[arrivals.length - 1]! - arrivals[0]!) / 100) + 1).keys()].map((i) => per.get(i) ?? 0).join(' '));
    }

    await app.close();
    report({ bareCpu, pipeCpu, bareMs, fanOutMs, loggedMs, indexedMs, conflictMs, statsTimes, bareSendMs, pipelineMs, bulkFanOutMs, arrivedBulk, concurrency, rate, pollMs: config.outreach.poll_ms, batch: config.outreach.batch_size });
  } finally {
    await c.end().catch(() => undefined);
    await handle.close();
    await provider.stop();
    if (process.env.BENCH_KEEP) console.log(`kept database ${dbName} (BENCH_KEEP)`);
    else await admin(ADMIN_URL, `drop database if exists ${dbName} with (force)`);
  }
}

/** CUSTOMERS with tag vip, MESSAGES with tag bulk, RATE_MESSAGES with tag rate; GIN indexes built after. */
async function seed(c: pg.Client): Promise<void> {
  const started = performance.now();
  await c.query('drop index customer_tags; drop index customer_attributes');
  const groups: [string, string, string, number][] = [['c', 'vip', '138', CUSTOMERS], ['b', 'bulk', '139', MESSAGES], ['r', 'rate', '137', RATE_MESSAGES]];
  for (const [prefix, tag, mobile, count] of groups) {
    await c.query(
      `insert into customer (tenant_id, user_id, tags, attributes, created_at, updated_at)
       select $1, $2 || g, array[$3]::text[], jsonb_build_object('name', '客户' || g, 'phone', '+86' || $4 || lpad(g::text, 8, '0')), now(), now()
       from generate_series(1, $5::int) g`,
      [TENANT, prefix, tag, mobile, count],
    );
  }
  await c.query('create index customer_tags on customer using gin (tags); create index customer_attributes on customer using gin (attributes)');
  await c.query('vacuum analyze customer');
  console.log(`seeded ${(CUSTOMERS + MESSAGES + RATE_MESSAGES).toLocaleString('en')} customers in ${seconds(performance.now() - started)} (not measured)`);
}

/** The fan-out's statement as record.statements.ts writes it (no A/B), under EXPLAIN ANALYZE, rolled back. */
async function explainFanOut(c: pg.Client, [runId, tenantId, campaignId]: unknown[]): Promise<void> {
  await c.query('begin');
  const plan = await c.query(
    `explain (analyze, buffers, timing off)
     with targets as (select distinct user_id from (select c.user_id from customer c where c.tenant_id = $2 and c.tags && array['vip']::text[]) t0),
     ins as (
       insert into outreach_record (run_id, seq, tenant_id, campaign_id, customer_id, channel, variant, status, next_attempt_at, updated_at)
       select $1 || '-explain', (row_number() over (order by t.user_id))::int, $2, $3, t.user_id, 'sms', null::text, 'pending', now(), now()
       from targets t on conflict do nothing returning variant, status)
     select count(*) from ins`,
    [runId, tenantId, campaignId],
  );
  await c.query('rollback');
  console.log('\nEXPLAIN ANALYZE of the fan-out statement (rolled back):');
  for (const row of plan.rows as { 'QUERY PLAN': string }[]) console.log(`  ${row['QUERY PLAN']}`);
}

/** `count` POSTs of an SMS-sized JSON body with `concurrency` in flight, through one keep-alive pool. */
async function bareSend(url: string, count: number, concurrency: number): Promise<number> {
  const dispatcher = new Agent({ keepAliveTimeout: 30_000 });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const body = JSON.stringify({ id: `run_bare-${i}`, to: `+86136${String(i).padStart(8, '0')}`, text: SMS });
        const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': `run_bare-${i}` }, body, dispatcher });
        if (res.statusCode !== 200) throw new Error(`bare send: HTTP ${res.statusCode}`);
        await res.body.json();
      }
    }),
  );
  const ms = performance.now() - started;
  await dispatcher.close();
  return ms;
}

/**
 * BENCH_DEBUG: wall time of every statement, by its first words (pg.Client.prototype.query patched
 * before any connection opens; counted only between start() and the returned stop). The drain's
 * steps run one after another, so this is the time it spends waiting on PostgreSQL.
 */
function statementWatch() {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  const spent = new Map<string, { n: number; ms: number }>();
  let recording = false;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const result = original.apply(this, args);
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: unknown } | null)?.text;
    if (!recording || typeof text !== 'string' || !(result instanceof Promise)) return result;
    const label = text.replace(/\s+/g, ' ').trim().slice(0, 70);
    const t0 = performance.now();
    const note = () => {
      const s = spent.get(label) ?? { n: 0, ms: 0 };
      s.n++;
      s.ms += performance.now() - t0;
      spent.set(label, s);
    };
    result.then(note, note);
    return result;
  };
  return {
    start: () => void (recording = true),
    stop: (totalMs: number) => {
      recording = false;
      const rows = [...spent.entries()].sort((a, b) => b[1].ms - a[1].ms);
      const sum = rows.reduce((a, [, s]) => a + s.ms, 0);
      console.log(`\nstatements during the drain: ${sum.toFixed(0)} ms of ${totalMs.toFixed(0)} ms`);
      for (const [label, s] of rows.slice(0, 12)) console.log(`  ${s.ms.toFixed(0).padStart(7)} ms  ${String(s.n).padStart(6)}x  ${label}`);
    },
  };
}
const watch = process.env.BENCH_DEBUG ? statementWatch() : null;

async function reset(base: string): Promise<void> {
  await (await fetch(`${base}/reset`, { method: 'POST' })).text();
}

async function times(base: string): Promise<number[]> {
  return (await (await fetch(`${base}/times`)).json()) as number[];
}

/**
 * From arrival times: messages per second averaged over every 1-second window inside the run
 * (window starts 10 ms apart), and the fewest and most in any such window. A sliding-window limit
 * lets its first second through at once, so messages / span overstates the rate of a short run.
 */
function rateOf(t: number[]) {
  const span = (t[t.length - 1]! - t[0]!) / 1000;
  const counts: number[] = [];
  for (let start = t[0]!, i = 0, j = 0; start + 1000 <= t[t.length - 1]!; start += 10) {
    while (i < t.length && t[i]! < start) i++;
    while (j < t.length && t[j]! < start + 1000) j++;
    counts.push(j - i);
  }
  const perSecond = counts.reduce((a, b) => a + b, 0) / counts.length;
  return { count: t.length, span, overall: t.length / span, perSecond, least: Math.min(...counts), most: Math.max(...counts) };
}

type CpuMs = { self: number; pg: number; provider: number };

function report(r: {
  bareCpu: CpuMs; pipeCpu: CpuMs;
  bareMs: number; fanOutMs: number; loggedMs: number; indexedMs: number; conflictMs: number; statsTimes: number[]; bareSendMs: number; pipelineMs: number; bulkFanOutMs: number;
  arrivedBulk: number; concurrency: number; rate: ReturnType<typeof rateOf>; pollMs: number; batch: number;
}): void {
  const n = CUSTOMERS.toLocaleString('en');
  const fanRatio = r.fanOutMs / r.bareMs;
  const bareRate = MESSAGES / (r.bareSendMs / 1000);
  const pipeRate = MESSAGES / (r.pipelineMs / 1000);
  const p50 = pct(r.statsTimes, 50);
  const p99 = pct(r.statsTimes, 99);
  const within = Math.abs(r.rate.perSecond - RATE) / RATE;
  console.log(`\nbench/outreach  PostgreSQL, ${n} records fanned out, ${MESSAGES.toLocaleString('en')} sent (send_concurrency ${r.concurrency}, batch_size ${r.batch})\n`);
  console.log('fan-out');
  console.log(`  baseline: bare INSERT ... SELECT into a temp table, no indexes   ${seconds(r.bareMs).padStart(9)}`);
  console.log(`  diagnostic: the same into a logged table, no indexes            ${seconds(r.loggedMs).padStart(9)}  (${(r.loggedMs / r.bareMs).toFixed(2)}x baseline)`);
  console.log(`  diagnostic: the same into a copy of outreach_record with indexes ${seconds(r.indexedMs).padStart(9)}  (${(r.indexedMs / r.bareMs).toFixed(2)}x baseline)`);
  console.log(`  diagnostic: the same with ON CONFLICT DO NOTHING               ${seconds(r.conflictMs).padStart(9)}  (${(r.conflictMs / r.bareMs).toFixed(2)}x baseline)`);
  console.log(`  runs.resolveRun (the fan-out)                                    ${seconds(r.fanOutMs).padStart(9)}  (${fanRatio.toFixed(2)}x baseline)`);
  console.log(`  target < 60 s: ${met(r.fanOutMs < 60_000)}; target within 3x of the bare INSERT ... SELECT: ${met(fanRatio <= 3)}`);
  console.log(`  resolveRun / the same INSERT into the indexed copy: ${(r.fanOutMs / r.indexedMs).toFixed(2)}x`);
  console.log(`\ncampaign stats over ${n} records, ${r.statsTimes.length} calls of GET /v1/outreach/campaigns/:id/stats`);
  console.log(`  p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${r.statsTimes[r.statsTimes.length - 1]!.toFixed(1)} ms  (target p99 < 200 ms: ${met(p99 < 200)})`);
  console.log(`\nsending ${MESSAGES.toLocaleString('en')} messages to a provider answering at once (child process)`);
  console.log(`  baseline: undici loop, ${r.concurrency} in flight   ${bareRate.toFixed(0).padStart(7)} messages/s  (${seconds(r.bareSendMs)})`);
  console.log(`  pipeline: dispatcher.drain() x${LANES}      ${pipeRate.toFixed(0).padStart(7)} messages/s  (${seconds(r.pipelineMs)}; fan-out before it ${seconds(r.bulkFanOutMs)}, not counted; provider saw ${r.arrivedBulk})`);
  const perK = (c: CpuMs) => `this process ${((c.self / MESSAGES) * 1000).toFixed(0)}, PostgreSQL ${((c.pg / MESSAGES) * 1000).toFixed(0)}, provider ${((c.provider / MESSAGES) * 1000).toFixed(0)}`;
  console.log(`  CPU ms per 1,000 messages, baseline: ${perK(r.bareCpu)}`);
  console.log(`  CPU ms per 1,000 messages, pipeline: ${perK(r.pipeCpu)}`);
  console.log(`  pipeline / baseline ${(pipeRate / bareRate).toFixed(2)}  (target >= 0.50: ${met(pipeRate / bareRate >= 0.5)})`);
  console.log(`\nrate limit ${RATE}/s over ${RATE_MESSAGES.toLocaleString('en')} messages (ticked every ${r.pollMs} ms like the job runner)`);
  console.log(`  arrived ${r.rate.count} from first to last in ${r.rate.span.toFixed(2)} s (${r.rate.overall.toFixed(1)}/s)`);
  console.log(`  messages in a 1 s window, over every window of the run: mean ${r.rate.perSecond.toFixed(1)}, least ${r.rate.least}, most ${r.rate.most}`);
  console.log(`  mean within ${(within * 100).toFixed(1)}% of ${RATE}/s (target within 5%: ${met(within <= 0.05)}); never above the limit in any second: ${met(r.rate.most <= RATE)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
