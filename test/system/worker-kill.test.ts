import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../e2e/server-process.js';
import { metricValue } from '../helpers/grant-helpers.js';
import { freePort } from './support/postgres-instance.js';
import { loops, Recorder, sleep, tally, unclean } from './support/load.js';
import { liveCampaign, serviceUnavailable, startSystemService, type SystemService } from './support/service.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

/**
 * kill -9 of a worker process mid-load. The API runs no jobs (MARKETING_JOBS_IN_PROCESS=false);
 * two `marketing-hub worker` processes deliver a reward by signed webhook to a slow receiver, so
 * deliveries are in flight when one worker is killed. The other takes the dead worker's jobs over
 * once their lease (MARKETING_JOBS_LOCK_SECONDS, 5 s here) runs out: every grant delivered, none
 * dead, and a delivery arrives twice only if its first attempt had reached the receiver before the
 * kill (at least once, the same `webhook-id`, which receivers deduplicate by).
 *
 * CI form: 300 grants. MH_SYSTEM_FULL=1: 1,500.
 */
const FULL = process.env.MH_SYSTEM_FULL === '1';
const GRANTS = FULL ? 1500 : 300;
const SECRET = 'whsec_d29ya2VyLWtpbGwtZmF1bHQtdGVzdC1zZWNyZXQtMDE=';
const LEASE_SECONDS = 5;
const unavailable = serviceUnavailable();

interface Worker {
  child: ChildProcess;
  output: () => string;
}

function startWorker(env: Record<string, string>): Worker {
  const child = spawnCli(['worker'], env);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

describe.skipIf(unavailable)(`kill -9 of a worker process mid-load${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let svc: SystemService;
  let receiver: WebhookReceiver;
  const workers: Worker[] = [];

  beforeAll(async () => {
    receiver = await startWebhookReceiver(SECRET, { answerAfterMs: 150 });
    svc = await startSystemService({
      MARKETING_WEBHOOKS_ALLOW_PRIVATE: 'true',
      MARKETING_JOBS_IN_PROCESS: 'false',
      MARKETING_JOBS_LOCK_SECONDS: String(LEASE_SECONDS),
    });
  }, 240_000);
  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await svc?.stop();
    await receiver?.stop();
  });

  it('the other worker finishes every delivery; a repeat only of one in flight at the kill', async () => {
    const t = await svc.newTenant();
    const { reward: addReward } = await liveCampaign(t, 'Worker kill');
    const reward = await addReward({
      reward_name: 'By webhook',
      total_stock: null,
      config: { generator: { points: 1 }, distributor: { type: 'WEBHOOK', url: receiver.url, secret: SECRET, timeout_ms: 5000 } },
    });

    // The grants first (the API runs no jobs, so every delivery waits in the queue), then the workers.
    const rec = new Recorder();
    let n = 0;
    await loops(8, () => n >= GRANTS, async () => {
      const i = n++;
      await rec.send('grant', `${svc.url}/v1/reward-grants`, { method: 'POST', key: t.service, body: { reward_id: reward.reward_id, user_id: `u${i}` } });
    });
    const granted = rec.outcomes.filter((o) => o.status === 201).map((o) => `${o.body.grant_id}:reward_grant.created`);
    expect(unclean(rec.outcomes)).toEqual([]);
    expect(granted).toHaveLength(GRANTS);

    // The survivor serves its own /metrics, so its deliveries are counted where Prometheus looks.
    const survivorMetrics = await freePort();
    workers.push(startWorker(svc.env), startWorker({ ...svc.env, MARKETING_WORKER_METRICS_PORT: String(survivorMetrics) }));
    const startedAt = performance.now();
    // Kill one worker once about a third has arrived, while deliveries are in flight.
    while (receiver.arrivals.length < GRANTS / 3) {
      if (performance.now() - startedAt > 180_000) throw new Error(`workers delivered ${receiver.arrivals.length} in 180 s:\n${workers.map((w) => w.output()).join('\n')}`);
      await sleep(20);
    }
    const killedAt = performance.now();
    const arrivalsAtKill = receiver.arrivals.length;
    workers[0]!.child.kill('SIGKILL');
    const arrivedBeforeKill = new Set(receiver.arrivals.map((a) => a.id));

    const wanted = new Set(granted);
    const deadline = performance.now() + 180_000;
    const delivered = () => new Set(receiver.arrivals.map((a) => a.id).filter((id) => wanted.has(id)));
    // Done when the database says so: a delivery that reached the receiver from the killed worker is
    // still PENDING until the other worker takes its job over and delivers it again.
    const deliveredRows = async () =>
      (await svc.sql.query(`select count(*)::int as n from reward_grant where tenant_id = $1 and reward_id = $2 and delivery_status = 'DELIVERED'`, [t.tenantId, reward.reward_id])).rows[0].n as number;
    while ((delivered().size < wanted.size || (await deliveredRows()) < GRANTS) && performance.now() < deadline) await sleep(200);
    const doneAt = performance.now();

    const rows = (
      await svc.sql.query(
        `select delivery_status, count(*)::int as n from reward_grant where tenant_id = $1 and reward_id = $2 group by delivery_status`,
        [t.tenantId, reward.reward_id],
      )
    ).rows as { delivery_status: string; n: number }[];
    const dead = (await svc.sql.query(`select count(*)::int as n from job where tenant_id = $1 and status = 'DEAD'`, [t.tenantId])).rows[0].n as number;
    const duplicates = receiver.duplicates();
    const scraped = await (await fetch(`http://127.0.0.1:${survivorMetrics}/metrics`)).text();
    const survivorDelivered = metricValue(scraped, 'marketing_webhook_deliveries_total', { kind: 'reward_grant', outcome: 'delivered' });
    const figures = {
      grants: granted.length,
      answers: tally(rec.outcomes),
      arrivedBeforeKill: arrivedBeforeKill.size,
      deliveredAfterKillMs: Math.round(doneAt - killedAt),
      leaseSeconds: LEASE_SECONDS,
      arrivals: receiver.arrivals.length,
      duplicates: duplicates.length,
      survivorDelivered,
      deliveryRows: rows,
      deadJobs: dead,
    };
    console.log(`[faults] worker kill -9 (${FULL ? 'full' : 'CI'} form): ${JSON.stringify(figures)}`);

    expect(delivered().size).toBe(wanted.size);
    expect(receiver.badSignatures).toBe(0);
    // Only a delivery whose first attempt had reached the receiver before the kill may come again.
    expect(duplicates.filter((id) => !arrivedBeforeKill.has(id))).toEqual([]);
    expect(rows.map((r) => [r.delivery_status, r.n])).toEqual([['DELIVERED', granted.length]]);
    // Every arrival after the kill was the survivor's, and its /metrics counted each one.
    expect(survivorDelivered).toBeGreaterThanOrEqual(receiver.arrivals.length - arrivalsAtKill);
    expect(dead).toBe(0);
    // The surviving worker went on, and took the dead one's jobs over once their lease ran out.
    expect(workers[1]!.child.exitCode).toBeNull();
    if (duplicates.length > 0) expect(doneAt - killedAt).toBeGreaterThan(LEASE_SECONDS * 1000 * 0.8);
  }, 480_000);
});
