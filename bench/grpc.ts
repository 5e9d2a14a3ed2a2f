/**
 * bench/grpc: the same grant over gRPC and over HTTP, against one `marketing-hub serve` process on
 * PostgreSQL, in one run, printed as ratios (absolute figures on a shared 2-core machine are noise).
 *
 *   npx tsx bench/grpc.ts     (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test;
 *                              BENCH_CONNECTIONS 64, BENCH_SECONDS 10, BENCH_POOL 32, BENCH_GRPC_CHANNELS 8,
 *                              BENCH_ONLY=grpc|http, BENCH_NODE_ARGS for the server's node)
 *
 * Every case grants the hot reward (unlimited stock, per_user_limit 1) to distinct users with
 * BENCH_CONNECTIONS requests in flight, after an uncounted warm-up of its own:
 * 1. gRPC: GrantService.Grant from @grpc/grpc-js clients (BENCH_GRPC_CHANNELS channels, each one
 *    HTTP/2 connection carrying its share of the calls as streams).
 * 2. HTTP loop: POST /v1/reward-grants from undici (a pool of BENCH_CONNECTIONS keep-alive
 *    connections): the same kind of Node client loop as the gRPC case.
 * 3. HTTP autocannon: the same POST from autocannon, as bench/grants.ts runs it.
 * 4, 5. The transports alone: bench/grpc-ceiling.ts (bare grpc-js) and bench/http-ceiling.ts (bare
 *    Fastify), each answering the sold-out refusal, loaded by the same two clients.
 * Client and server share the machine; the server's own CPU per grant (from /proc) is printed
 * too, since it does not depend on how heavy each client is. Only successful grants count.
 */
import { createServer } from 'node:net';
import { credentials, loadPackageDefinition, Metadata, type ServiceError } from '@grpc/grpc-js';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { loadDefinition } from '../src/app/grpc/wire.js';
import { admin, apiCaller, type Server, startProcess, startServer, withDatabase } from './support.js';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const POOL = Number(process.env.BENCH_POOL ?? 32);
/** gRPC client channels (HTTP/2 connections) the calls are spread over. */
const CHANNELS = Number(process.env.BENCH_GRPC_CHANNELS ?? 8);
const MASTER = 'bench-master-key-0123456789abcdefghij';

interface Result {
  name: string;
  ok: number;
  failed: number;
  perSecond: number;
  p50: number;
  p99: number;
  serverCpuMsPerOk: number;
  /** Grants per group commit in the measured window (marketing_reward_grant_batch_size). */
  perBatch: number;
  /** This (client) process's CPU per grant: the client's own cost, on the same 2 cores. */
  clientCpuMsPerOk: number;
}

type Measured = Omit<Result, 'serverCpuMsPerOk' | 'name' | 'perBatch' | 'clientCpuMsPerOk'>;

/** The group-commit histogram of the server's /metrics: grants and batches so far. */
async function batchStats(base: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} ([\\d.e+]+)$`, 'm').exec(text)?.[1] ?? 0);
  return { sum: read('marketing_reward_grant_batch_size_sum'), count: read('marketing_reward_grant_batch_size_count') };
}

let users = 0;
const nextUser = () => `user-${process.pid}-${users++}`;

async function main(): Promise<void> {
  const grpcPort = await freePort();
  const dbName = `mh_bench_grpc_${Date.now().toString(36)}`;
  await admin(ADMIN_URL, `create database ${dbName}`);
  const server = await startServer({ DATABASE_URL: withDatabase(ADMIN_URL, dbName), MARKETING_MASTER_KEY: MASTER, MARKETING_DB_POOL_SIZE: String(POOL), MARKETING_GRPC_PORT: String(grpcPort), MARKETING_GRPC_HOST: '127.0.0.1' });
  try {
    const { key, hot } = await prepare(server.url);
    const grant = grpcGranter(`127.0.0.1:${grpcPort}`, key);
    const pool = new Pool(server.url, { connections: CONNECTIONS, pipelining: 1 });
    const httpGrant = async (rewardId: string) => {
      const res = await pool.request({
        method: 'POST',
        path: '/v1/reward-grants',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reward_id: rewardId, user_id: nextUser() }),
      });
      await res.body.text();
      return res.statusCode;
    };
    const results: Result[] = [];
    const measure = async (name: string, run: (seconds: number) => Promise<Measured>, target: Server = server) => {
      await run(Math.min(3, DURATION)); // warm-up, not counted
      const cpu = target.cpuMs();
      const batches = await batchStats(server.url);
      const own = process.cpuUsage();
      const r = await run(DURATION);
      const ownUsed = process.cpuUsage(own);
      const after = await batchStats(server.url);
      results.push({ name, ...r, serverCpuMsPerOk: (target.cpuMs() - cpu) / Math.max(1, r.ok), perBatch: (after.sum - batches.sum) / Math.max(1, after.count - batches.count), clientCpuMsPerOk: (ownUsed.user + ownUsed.system) / 1000 / Math.max(1, r.ok) });
      return results[results.length - 1];
    };
    // BENCH_ONLY=grpc|http (with BENCH_NODE_ARGS=--cpu-prof): that case alone, for a profile.
    if (process.env.BENCH_ONLY === 'http') return console.log(await measure('HTTP loop (undici pool)', (s) => loop(s, async () => (await httpGrant(hot)) === 201)), results[0]);
    await measure('gRPC (grpc-js client)', (s) => loop(s, async () => (await grant.call(hot)) === 0));
    if (process.env.BENCH_ONLY === 'grpc') return console.log(results[0]);
    await measure('HTTP loop (undici pool)', (s) => loop(s, async () => (await httpGrant(hot)) === 201));
    await measure('HTTP autocannon', (s) => cannon(server.url, key, hot, s));
    grant.close();
    await pool.close();
    // The transports alone: a bare grpc-js server and a bare Fastify, each answering the sold-out
    // refusal, loaded by the same two clients (ok = the refusal came back).
    const bareGrpc = await startProcess(['--import', 'tsx', 'bench/grpc-ceiling.ts']);
    try {
      const ceilingClient = grpcGranter(bareGrpc.url.replace('http://', ''), key);
      await measure('ceiling: bare grpc-js refusal', (s) => loop(s, async () => (await ceilingClient.call(hot)) === 9), bareGrpc);
      ceilingClient.close();
    } finally {
      await bareGrpc.stop();
    }
    const bareHttp = await startProcess(['--import', 'tsx', 'bench/http-ceiling.ts']);
    try {
      const ceilingPool = new Pool(bareHttp.url, { connections: CONNECTIONS, pipelining: 1 });
      const refuse = async () => {
        const res = await ceilingPool.request({ method: 'POST', path: '/v1/reward-grants', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reward_id: hot, user_id: nextUser() }) });
        await res.body.text();
        return res.statusCode === 409;
      };
      await measure('ceiling: bare Fastify 409', (s) => loop(s, refuse), bareHttp);
      await ceilingPool.close();
    } finally {
      await bareHttp.stop();
    }
    report(results);
  } finally {
    await server.stop();
    await admin(ADMIN_URL, `drop database if exists ${dbName} with (force)`);
  }
}

/**
 * grpc-js clients that grant `rewardId` to a new user per call, round robin over CHANNELS
 * channels (each its own HTTP/2 connection); a call resolves with its status code (0 = OK).
 */
function grpcGranter(target: string, key: string) {
  const pkg = loadPackageDefinition(loadDefinition()) as unknown as { marketing_hub: { v1: { GrantService: new (t: string, c: unknown, o: object) => Record<string, unknown> & { close(): void } } } };
  const clients = Array.from({ length: CHANNELS }, () => new pkg.marketing_hub.v1.GrantService(target, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${key}`);
  let turn = 0;
  return {
    call: (rewardId: string) =>
      new Promise<number>((resolve) => {
        const client = clients[turn++ % clients.length]!;
        const grant = client.Grant as (req: unknown, md: Metadata, cb: (err: ServiceError | null) => void) => void;
        grant.call(client, { reward_id: rewardId, user_id: nextUser() }, metadata, (err) => resolve(err ? err.code : 0));
      }),
    close: () => clients.forEach((c) => c.close()),
  };
}

/** CONNECTIONS callers, each sending its next request when the last is answered, for `seconds`. */
async function loop(seconds: number, send: () => Promise<boolean>): Promise<Measured> {
  const until = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        const good = await send().catch(() => false);
        latencies.push(performance.now() - t0);
        if (good) ok++;
        else failed++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0);
  return { ok, failed, perSecond: ok / elapsed, p50: pct(0.5), p99: pct(0.99) };
}

async function cannon(base: string, key: string, rewardId: string, seconds: number): Promise<Measured> {
  const result = await autocannon({
    url: `${base}/v1/reward-grants`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ reward_id: rewardId, user_id: nextUser() }) }),
      },
    ],
  });
  const ok = result['2xx'];
  return { ok, failed: result.requests.total - ok, perSecond: ok / result.duration, p50: result.latency.p50, p99: result.latency.p99 };
}

async function prepare(base: string) {
  const call = apiCaller(base);
  await call('POST', '/v1/tenants', MASTER, { tenant_id: 'bench', name: 'Bench' });
  const key = (await call('POST', '/v1/tenants/bench/api-keys', MASTER, { name: 'bench', role: 'admin' })).key as string;
  await call('POST', '/v1/apps', key, { product_code: 'app1', name: 'App' });
  const campaign = await call('POST', '/v1/campaigns', key, { product_code: 'app1', campaign_name: 'Bench', campaign_type: 'FLASH_SALE' });
  await call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`, key);
  const hot = (
    await call('POST', '/v1/rewards', key, {
      reward_name: 'points',
      reward_type: 'POINTS',
      product_code: 'app1',
      campaign_id: campaign.campaign_id,
      total_stock: null,
      config: { generator: { points: 10 }, validator: { per_user_limit: 1 } },
    })
  ).reward_id as string;
  return { key, hot };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function report(results: Result[]): void {
  const [grpc, loopHttp, cannonHttp, bareGrpc, bareHttp] = results as [Result, Result, Result, Result, Result];
  console.log(`\nbench/grpc  ${CONNECTIONS} in flight, ${DURATION} s each, server pool ${POOL}, one API process, PostgreSQL, ${CHANNELS} gRPC channel(s)\n`);
  console.log('case                          grants/s  p50 ms  p99 ms       ok  failed  server CPU ms/grant  grants/commit  client CPU ms/grant');
  for (const r of results) {
    console.log(
      `${r.name.padEnd(29)} ${r.perSecond.toFixed(0).padStart(8)} ${String(r.p50).padStart(7)} ${String(r.p99).padStart(7)} ${String(r.ok).padStart(8)} ${String(r.failed).padStart(7)}  ${r.serverCpuMsPerOk.toFixed(3).padStart(19)}  ${r.perBatch.toFixed(1).padStart(13)}  ${r.clientCpuMsPerOk.toFixed(3).padStart(18)}`,
    );
  }
  console.log('\nratios');
  console.log(`  gRPC / HTTP loop        grants/s ${(grpc.perSecond / loopHttp.perSecond).toFixed(2)}x   server CPU per grant ${(grpc.serverCpuMsPerOk / loopHttp.serverCpuMsPerOk).toFixed(2)}x`);
  console.log(`  gRPC / HTTP autocannon  grants/s ${(grpc.perSecond / cannonHttp.perSecond).toFixed(2)}x   server CPU per grant ${(grpc.serverCpuMsPerOk / cannonHttp.serverCpuMsPerOk).toFixed(2)}x`);
  console.log(`  bare grpc-js / bare Fastify  answers/s ${(bareGrpc.perSecond / bareHttp.perSecond).toFixed(2)}x   server CPU per answer ${(bareGrpc.serverCpuMsPerOk / bareHttp.serverCpuMsPerOk).toFixed(2)}x`);
  console.log(`  server CPU per grant, gRPC minus HTTP loop: ${(grpc.serverCpuMsPerOk - loopHttp.serverCpuMsPerOk).toFixed(3)} ms; bare grpc-js minus bare Fastify: ${(bareGrpc.serverCpuMsPerOk - bareHttp.serverCpuMsPerOk).toFixed(3)} ms\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
