import type pg from 'pg';
import type { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.js';
import { lowestStock, type StockLeft } from '../modules/inventory/index.js';
import { liveRewardKeys } from '../modules/rewards/index.js';
import { probeRedis } from '../platform/redis.js';

/**
 * How many rewards the stock gauges list: the limited-stock rewards closest to selling out. A
 * constant rather than a setting: it bounds the series count (two series per reward per process)
 * and 20 covers the rewards anyone watches at once.
 */
export const STOCK_GAUGE_REWARDS = 20;
// Candidates read before dropping rewards that ended or were deleted (their slots stay).
const STOCK_CANDIDATES = STOCK_GAUGE_REWARDS * 4;

export interface OperationalMetricsDeps {
  db: Kysely<DB>;
  pool: pg.Pool | null;
  /** The configured Redis client, or null when none is configured (then no marketing_redis_up). */
  redis?: Redis | null;
}

/** Collapses the reads of one scrape into one: the first gauge collected starts it, the others share it. */
function oncePerScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null;
  return () => {
    pending ??= read().finally(() => setTimeout(() => (pending = null), 0));
    return pending;
  };
}

/** The live rewards among the lowest-stock candidates, at most STOCK_GAUGE_REWARDS of them. */
export async function hotRewardStock(db: Kysely<DB>): Promise<StockLeft[]> {
  const candidates = await lowestStock(db, STOCK_CANDIDATES);
  const live = await liveRewardKeys(db, candidates);
  return candidates.filter((c) => live.has(`${c.tenantId}\u0000${c.rewardId}`)).slice(0, STOCK_GAUGE_REWARDS);
}

function installStockGauges(registry: Registry, db: Kysely<DB>): void {
  const read = oncePerScrape(() => hotRewardStock(db));
  const stockGauge = (name: string, help: string, pick: (s: StockLeft) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['tenant_id', 'reward_id'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        const rows = await read().catch(() => []); // an unreachable database shows as no series
        for (const s of rows) this.set({ tenant_id: s.tenantId, reward_id: s.rewardId }, pick(s));
      },
    });
  stockGauge('marketing_reward_stock_left', `Units a grant can still take, for the ${STOCK_GAUGE_REWARDS} live limited-stock rewards closest to selling out`, (s) => s.left);
  stockGauge('marketing_reward_stock_total', 'Total stock of the same rewards as marketing_reward_stock_left', (s) => s.total);
}

function installRedisGauge(registry: Registry, redis: Redis): void {
  new Gauge({
    name: 'marketing_redis_up',
    help: '1 when Redis answered a PING within 500 ms at this scrape, 0 when not (the process then works on in-process fallbacks)',
    registers: [registry],
    async collect() {
      this.set((await probeRedis(redis)) === 'UP' ? 1 : 0);
    },
  });
}

/**
 * Gauges read when /metrics is scraped, for what wakes an operator: the job queue (due jobs, the
 * oldest due job's age, running and dead jobs per queue; one grouped query over the job table's
 * partial indexes), the PostgreSQL pool's saturation (nothing to read on PGlite), the stock left
 * of the rewards closest to selling out, and whether Redis answers (when one is configured).
 */
export function installOperationalMetrics(registry: Registry, deps: OperationalMetricsDeps): void {
  installStockGauges(registry, deps.db);
  if (deps.redis) installRedisGauge(registry, deps.redis);
  const state = { due: new Map<string, number>(), age: new Map<string, number>(), running: new Map<string, number>(), dead: new Map<string, number>() };
  let databaseUp = 1;

  // One query per scrape feeds the four job gauges (the first gauge collected starts it).
  async function readJobs(): Promise<void> {
    const { rows } = await sql<{ queue: string; status: string; n: string; oldest: string | null }>`
      select queue, status, count(*)::text as n,
             extract(epoch from (now() - min(run_at)))::text as oldest
        from job
       where (status = 'PENDING' and run_at <= now()) or status in ('RUNNING', 'DEAD')
       group by queue, status`.execute(deps.db);
    for (const map of Object.values(state)) map.clear();
    for (const r of rows) {
      if (r.status === 'PENDING') {
        state.due.set(r.queue, Number(r.n));
        state.age.set(r.queue, Math.max(0, Number(r.oldest ?? 0)));
      } else if (r.status === 'RUNNING') state.running.set(r.queue, Number(r.n));
      else state.dead.set(r.queue, Number(r.n));
    }
  }
  const jobs = oncePerScrape(async () => {
    try {
      await readJobs();
      databaseUp = 1;
    } catch (err) {
      databaseUp = 0;
      throw err;
    }
  });

  new Gauge({
    name: 'marketing_database_up',
    help: '1 when the scrape could read the database (the job queue query), 0 when it could not',
    registers: [registry],
    async collect() {
      await jobs().catch(() => undefined);
      this.set(databaseUp);
    },
  });

  const jobGauge = (name: string, help: string, map: keyof typeof state) =>
    new Gauge({
      name,
      help,
      labelNames: ['queue'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        await jobs().catch(() => undefined); // an unreachable database shows as no series (and /ready says DOWN)
        for (const [queue, value] of state[map]) this.set({ queue }, value);
      },
    });
  jobGauge('marketing_jobs_due', 'Jobs due now and not yet claimed, per queue', 'due');
  jobGauge('marketing_jobs_oldest_due_age_seconds', 'How long the oldest due job of each queue has waited', 'age');
  jobGauge('marketing_jobs_running', 'Jobs claimed by a worker and not finished, per queue', 'running');
  jobGauge('marketing_jobs_dead', 'Jobs that ran out of attempts (kept until someone looks), per queue', 'dead');

  const { pool } = deps;
  if (!pool) return;
  new Gauge({
    name: 'marketing_db_pool_connections',
    help: 'PostgreSQL pool connections by state (total, idle, waiting = callers queued for a connection)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      this.set({ state: 'total' }, pool.totalCount);
      this.set({ state: 'idle' }, pool.idleCount);
      this.set({ state: 'waiting' }, pool.waitingCount);
    },
  });
  new Gauge({
    name: 'marketing_db_pool_max',
    help: 'The most connections the PostgreSQL pool opens',
    registers: [registry],
    collect() {
      this.set(pool.options.max ?? 0);
    },
  });
}
