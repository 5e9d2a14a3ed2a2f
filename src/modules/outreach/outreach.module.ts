import type { RawBuilder } from 'kysely';
import type { Database, Executor } from '../../db/client.js';
import type { Actor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import type { JobQueue, JobRunner } from '../../platform/jobs.js';
import type { RateLimiter } from '../../platform/rate-limit/index.js';
import type { SecretBox } from '../../platform/secret-box.js';
import { createOutreachCampaignService } from './campaign.service.js';
import { PROVIDER_KINDS } from './channels/registry.js';
import { createEventsService } from './events.service.js';
import type { OutreachMetrics } from './outreach.metrics.js';
import { createProviderService } from './provider.service.js';
import { createDispatcher, REWARD_QUEUE } from './run.dispatch.js';
import { createRunService } from './run.service.js';
import { createScheduler } from './schedule.js';
import { createConversionSweep } from './conversions.js';
import { createRecordService } from './record.service.js';
import { createSettingsService } from './settings.service.js';
import { createTracker } from './tracking.js';

export interface OutreachSettings {
  public_url: string;
  batch_size: number;
  send_concurrency: number;
  lease_seconds: number;
  max_attempts: number;
  poll_ms: number;
  provider_timeout_ms: number;
}

export interface OutreachDeps {
  db: Database;
  clock: Clock;
  box: SecretBox;
  /** Key of tracking-link signatures (derived from the service's secret key). */
  trackingKey: Buffer;
  jobs: JobQueue;
  limiter: RateLimiter;
  metrics: OutreachMetrics;
  settings: OutreachSettings;
  allowPrivateNetworks: boolean;
  audienceExists: (actor: Actor, audienceId: string, exec: Executor) => Promise<unknown>;
  audienceMembers: (tenantId: string, audienceId: string, exec: Executor) => Promise<RawBuilder<{ user_id: string }> | null>;
  rewardExists: (actor: Actor, rewardId: string, exec: Executor) => Promise<unknown>;
  /** Grants a campaign's reward for a delivered message (the grants module; the record is the cause). */
  grantReward: (tenantId: string, input: { reward_id: string; user_id: string; source_id: string }) => Promise<void>;
  warn: (err: unknown, message: string) => void;
}

/** The outreach module's services, built once per process. */
export function createOutreach(deps: OutreachDeps) {
  const { db, clock, settings } = deps;
  const tracker = createTracker(deps.trackingKey, settings.public_url);
  const providers = createProviderService({
    db,
    clock,
    box: deps.box,
    kinds: PROVIDER_KINDS,
    providerDeps: { allowPrivateNetworks: deps.allowPrivateNetworks, timeoutMs: settings.provider_timeout_ms },
  });
  const campaigns = createOutreachCampaignService({ db, clock, audienceExists: deps.audienceExists, rewardExists: deps.rewardExists });
  const runs = createRunService({ db, clock, providers, audienceMembers: deps.audienceMembers });
  const events = createEventsService({ db, clock, providers, jobs: deps.jobs, tracker, metrics: deps.metrics });
  const outreachSettings = createSettingsService({ db, clock });
  const dispatcher = createDispatcher({
    db,
    clock,
    runs,
    providers,
    limiter: deps.limiter,
    jobs: deps.jobs,
    tracker,
    metrics: deps.metrics,
    warn: deps.warn,
    settings: {
      batchSize: settings.batch_size,
      sendConcurrency: settings.send_concurrency,
      leaseSeconds: settings.lease_seconds,
      maxAttempts: settings.max_attempts,
      // Ticks end after this to let shutdown in; the gap to the next tick (poll_ms at most) costs
      // a rate-limited run up to poll_ms of sending per budget (about 2.5% on average).
      tickBudgetMs: 5_000,
    },
  });
  const scheduler = createScheduler({ db, clock, runs, warn: deps.warn });
  const conversions = createConversionSweep({ db, clock });
  const records = createRecordService({ db });

  /** Gives the job runner the send loop, the scheduler and the reward queue. */
  function register(runner: JobRunner): void {
    runner.every('outreach.dispatch', settings.poll_ms, async () => {
      await dispatcher.tick();
    });
    runner.every('outreach.schedule', 1000, async () => {
      await scheduler.tick();
    });
    runner.every('outreach.conversions', 5000, async () => {
      await conversions.tick();
    });
    runner.register(REWARD_QUEUE, async (job) => {
      const p = job.payload as { reward_id: string; user_id: string; record_id: string };
      await deps.grantReward(job.tenantId, { reward_id: p.reward_id, user_id: p.user_id, source_id: p.record_id });
    });
  }

  return { tracker, providers, campaigns, runs, events, records, settings: outreachSettings, dispatcher, scheduler, conversions, register, close: () => providers.close() };
}

export type Outreach = ReturnType<typeof createOutreach>;
