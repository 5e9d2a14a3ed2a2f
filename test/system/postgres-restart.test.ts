import { afterAll, describe, expect, it } from 'vitest';
import { type ServerProcess, startServerProcess } from '../e2e/server-process.js';
import { auditGrants, POINTS_PER_GRANT, prepareGrantTenant, readGrantBook } from './support/grant-book.js';
import { recovery, startGrantLoad, summarize } from './support/grant-load.js';
import { type PostgresInstance, postgresInstanceUnavailable, startPostgresInstance } from './support/postgres-instance.js';

/**
 * PostgreSQL itself stopped and started again under a load of grants, cleanly (`fast`: sessions
 * ended, then a shutdown checkpoint) and as a crash (`immediate`: recovery from the WAL on start).
 * The API process is not restarted: its pool must find the server again by itself. While the
 * database is away, requests are refused with 503 database_unavailable, and the client sends them
 * again with the same Idempotency-Key.
 */
const FULL = process.env.MH_SYSTEM_FULL === '1';
const ORDERS = FULL ? 3_000 : 600;
const STOCK = Math.round(ORDERS * 0.95);
const CONCURRENCY = 32;
/** How long the server stays down between stop and start. */
const OUTAGE_MS = FULL ? 10_000 : 2_000;
const MASTER = 'system-master-key-0123456789abcdefghij';
const unavailable = postgresInstanceUnavailable();

describe.skipIf(unavailable)(`PostgreSQL restarted mid-load${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let postgres: PostgresInstance | undefined;
  let api: ServerProcess | undefined;
  afterAll(async () => {
    await api?.stop('SIGKILL');
    await postgres?.destroy();
  });

  for (const mode of ['fast', 'immediate'] as const) {
    it(`${mode} stop: refused with 503 while down, every key granted once after, stock exact`, async () => {
      if (!postgres) {
        postgres = await startPostgresInstance();
        api = await startServerProcess({ DATABASE_URL: postgres.url, MARKETING_MASTER_KEY: MASTER, MARKETING_DB_POOL_SIZE: '10' }, 180_000);
      }
      const tenantId = `t_pg${mode}`;
      const { apiKey, rewardId, must } = await prepareGrantTenant(api!.url, MASTER, tenantId, STOCK);
      const load = startGrantLoad({ servers: [api!.url], apiKey, rewardId, orders: ORDERS, concurrency: CONCURRENCY, keyPrefix: mode });
      await waitUntil(() => load.attempts.filter((a) => a.kind === 'granted').length >= ORDERS / 3, 600_000);

      const downAt = load.elapsed();
      await postgres.stop(mode);
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      const startingAt = load.elapsed();
      await postgres.start();
      const upAt = load.elapsed();
      const result = await load.done;

      const summary = summarize(result);
      const rec = recovery(result, downAt, upAt);
      const duringOutage = summarize({ ...result, attempts: result.attempts.filter((a) => a.at > downAt && a.at < upAt) });
      // The orders the outage touched (refused, or their key held by a request it failed): the last
      // of them to finish says when the service had caught up with everything sent during it.
      const touched = new Set(result.attempts.filter((a) => a.kind === 'retry').map((a) => a.order));
      const caughtUpAt = Math.max(0, ...result.attempts.filter((a) => touched.has(a.order) && (a.kind === 'granted' || a.kind === 'refused')).map((a) => a.at));
      const audit = auditGrants(result, await readGrantBook(postgres.url, tenantId, rewardId));
      console.log(
        `postgres ${mode} restart (${ORDERS} orders, ${CONCURRENCY} concurrent; down at ${downAt} ms, start from ${startingAt} ms, accepting at ${upAt} ms, load ended ${result.durationMs} ms): ` +
          `${JSON.stringify(summary)} during the outage ${JSON.stringify(duringOutage.byAnswer)} ${JSON.stringify(rec)}; ` +
          `${touched.size} orders touched by the outage, the last finished ${caughtUpAt - upAt} ms after the server accepted connections; ${JSON.stringify(audit)}`,
      );

      // A failure of ours: show what the API logged for it.
      if (summary.byKind.failed > 0) console.log(api!.output().split('\n').filter((l) => l.includes('"request failed"')).join('\n').slice(-4000));
      expect(summary.byKind.failed, JSON.stringify(summary.byAnswer)).toBe(0);
      expect(summary.byKind.hung).toBe(0);
      expect(summary.byKind.lost).toBe(0);
      // The outage was seen, and answered with the clean refusal.
      expect(duringOutage.byAnswer['503 database_unavailable'] ?? 0).toBeGreaterThan(0);
      expect(audit).toEqual({
        unfinished: 0,
        grantsTold: STOCK,
        grantsInDb: STOCK,
        toldButMissing: 0,
        inDbButNotTold: 0,
        usersGrantedTwice: 0,
        ledgerEntries: STOCK,
        ledgerGrants: STOCK,
        ledgerPoints: STOCK * POINTS_PER_GRANT,
      });
      expect(summary.exhausted).toBe(ORDERS - STOCK);
      expect((await must('GET', `/v1/rewards/${rewardId}`, apiKey)).stock).toMatchObject({ used: STOCK, available: 0 });
      expect(rec.firstFinishedAfterMs).not.toBeNull();
      // Keys held by requests the outage failed are released once the database is back, not after
      // their claim's lock (a minute): their retries run within seconds.
      expect(caughtUpAt - upAt).toBeLessThan(30_000);
    }, FULL ? 1_800_000 : 300_000);
  }
});

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
