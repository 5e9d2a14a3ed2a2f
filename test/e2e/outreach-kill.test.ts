import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type SmsPeer, startGenericSmsPeer } from '../../src/modules/outreach/channels/testing/sms-peers.js';
import { postgresUrl, testDbKind } from '../helpers/database.js';
import { createScratchDatabase } from '../helpers/postgres-admin.js';
import { client, cliEnv, type ServerProcess, startServerProcess } from './server-process.js';

/**
 * A `marketing-hub worker` is killed with SIGKILL in the middle of an SMS run on PostgreSQL, while
 * the provider has accepted messages whose answers the worker has not read yet. A second worker
 * finishes the run: every customer gets the message exactly once as the provider sees it (the
 * records the dead worker left `sending` are sent again after their lease with the same
 * Idempotency-Key, which the provider drops), and the run's counters add up.
 */
const MASTER = 'e2e-master-key-0123456789abcdefghij';
const CUSTOMERS = 2000;
const ANSWER_DELAY_MS = 200;
const FANOUT = 100_000;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface WorkerProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  output: () => string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** `marketing-hub worker` as a real process; resolves once it says it is working. */
async function startWorkerProcess(env: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['bin/marketing-hub.js', 'worker'], {
    cwd: ROOT,
    env: cliEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${out}`)), 60_000);
    child.stdout.on('data', () => {
      if (out.includes('marketing-hub worker is working')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => reject(new Error(`worker exited before working:\n${out}`)));
  });
  return {
    child,
    output: () => out,
    kill: async (signal) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

/**
 * In front of the SMS peer: forwards each request at once (the peer accepts and records it), then
 * holds the peer's answer ANSWER_DELAY_MS before passing it on, as a slow provider would. Counts
 * requests whose Idempotency-Key it has seen before, and answers still held.
 */
async function startSlowFront(peer: SmsPeer) {
  const seen = new Set<string>();
  const state = { repeats: 0, held: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const key = String(req.headers['idempotency-key'] ?? '');
      if (seen.has(key)) state.repeats++;
      seen.add(key);
      state.held++;
      res.on('error', () => undefined);
      void forward(peer.url, req.headers, Buffer.concat(chunks)).then(async (answer) => {
        await new Promise((r) => setTimeout(r, ANSWER_DELAY_MS));
        state.held--;
        if (!res.destroyed) res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.text);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function forward(url: string, headers: IncomingHttpHeaders, body: Buffer) {
  const pass: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v === 'string' && !['host', 'connection', 'content-length', 'transfer-encoding'].includes(k)) pass[k] = v;
  }
  const res = await fetch(url, { method: 'POST', headers: pass, body });
  return { status: res.status, text: await res.text() };
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.runIf(testDbKind() === 'postgres')('outreach run after kill -9 of its worker on PostgreSQL', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  /** A scratch database, an API process that does not send, a tenant with `customers` tagged VIP, an SMS peer. */
  async function prepare(label: string, customers: number) {
    const scratch = await createScratchDatabase(postgresUrl(), label);
    cleanups.push(scratch.drop);
    const dir = mkdtempSync(join(tmpdir(), 'mh-outreach-kill-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const configFile = join(dir, 'config.yaml');
    writeFileSync(configFile, 'outreach:\n  lease_seconds: 5\n  poll_ms: 100\n  batch_size: 100\n  send_concurrency: 100\n');
    const env = {
      DATABASE_URL: scratch.url,
      MARKETING_MASTER_KEY: MASTER,
      MARKETING_SECRET_KEY: randomBytes(32).toString('base64'),
      MARKETING_WEBHOOKS_ALLOW_PRIVATE: 'true',
      MARKETING_CONFIG: configFile,
    };
    // The API process only answers; the worker processes send.
    const server: ServerProcess = await startServerProcess({ ...env, MARKETING_JOBS_IN_PROCESS: 'false' });
    cleanups.push(() => server.stop('SIGKILL'));
    const secret = randomBytes(24).toString('hex');
    const peer = await startGenericSmsPeer({ secret });
    cleanups.push(() => peer.close());
    const db = new pg.Client({ connectionString: scratch.url });
    await db.connect();
    cleanups.push(() => db.end());
    const http = client(server.url);
    const must = async (method: string, path: string, key: string, body?: unknown) => {
      const r = await http(method, path, { key, ...(body !== undefined ? { body } : {}) });
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    await must('POST', '/v1/tenants', MASTER, { tenant_id: 'ok1', name: 'Outreach' });
    const key = (await must('POST', '/v1/tenants/ok1/api-keys', MASTER, { name: 'a', role: 'admin' })).key as string;
    const csv = ['user_id,tags,phone,name', ...Array.from({ length: customers }, (_, i) => `u${i},VIP,+86138${String(i).padStart(8, '0')},客户${i}`)].join('\n');
    const imported = await fetch(`${server.url}/v1/customers/import`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' }, body: csv });
    expect(await imported.json()).toMatchObject({ imported: customers, failed: 0 });
    return { env, db, must, key, secret, peer };
  }

  it(`sends each of ${CUSTOMERS} customers exactly once; the records in flight at the kill are re-sent with their key and dropped by the provider`, async () => {
    const { env, db, must, key, secret, peer } = await prepare('outreachkill', CUSTOMERS);
    const front = await startSlowFront(peer);
    cleanups.push(() => front.close());
    await must('POST', '/v1/outreach/providers', key, { name: 'sms', kind: 'sms_generic', config: { url: front.url }, secrets: { secret }, rate_per_second: 1000, is_default: true });
    const campaign = await must('POST', '/v1/outreach/campaigns', key, { name: 'kill -9', channel: 'sms', target_tags: ['VIP'], content: { text: '亲爱的[客户姓名]，您有一份好礼待领取！' } });
    const run = await must('POST', `/v1/outreach/campaigns/${campaign.campaign_id}/trigger`, key, { execution_type: 'actual' });

    const doomed = await startWorkerProcess(env);
    cleanups.push(() => doomed.kill('SIGKILL'));
    // Mid-run, with answers of accepted messages still on their way to the worker.
    await waitFor(() => peer.messages.length >= CUSTOMERS / 4 && front.state.held > 0, 60_000, 'a quarter of the run with answers in flight');
    await doomed.kill('SIGKILL');
    const acceptedAtKill = peer.messages.length;
    expect(acceptedAtKill).toBeLessThan(CUSTOMERS);

    // Settle what the dead worker had already put on the wire, then read what it left behind.
    await new Promise((r) => setTimeout(r, ANSWER_DELAY_MS * 3));
    const left = (await db.query<{ seq: number }>(`select seq from outreach_record where run_id = $1 and status = 'sending'`, [run.run_id])).rows;
    const peerKeys = new Set(peer.messages.map((m) => m.key));
    const inFlight = left.filter((r) => peerKeys.has(`${run.run_id}-${r.seq}`)).length;
    expect(left.length).toBeGreaterThan(0);
    expect(inFlight).toBeGreaterThan(0);
    const repeatsBefore = front.state.repeats;
    expect(repeatsBefore).toBe(0);

    const survivor = await startWorkerProcess(env);
    cleanups.push(() => survivor.kill('SIGKILL'));
    let done: { status: string; stats: Record<string, unknown> } = { status: '', stats: {} };
    await waitFor(async () => {
      done = await must('GET', `/v1/outreach/runs/${run.run_id}`, key);
      return done.status === 'completed';
    }, 90_000, 'the run completed by the second worker');
    await survivor.kill('SIGTERM');

    console.log(
      `outreach kill -9: ${acceptedAtKill} of ${CUSTOMERS} accepted at the kill; ${left.length} records left sending, ` +
        `${inFlight} of them already accepted by the provider; ${front.state.repeats} repeats (same Idempotency-Key) dropped by the provider`,
    );
    // The provider saw each customer once: one message per key and per number, none lost.
    expect(peer.messages).toHaveLength(CUSTOMERS);
    expect(new Set(peer.messages.map((m) => m.key)).size).toBe(CUSTOMERS);
    expect(new Set(peer.messages.map((m) => m.to)).size).toBe(CUSTOMERS);
    // The repeats are exactly the records in flight at the kill, re-sent after the lease.
    expect(front.state.repeats).toBe(inFlight);
    expect(peer.requests).toBe(CUSTOMERS + inFlight);
    expect(done.stats).toMatchObject({ planned: CUSTOMERS, attempted: CUSTOMERS, sent: CUSTOMERS, failed: 0, skipped: 0, deferred: 0, remaining: 0 });
    const statuses = (await db.query<{ status: string; n: number }>(`select status, count(*)::int as n from outreach_record where run_id = $1 group by status`, [run.run_id])).rows;
    expect(statuses).toEqual([{ status: 'sent', n: CUSTOMERS }]);
    // Records claimed twice are the ones the dead worker left sending.
    const twice = (await db.query<{ n: number }>(`select count(*)::int as n from outreach_record where run_id = $1 and attempts = 2`, [run.run_id])).rows[0]!.n;
    expect(twice).toBe(left.length);
  }, 240_000);

  it(`writes the ${FANOUT} records of a run once when its worker is killed in the middle of the fan-out`, async () => {
    const { env, db, must, key, secret, peer } = await prepare('outreachfanout', FANOUT);
    // One message a second: the run is fanned out, then cancelled long before it would be sent.
    await must('POST', '/v1/outreach/providers', key, { name: 'sms', kind: 'sms_generic', config: { url: peer.url }, secrets: { secret }, rate_per_second: 1, is_default: true });
    const campaign = await must('POST', '/v1/outreach/campaigns', key, { name: 'kill -9 fan-out', channel: 'sms', target_tags: ['VIP'], content: { text: '您好' } });
    const run = await must('POST', `/v1/outreach/campaigns/${campaign.campaign_id}/trigger`, key, { execution_type: 'actual' });
    const fanOutRunning = async () =>
      ((await db.query(`select 1 from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and state = 'active' and query like '%insert into outreach_record%'`)).rowCount ?? 0) > 0;
    const records = async () => (await db.query<{ n: number; customers: number }>(`select count(*)::int as n, count(distinct customer_id)::int as customers from outreach_record where run_id = $1`, [run.run_id])).rows[0]!;

    const doomed = await startWorkerProcess(env);
    cleanups.push(() => doomed.kill('SIGKILL'));
    await waitFor(fanOutRunning, 60_000, 'the fan-out statement running');
    await doomed.kill('SIGKILL');
    const killedAt = Date.now();
    // Still running after the kill: the dead process never sent its COMMIT.
    expect(await fanOutRunning()).toBe(true);
    // Its backend ends the statement, finds the client gone and rolls back; the run is free again.
    await waitFor(async () => {
      await db.query('begin');
      const free = (await db.query(`select 1 from outreach_run where run_id = $1 for update skip locked`, [run.run_id])).rowCount === 1;
      await db.query('rollback');
      return free;
    }, 60_000, 'the dead worker lock on the run gone');
    console.log(`outreach kill -9 in the fan-out: its statement ran on ${Date.now() - killedAt} ms after the kill, then rolled back`);
    expect(await records()).toEqual({ n: 0, customers: 0 });
    expect((await must('GET', `/v1/outreach/runs/${run.run_id}`, key)).status).toBe('resolving');

    const survivor = await startWorkerProcess(env);
    cleanups.push(() => survivor.kill('SIGKILL'));
    await waitFor(async () => (await must('GET', `/v1/outreach/runs/${run.run_id}`, key)).status !== 'resolving', 60_000, 'the fan-out by the second worker');
    const cancelled = await must('POST', `/v1/outreach/runs/${run.run_id}/cancel`, key);
    await survivor.kill('SIGTERM');
    expect(cancelled.planned).toBe(FANOUT);
    expect(cancelled.stats.planned).toBe(FANOUT);
    expect(await records()).toEqual({ n: FANOUT, customers: FANOUT });
    const done = await must('GET', `/v1/outreach/runs/${run.run_id}`, key);
    expect(done.stats.sent + done.stats.cancelled).toBe(FANOUT);
    expect(done.stats.sent).toBe(peer.messages.length);
  }, 240_000);
});
