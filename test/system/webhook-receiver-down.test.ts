import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffMs, DEFAULT_MAX_ATTEMPTS } from '../../src/platform/jobs.js';
import { latency, loops, Recorder, sleep, tally, unclean } from './support/load.js';
import { liveCampaign, serviceUnavailable, startSystemService, type SystemService } from './support/service.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

/**
 * A reward delivered by signed webhook: grants keep coming while the receiver (a local HTTP
 * server) is down, its port closed. Every grant is answered 201 at once (delivery is a job), and
 * once the receiver is back every delivery arrives exactly once by its `webhook-id`, none dead,
 * within one retry interval of the backoff schedule. The time from the receiver's return to the
 * last delivery is printed.
 *
 * CI form: the receiver down 10 s. MH_SYSTEM_FULL=1: down 60 s.
 */
const FULL = process.env.MH_SYSTEM_FULL === '1';
const DOWN_MS = FULL ? 60_000 : 10_000;
const SECRET = 'whsec_c3lzdGVtLWZhdWx0LXRlc3Qtc2VjcmV0LTAxMjM0NQ==';
const CONCURRENCY = 4;

const unavailable = serviceUnavailable();

/** When the backoff schedule's attempts happen at the latest (+20% each), from the first one. */
function latestAttemptTimes(attempts: number): number[] {
  const times = [0];
  for (let a = 1; a < attempts; a++) times.push(times.at(-1)! + backoffMs(a, () => 1));
  return times;
}

/**
 * The longest a delivery can still wait for its next attempt once the receiver is back: the delay
 * after the last attempt that can fall inside the outage (every delay at its -20% earliest, then
 * the following delay at its +20% latest).
 */
function longestPendingRetryMs(): number {
  let at = 0;
  let attempt = 1;
  while (attempt < DEFAULT_MAX_ATTEMPTS && at + backoffMs(attempt, () => 0) < DOWN_MS) at += backoffMs(attempt++, () => 0);
  return backoffMs(attempt, () => 1);
}

describe.skipIf(unavailable)(`a webhook receiver down for ${DOWN_MS / 1000} s mid-load${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let svc: SystemService;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await startWebhookReceiver(SECRET);
    svc = await startSystemService({ MARKETING_WEBHOOKS_ALLOW_PRIVATE: 'true' });
  }, 240_000);
  afterAll(async () => {
    await svc?.stop();
    await receiver?.stop();
  });

  it('the backoff schedule outlasts the outage before it gives up', () => {
    // The earliest moment (every delay -20%) the last attempt can happen must be after the outage.
    const earliest = [0];
    for (let a = 1; a < DEFAULT_MAX_ATTEMPTS; a++) earliest.push(earliest.at(-1)! + backoffMs(a, () => 0));
    expect(earliest.at(-1)!).toBeGreaterThan(DOWN_MS);
    console.log(`[faults] webhook backoff: attempts at the latest at ${latestAttemptTimes(DEFAULT_MAX_ATTEMPTS).map((t) => Math.round(t / 1000)).join(', ')} s; gives up after ${Math.round(earliest.at(-1)! / 60_000)} min at the earliest`);
  });

  it('every grant is delivered exactly once after the receiver is back, none dead', async () => {
    const t = await svc.newTenant();
    const { reward: addReward } = await liveCampaign(t, 'Webhook outage');
    const reward = await addReward({
      reward_name: 'By webhook',
      total_stock: null,
      config: { generator: { points: 1 }, distributor: { type: 'WEBHOOK', url: receiver.url, secret: SECRET, timeout_ms: 2000 } },
    });

    const rec = new Recorder();
    const offset = rec.started;
    let stopped = false;
    let n = 0;
    const load = loops(CONCURRENCY, () => stopped, async () => {
      await rec.send('grant', `${svc.url}/v1/reward-grants`, { method: 'POST', key: t.service, body: { reward_id: reward.reward_id, user_id: `u${n++ % 500}` } });
      // A steady trickle, not a flood: the point is the outage, not the grant rate.
      await sleep(50);
    });
    await sleep(2000);
    rec.mark('down');
    await receiver.stop();
    await sleep(DOWN_MS);
    await receiver.start();
    rec.mark('back');
    await sleep(1000);
    stopped = true;
    await load;

    const granted = rec.outcomes.filter((o) => o.status === 201).map((o) => `${o.body.grant_id}:reward_grant.created`);
    const ids = new Set(granted);
    // Wait for the last delivery: at most one backoff interval after the receiver is back, plus slack.
    const patience = longestPendingRetryMs() + 30_000;
    const until = performance.now() + patience;
    while (performance.now() < until && !granted.every((id) => receiver.arrivals.some((a) => a.id === id))) await sleep(250);
    const arrived = new Set(receiver.arrivals.map((a) => a.id));
    const lastArrival = Math.max(...receiver.arrivals.filter((a) => ids.has(a.id)).map((a) => a.at - offset));

    const rows = (
      await svc.sql.query(
        `select delivery_status, count(*)::int as n, max(delivery_attempts)::int as attempts from reward_grant where tenant_id = $1 and reward_id = $2 group by delivery_status`,
        [t.tenantId, reward.reward_id],
      )
    ).rows as { delivery_status: string; n: number; attempts: number }[];
    const dead = (await svc.sql.query(`select count(*)::int as n from job where tenant_id = $1 and queue = 'reward.delivery' and status = 'DEAD'`, [t.tenantId])).rows[0].n as number;
    const figures = {
      grants: granted.length,
      answers: tally(rec.outcomes),
      grantLatency: latency(rec.outcomes),
      grantLatencyWhileDown: latency(rec.between(rec.marks.down!, rec.marks.back!)),
      downMs: Math.round(rec.marks.back! - rec.marks.down!),
      deliveredAfterBackMs: Math.round(lastArrival - rec.marks.back!),
      longestPendingRetryMs: longestPendingRetryMs(),
      arrivals: receiver.arrivals.length,
      duplicates: receiver.duplicates().length,
      badSignatures: receiver.badSignatures,
      deliveryRows: rows,
      deadJobs: dead,
    };
    console.log(`[faults] webhook receiver down (${FULL ? 'full' : 'CI'} form): ${JSON.stringify(figures)}`);

    expect(unclean(rec.outcomes)).toEqual([]);
    expect(rec.outcomes.every((o) => o.status === 201)).toBe(true);
    expect(granted.length).toBeGreaterThan(0);
    // Every grant's delivery arrived, once, signed; the database says DELIVERED for all, nothing dead.
    expect(granted.filter((id) => !arrived.has(id))).toEqual([]);
    expect(receiver.duplicates()).toEqual([]);
    expect(receiver.badSignatures).toBe(0);
    expect(rows.map((r) => [r.delivery_status, r.n])).toEqual([['DELIVERED', granted.length]]);
    expect(dead).toBe(0);
    // Within one retry interval of the schedule (the attempt due after the outage) plus polling slack.
    expect(lastArrival - rec.marks.back!).toBeLessThan(patience);
  }, 420_000);
});
