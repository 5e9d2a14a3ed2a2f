import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { type AddressInfo, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresUrl, testDbKind } from '../helpers/database.js';
import { createScratchDatabase } from '../helpers/postgres-admin.js';
import { client, startServerProcess } from './server-process.js';

/**
 * SIGTERM, as an orchestrator sends it, on the real `marketing-hub serve` and `marketing-hub
 * worker` processes: requests in flight get their answers and jobs in flight finish (and are not
 * run again) while new connections are refused, and the process exits 0 within
 * server.shutdown_grace_ms; with a grace shorter than the work in flight it exits 1 at the grace
 * time, and the job it cut off runs again after its lease (never lost).
 */
const MASTER = 'e2e-master-key-0123456789abcdefghij';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const onPostgres = testDbKind() === 'postgres';
const LEASE_SECONDS = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Running {
  child: ChildProcess;
  url: string | undefined;
  output(): string;
  /** Resolves with the exit code and when it came. */
  exited: Promise<{ code: number | null; at: number }>;
}

const exitOf = (child: ChildProcess) =>
  new Promise<{ code: number | null; at: number }>((resolve) => child.once('exit', (code) => resolve({ code, at: Date.now() })));

async function startServe(env: Record<string, string>): Promise<Running> {
  // Generous: on a loaded machine a start (migrations included) has taken over a minute.
  const server = await startServerProcess(env, 180_000);
  const exited = server.child.exitCode === null ? exitOf(server.child) : Promise.resolve({ code: server.child.exitCode, at: Date.now() });
  return { child: server.child, url: server.url, output: server.output, exited };
}

/** `marketing-hub worker` as a real process; resolves once it says it is working. */
async function startWorker(env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, ['bin/marketing-hub.js', 'worker'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', MARKETING_DB_POOL_SIZE: '5', ...pick(process.env, 'MARKETING_HUB_RUN'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = exitOf(child);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${out}`)), 180_000);
    child.stdout.on('data', () => {
      if (!out.includes('marketing-hub worker is working')) return;
      clearTimeout(timer);
      resolve();
    });
    void exited.then(() => reject(new Error(`worker exited before working:\n${out}`)));
  });
  return { child, url: undefined, output: () => out, exited };
}

function pick(env: NodeJS.ProcessEnv, name: string): Record<string, string> {
  const value = env[name];
  return value ? { [name]: value } : {};
}

/** A webhook receiver that answers each delivery after `delayMs()`: a slow partner system. */
async function startSlowReceiver(delayMs: () => number) {
  const state = { received: [] as string[], held: 0, answered: 0 };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      state.received.push(String(req.headers['webhook-id']));
      state.held++;
      setTimeout(() => {
        state.held--;
        state.answered++;
        res.on('error', () => undefined);
        if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      }, delayMs());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Whether a new TCP connection to the server's port is accepted (true) or refused (false). */
function accepts(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A customer import whose CSV body is streamed: the header and the first rows go now, the rest
 * when `finish` is called, a chunk every 100 ms. Until then the request is in flight.
 */
function streamedImport(url: string, key: string, rows: number) {
  const lines = Array.from({ length: rows }, (_, i) => `u${i},VIP\n`);
  const req = httpRequest(`${url}/v1/customers/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv', 'transfer-encoding': 'chunked' },
  });
  const reply = new Promise<{ status: number; body: any }>((resolve, reject) => {
    req.once('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || 'null') }));
    });
    req.once('error', reject);
  });
  req.write(`user_id,tags\n${lines.slice(0, rows / 2).join('')}`);
  return {
    reply,
    finish: async () => {
      for (let i = rows / 2; i < rows; i += rows / 10) {
        await sleep(100);
        req.write(lines.slice(i, i + rows / 10).join(''));
      }
      req.end();
      return reply;
    },
  };
}

describe(`graceful shutdown on SIGTERM (${onPostgres ? 'PostgreSQL' : 'embedded PGlite'})`, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  /** A database of its own (a scratch PostgreSQL database, or an embedded data folder). */
  async function databaseEnv(label: string): Promise<Record<string, string>> {
    const common = { MARKETING_MASTER_KEY: MASTER, MARKETING_SECRET_KEY: randomBytes(32).toString('base64'), MARKETING_WEBHOOKS_ALLOW_PRIVATE: 'true', MARKETING_JOBS_POLL_MS: '50', MARKETING_JOBS_LOCK_SECONDS: String(LEASE_SECONDS) };
    if (onPostgres) {
      const scratch = await createScratchDatabase(postgresUrl(), label);
      cleanups.push(scratch.drop);
      return { ...common, DATABASE_URL: scratch.url };
    }
    const dir = mkdtempSync(join(tmpdir(), `mh-${label}-`));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    return { ...common, MARKETING_DATA_DIR: dir };
  }

  /** A tenant with an admin key, a published campaign and a reward delivered by webhook to `hookUrl`. */
  async function prepareTenant(url: string, hookUrl: string) {
    const http = client(url);
    const must = async (method: string, path: string, key: string, body?: unknown) => {
      const r = await http(method, path, { key, ...(body !== undefined ? { body } : {}) });
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    await must('POST', '/v1/tenants', MASTER, { tenant_id: 'drain', name: 'Drain' });
    const key = (await must('POST', '/v1/tenants/drain/api-keys', MASTER, { name: 'a', role: 'admin' })).key as string;
    const app = await must('POST', '/v1/apps', key, { product_code: 'shop', name: 'Shop' });
    const campaign = await must('POST', '/v1/campaigns', key, {
      campaign_name: 'Drain', campaign_type: 'PROMOTION', product_code: app.product_code, start_time: '2020-01-01T00:00:00Z', end_time: '2099-12-31T23:59:59Z',
    });
    await must('POST', `/v1/campaigns/${campaign.campaign_id}/publish`, key);
    const reward = await must('POST', '/v1/rewards', key, {
      reward_name: 'Partner voucher', reward_type: 'POINTS', product_code: app.product_code, campaign_id: campaign.campaign_id, total_stock: 100,
      config: { generator: { points: 5 }, distributor: { type: 'WEBHOOK', url: hookUrl, secret: 'whsec_drain_0123456789abcdef', timeout_ms: 20_000 } },
    });
    const grant = async (userId: string) => (await must('POST', '/v1/reward-grants', key, { reward_id: reward.reward_id, user_id: userId })).grant_id as string;
    const grantOf = async (grantId: string, at = url) => (await client(at)('GET', `/v1/reward-grants/${grantId}`, { key })).body;
    return { key, grant, grantOf };
  }

  it('serve: a streamed import and a webhook delivery in flight finish, new connections are refused, exit 0 within the grace; the job is not run again', async () => {
    const env = { ...(await databaseEnv('drainserve')), MARKETING_SHUTDOWN_GRACE_MS: '10000' };
    const receiver = await startSlowReceiver(() => 2000);
    cleanups.push(() => receiver.close());
    const server = await startServe(env);
    cleanups.push(async () => server.child.kill('SIGKILL'));
    const { key, grant, grantOf } = await prepareTenant(server.url!, receiver.url);

    const grantId = await grant('u-drain');
    await waitFor(() => receiver.state.held === 1, 30_000, 'the delivery held by the receiver');
    const upload = streamedImport(server.url!, key, 2000);
    await sleep(300); // the request's head and first rows are read

    const signalledAt = Date.now();
    server.child.kill('SIGTERM');
    // Refused from shortly after the signal on, while the import is still in flight.
    await waitFor(async () => !(await accepts(server.url!)), 2000, 'new connections refused');
    const report = await upload.finish();
    expect(report).toMatchObject({ status: 200, body: { imported: 2000, failed: 0 } });
    const { code, at } = await server.exited;
    expect(code, server.output()).toBe(0);
    expect(receiver.state.answered).toBe(1);
    const drainMs = at - signalledAt;
    expect(drainMs).toBeLessThan(10_000);
    console.log(`serve drained a 2 s webhook delivery and a streamed import in ${drainMs} ms after SIGTERM`);

    // Started again on the same database: the delivery is recorded once, and after a lease's time
    // nothing has delivered it again.
    const again = await startServe(env);
    cleanups.push(async () => again.child.kill('SIGKILL'));
    expect((await grantOf(grantId, again.url!)).delivery).toMatchObject({ status: 'DELIVERED', attempts: 1 });
    await sleep((LEASE_SECONDS + 1) * 1000);
    expect(receiver.state.received).toEqual([`${grantId}:reward_grant.created`]);
    again.child.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
  }, 600_000);

  it('serve: with a grace shorter than the delivery in flight, exits 1 at the grace time; the delivery runs again after its lease', async () => {
    const env = { ...(await databaseEnv('drainshort')), MARKETING_SHUTDOWN_GRACE_MS: '1000' };
    let first = true;
    const receiver = await startSlowReceiver(() => (first ? ((first = false), 5000) : 0));
    cleanups.push(() => receiver.close());
    const server = await startServe(env);
    cleanups.push(async () => server.child.kill('SIGKILL'));
    const { grant, grantOf } = await prepareTenant(server.url!, receiver.url);

    const grantId = await grant('u-cut');
    await waitFor(() => receiver.state.held === 1, 30_000, 'the delivery held by the receiver');
    const signalledAt = Date.now();
    server.child.kill('SIGTERM');
    const { code, at } = await server.exited;
    expect(code, server.output()).toBe(1);
    expect(at - signalledAt).toBeGreaterThanOrEqual(900);
    expect(at - signalledAt).toBeLessThan(4000);
    expect(server.output()).toContain('graceful shutdown timed out');

    const again = await startServe(env);
    cleanups.push(async () => again.child.kill('SIGKILL'));
    await waitFor(async () => (await grantOf(grantId, again.url!)).delivery?.status === 'DELIVERED', (LEASE_SECONDS + 15) * 1000, 'the cut-off delivery run again');
    // The same delivery id both times: a receiver deduplicating on webhook-id sees it once.
    expect(receiver.state.received).toEqual([`${grantId}:reward_grant.created`, `${grantId}:reward_grant.created`]);
    again.child.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
  }, 600_000);

  // Several processes on one database need PostgreSQL (an embedded database has one process).
  it.runIf(onPostgres)('worker: a delivery in flight finishes and exit 0; with a short grace, exit 1 and another worker runs it again', async () => {
    const env = { ...(await databaseEnv('drainworker')), MARKETING_JOBS_IN_PROCESS: 'false' };
    const delays = [2000, 5000, 0];
    const receiver = await startSlowReceiver(() => delays.shift() ?? 0);
    cleanups.push(() => receiver.close());
    const api = await startServe(env);
    cleanups.push(async () => api.child.kill('SIGKILL'));
    const { grant, grantOf } = await prepareTenant(api.url!, receiver.url);

    // A grace longer than the work: the delivery finishes, the worker exits 0, nothing repeats.
    const worker = await startWorker({ ...env, MARKETING_SHUTDOWN_GRACE_MS: '10000' });
    cleanups.push(async () => worker.child.kill('SIGKILL'));
    const drained = await grant('u-worker');
    await waitFor(() => receiver.state.held === 1, 30_000, 'the delivery held by the receiver');
    const signalledAt = Date.now();
    worker.child.kill('SIGTERM');
    const done = await worker.exited;
    expect(done.code, worker.output()).toBe(0);
    expect(done.at - signalledAt).toBeLessThan(10_000);
    expect((await grantOf(drained)).delivery).toMatchObject({ status: 'DELIVERED', attempts: 1 });

    // A grace shorter than the work: exit 1 at the grace time; the next worker runs it after the lease.
    const short = await startWorker({ ...env, MARKETING_SHUTDOWN_GRACE_MS: '1000' });
    cleanups.push(async () => short.child.kill('SIGKILL'));
    const cut = await grant('u-worker-cut');
    await waitFor(() => receiver.state.held === 1, 30_000, 'the second delivery held by the receiver');
    const cutAt = Date.now();
    short.child.kill('SIGTERM');
    const stopped = await short.exited;
    expect(stopped.code, short.output()).toBe(1);
    expect(stopped.at - cutAt).toBeLessThan(4000);
    const next = await startWorker({ ...env, MARKETING_SHUTDOWN_GRACE_MS: '10000' });
    cleanups.push(async () => next.child.kill('SIGKILL'));
    await waitFor(async () => (await grantOf(cut)).delivery?.status === 'DELIVERED', (LEASE_SECONDS + 15) * 1000, 'the cut-off delivery run again');
    expect(receiver.state.received).toEqual([`${drained}:reward_grant.created`, `${cut}:reward_grant.created`, `${cut}:reward_grant.created`]);
    next.child.kill('SIGTERM');
    expect((await next.exited).code).toBe(0);
  }, 900_000);
});
