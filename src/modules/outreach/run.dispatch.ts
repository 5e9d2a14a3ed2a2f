import type { Database } from '../../db/client.js';
import { inTransaction } from '../../db/client.js';
import type { Clock } from '../../platform/clock.js';
import type { JobQueue } from '../../platform/jobs.js';
import type { RateLimiter } from '../../platform/rate-limit/index.js';
import { findCustomers } from '../customers/index.js';
import type { SendOutcome } from './channels/channel.js';
import type { OutreachMetrics } from './outreach.metrics.js';
import type { LiveProvider, ProviderService } from './provider.service.js';
import { applyOutcomes, type ClaimedRecord, claimDue, type Outcome } from './record.statements.js';
import * as runRepo from './run.repo.js';
import type { RunService } from './run.service.js';
import { decideWinner } from './run.ab.js';
import { cappedOutcome, preparedOutcome, sentOutcome, wouldSendOutcome } from './send.outcomes.js';
import { fullAmong, periodStart, releaseCaps, reserveCaps, suppressedAmong, suppressMany } from './send.limits.js';
import { prepare, type Prepared, type RunSnapshot } from './send.prepare.js';
import type { Tracker } from './tracking.js';

/**
 * The send loop every process runs (API processes with in-process workers, `worker` processes):
 * start runs that wait for their fan-out, then take steps of due records of each sending run.
 * A step claims records (FOR UPDATE SKIP LOCKED, with a lease), checks each at send time
 * (opt-out, suppression, quiet hours, frequency cap), calls the provider within its rate limit,
 * and writes every outcome with its counters in one statement. A process killed mid-step leaves
 * its records `sending`; when the lease runs out another process sends them again with the same
 * idempotency key (the record id), so the provider drops the repeat.
 */

export const REWARD_QUEUE = 'outreach.reward';

/** A provider's second is sent in this many slices (see acquire). */
const PACE_SLICES = 20;

export interface DispatchSettings {
  batchSize: number;
  sendConcurrency: number;
  leaseSeconds: number;
  maxAttempts: number;
  /** How long one tick may keep working before it yields (ms). */
  tickBudgetMs: number;
}

export interface DispatcherDeps {
  db: Database;
  clock: Clock;
  runs: RunService;
  providers: ProviderService;
  limiter: RateLimiter;
  jobs: JobQueue;
  tracker: Tracker;
  metrics: OutreachMetrics;
  settings: DispatchSettings;
  warn: (err: unknown, message: string) => void;
}

export const recordIdOf = (runId: string, seq: number) => `${runId}-${seq}`;

/** Backoff after a temporary provider failure: 2 s doubling, capped at a minute, with jitter. */
function retryBackoff(attempt: number): number {
  const base = Math.min(60_000, 2_000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/** Runs `work` over items with at most `limit` in flight. */
async function pooled<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!);
    }
  });
  await Promise.all(lanes);
  return out;
}

type RunHead = Awaited<ReturnType<typeof runRepo.workableRuns>>[number];

export function createDispatcher(deps: DispatcherDeps) {
  const { db, clock, settings, metrics } = deps;
  /** Providers that answered "throttled": no claims for them until this time (per process). */
  const coolDown = new Map<string, number>();

  /** Records one step claims: 1/20 s worth at the provider's rate (a bigger batch for simulations). */
  function stepSize(snapshot: RunSnapshot, simulation: boolean): number {
    if (simulation || !snapshot.provider_id) return settings.batchSize * (simulation ? 5 : 1);
    return Math.max(1, Math.min(settings.batchSize, Math.ceil(snapshot.rate_per_second / PACE_SLICES)));
  }

  function coolingDown(snapshot: RunSnapshot): boolean {
    return snapshot.provider_id !== null && (coolDown.get(snapshot.provider_id) ?? 0) > clock.now().getTime();
  }

  /**
   * Takes `n` sends from the provider's rate just before they go out, waiting for room: at most
   * `rate` in any second and 1/20 of it in any 50 ms (so a second's allowance does not leave in one
   * burst, and a slice that arrives late at the provider can push a second over by 5% at most),
   * over all processes. False when no room came within half the lease.
   */
  async function acquire(snapshot: RunSnapshot, n: number): Promise<boolean> {
    const rate = snapshot.rate_per_second;
    // The provider id is the hash tag: both keys of one call sit on one Redis Cluster slot.
    const key = `outreach:provider:{${snapshot.provider_id}}`;
    const rules = [
      { name: 'provider_second', key: `${key}:s`, limit: rate, windowMs: 1000 },
      { name: 'provider_slice', key: `${key}:t`, limit: Math.max(n, Math.ceil(rate / PACE_SLICES)), windowMs: 1000 / PACE_SLICES },
    ];
    const giveUpAt = Date.now() + (settings.leaseSeconds * 1000) / 2;
    for (;;) {
      const r = await deps.limiter.hitAll(rules, n);
      if (r.allowed) return true;
      if (Date.now() >= giveUpAt) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, Math.max(2, r.retryAfterMs))));
    }
  }

  async function sendOne(provider: LiveProvider, p: Extract<Prepared, { kind: 'send' }>): Promise<SendOutcome> {
    const started = performance.now();
    let answer: SendOutcome;
    try {
      answer = await provider.adapter.send(p.message);
    } catch (err) {
      answer = { kind: 'retry', error: `adapter error: ${(err as Error).message}` };
    }
    metrics.providerSeconds.observe({ kind: provider.row.kind }, (performance.now() - started) / 1000);
    if (answer.kind === 'throttled') {
      coolDown.set(provider.row.provider_id, clock.now().getTime() + Math.min(answer.retryAfterMs ?? 1000, 5000));
    }
    return answer;
  }

  /** One step of one run: claim, check, send, write. Returns how many records it decided. */
  async function step(run: RunHead): Promise<number> {
    const snapshot = run.snapshot as RunSnapshot;
    const simulation = run.execution_type === 'simulation';
    if (!simulation && coolingDown(snapshot)) return 0;
    const allowed = stepSize(snapshot, simulation);
    const now = clock.now();
    const claimed = await claimDue(db, run.run_id, now, new Date(now.getTime() + settings.leaseSeconds * 1000), allowed);
    if (claimed.length === 0) return 0;

    const customers = new Map((await findCustomers(db, run.tenant_id, claimed.map((c) => c.customer_id))).map((c) => [c.user_id, c]));
    const provider = simulation || !snapshot.provider_id ? null : await deps.providers.live(run.tenant_id, snapshot.provider_id);
    const decided = claimed.map((record) => ({
      record,
      prepared: preparedFor(run, snapshot, record, customers, now),
    }));
    // Suppression is per address, known only after the address is read.
    const addresses = decided.flatMap((d) => (d.prepared.kind === 'send' ? [d.prepared.address] : []));
    const suppressed = await suppressedAmong(db, run.tenant_id, snapshot.channel, addresses);
    const outcomes: Outcome[] = [];
    const toSend: { record: ClaimedRecord; prepared: Extract<Prepared, { kind: 'send' }> }[] = [];
    for (const d of decided) {
      if (d.prepared.kind === 'send' && suppressed.has(d.prepared.address)) {
        outcomes.push(preparedOutcome(d.record, { kind: 'skip', reason: 'suppressed', address: d.prepared.address }));
      } else if (d.prepared.kind === 'send') {
        toSend.push({ record: d.record, prepared: d.prepared });
      } else if (simulation && d.prepared.kind === 'defer') {
        outcomes.push(wouldSendOutcome(d.record, d.prepared.address, d.prepared.reason));
      } else {
        outcomes.push(preparedOutcome(d.record, d.prepared));
      }
    }

    // Frequency caps: reserved now for this step's customers (a simulation only looks).
    const cap = snapshot.transactional ? null : snapshot.frequency_cap;
    let capped = new Set<string>();
    const capPeriod = cap ? periodStart(now, cap.period) : null;
    if (cap && capPeriod && toSend.length > 0) {
      // A record claimed again after a lease ran out, or retried after the provider put it off
      // (throttled, unavailable), already holds its reservation.
      const holds = (r: ClaimedRecord) => r.old_status === 'sending' || (r.old_status === 'deferred' && (r.reason === 'throttled' || r.reason === 'provider_unavailable'));
      const fresh = toSend.filter((s) => !holds(s.record)).map((s) => s.record.customer_id);
      const limit = { tenantId: run.tenant_id, channel: snapshot.channel, customerIds: fresh, periodStart: capPeriod, count: cap.count };
      if (simulation) {
        capped = await fullAmong(db, limit);
      } else {
        const granted = await reserveCaps(db, limit);
        capped = new Set(fresh.filter((id) => !granted.has(id)));
      }
    }
    const sending = toSend.filter((s) => !capped.has(s.record.customer_id));
    for (const s of toSend) if (capped.has(s.record.customer_id)) outcomes.push(cappedOutcome(s.record, s.prepared.address));

    if (simulation) {
      for (const s of sending) outcomes.push(wouldSendOutcome(s.record, s.prepared.address, null));
      await keepSamples(run, sending.map((s) => s.prepared));
    } else if (!provider) {
      // The provider was deleted after the trigger: nothing can be sent; wait and say why.
      for (const s of sending) outcomes.push(sentOutcome(s.record, s.prepared.address, { kind: 'retry', error: 'the provider no longer exists' }, outcomeSettings(now)));
    } else if (sending.length > 0 && !(await acquire(snapshot, sending.length))) {
      const later = { kind: 'throttled' as const, retryAfterMs: 1000, error: 'the provider rate limit had no room' };
      for (const s of sending) outcomes.push(sentOutcome(s.record, s.prepared.address, later, outcomeSettings(clock.now())));
    } else {
      const answers = await pooled(sending, settings.sendConcurrency, (s) => sendOne(provider, s.prepared));
      const after = clock.now();
      sending.forEach((s, i) => outcomes.push(sentOutcome(s.record, s.prepared.address, answers[i]!, outcomeSettings(after))));
    }
    await writeOutcomes(run, snapshot, outcomes, capPeriod);
    return claimed.length;
  }

  function outcomeSettings(now: Date) {
    return { maxAttempts: settings.maxAttempts, backoffMs: retryBackoff, now };
  }

  function preparedFor(run: RunHead, snapshot: RunSnapshot, record: ClaimedRecord, customers: Map<string, Parameters<typeof prepare>[2] & object>, now: Date): Prepared {
    try {
      return prepare(
        { snapshot, tenantId: run.tenant_id, campaignId: run.campaign_id, now, tracker: deps.tracker, suppressed: new Set() },
        { recordId: recordIdOf(run.run_id, record.seq), customerId: record.customer_id, variant: record.variant },
        customers.get(record.customer_id),
      );
    } catch (err) {
      deps.warn(err, 'outreach render failed');
      return { kind: 'skip', reason: 'invalid_address', address: null };
    }
  }

  async function writeOutcomes(run: RunHead, snapshot: RunSnapshot, outcomes: Outcome[], capPeriod: Date | null) {
    const now = clock.now();
    await inTransaction(db, async (trx) => {
      const written = await applyOutcomes(trx, run.tenant_id, run.run_id, outcomes, now);
      const bySeq = new Map(outcomes.map((o) => [o.seq, o]));
      if (capPeriod) {
        const giveBack = written.filter((w) => bySeq.get(w.seq)?.failed).map((w) => w.customer_id);
        await releaseCaps(trx, { tenantId: run.tenant_id, channel: snapshot.channel, customerIds: giveBack, periodStart: capPeriod });
      }
      // An address the provider says does not exist (no such number, mailbox unknown, push token
      // unregistered) is not tried again by later campaigns.
      const gone = written.flatMap((w) => {
        const o = bySeq.get(w.seq);
        return o?.failed && o.reason === 'invalid_address' && o.address ? [o.address] : [];
      });
      await suppressMany(trx, { tenantId: run.tenant_id, channel: snapshot.channel, addresses: gone, reason: 'invalid_address', now });
      if (snapshot.reward_id) {
        const rewardId = snapshot.reward_id;
        const delivered = written.filter((x) => x.status === 'delivered');
        await deps.jobs.enqueueMany(
          trx,
          delivered.map((w) => ({ tenantId: run.tenant_id, queue: REWARD_QUEUE, payload: { reward_id: rewardId, record_id: recordIdOf(run.run_id, w.seq), user_id: w.customer_id } })),
        );
      }
    });
    for (const o of outcomes) {
      metrics.messages.inc({ channel: snapshot.channel, status: o.status });
      if (o.status === 'skipped' && o.reason) metrics.skipped.inc({ reason: o.reason });
      if (o.status === 'deferred' && o.reason) metrics.deferred.inc({ reason: o.reason });
    }
  }

  /** The first rendered messages of a simulation, kept on the run for the operator to read. */
  async function keepSamples(run: RunHead, prepared: Extract<Prepared, { kind: 'send' }>[]) {
    if (prepared.length === 0) return;
    const more = prepared.slice(0, 20).map((p) => ({ record_id: p.message.recordId, customer_id: p.message.customerId, address: p.address, content: p.message.content }));
    await runRepo.appendSamples(db, run.tenant_id, run.run_id, more, 20);
  }

  const dispatcher = {
    /**
     * One pass: fan-out of waiting runs, A/B decisions that are due, then steps of every sending
     * run until nothing is due or the budget is spent. Returns how much it did.
     */
    async tick(options: { tenantId?: string } = {}): Promise<number> {
      const started = Date.now();
      let done = 0;
      const runs = await runRepo.workableRuns(db, 50, clock.now(), options.tenantId);
      for (const run of runs.filter((r) => r.status === 'resolving')) {
        done += await deps.runs.resolveRun(run.run_id).catch((err: unknown) => {
          deps.warn(err, 'outreach fan-out failed');
          return 0;
        });
      }
      const sending = runs.filter((r) => r.status === 'sending');
      for (const run of sending) done += await decideWinner(db, clock, run).catch((err: unknown) => (deps.warn(err, 'outreach A/B decision failed'), 0));
      let progress = true;
      while (progress && Date.now() - started < settings.tickBudgetMs) {
        progress = false;
        for (const run of sending) {
          // Two steps of a run at once: one claims and writes while the other's sends are out.
          const counts = await Promise.all(
            [0, 1].map(() =>
              step(run).catch((err: unknown) => {
                deps.warn(err, 'outreach step failed');
                return 0;
              }),
            ),
          );
          const n = counts[0]! + counts[1]!;
          if (n > 0) progress = true;
          done += n;
        }
      }
      for (const run of sending) await deps.runs.completeIfDone(run.tenant_id, run.run_id).catch((err: unknown) => deps.warn(err, 'outreach completion failed'));
      return done;
    },

    /** Ticks until nothing is due now (tests, the CLI); `tenantId` limits it to one tenant's runs. */
    async drain(options: { maxTicks?: number; tenantId?: string } = {}): Promise<number> {
      let total = 0;
      for (let i = 0; i < (options.maxTicks ?? 1000); i += 1) {
        const n = await dispatcher.tick(options.tenantId ? { tenantId: options.tenantId } : {});
        total += n;
        if (n === 0) break;
      }
      return total;
    },
  };
  return dispatcher;
}
