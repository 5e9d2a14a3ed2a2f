import { sql } from 'kysely';
import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { codeCampaign, createBatch } from '../../../test/helpers/redeem-code-helpers.js';
import { must, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { systemClock } from '../../platform/clock.js';
import { createJobRunner } from '../../platform/jobs.js';
import { createBatchService, createShapeCache, GENERATE_QUEUE, listShapesForCache } from './index.js';

/** A batch service over the test app's database with small chunks, as a worker process would build it. */
function batchService(app: TestApp, chunkSize: number) {
  const s = app.app.services;
  const db = app.database.db;
  return createBatchService({
    db,
    clock: systemClock,
    apps: s.apps,
    campaigns: s.campaigns,
    rewards: s.rewards,
    jobs: s.jobs,
    pool: app.database.pool ?? null,
    shapes: createShapeCache({ load: listShapesForCache(db), reloadMs: 0 }),
    generated: new Counter({ name: 'test_generated', help: 'x', labelNames: ['code_type'], registers: [new Registry()] }),
    settings: { syncLimit: 10_000, chunkSize, maxGuessProbability: 1e-6 },
  });
}

async function stored(app: TestApp, tenantId: string, batchId: string) {
  const r = await sql<{ n: number; distinct_codes: number; max_seq: number | null; min_seq: number | null }>`
    select count(*)::int as n, count(distinct code)::int as distinct_codes, max(seq) as max_seq, min(seq) as min_seq
      from redeem_code where tenant_id = ${tenantId} and batch_id = ${batchId}`.execute(app.database.db);
  return r.rows[0]!;
}

class Crash extends Error {}

describe('batch generation by job', () => {
  it('resumes after a crash mid-batch with neither duplicates nor gaps', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t);
    const batch = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 20_001, code_type: 'RANDOM_NUM', length: 14 }), 202).body;

    // A worker dies after its third chunk: chunks 1-3 committed with their progress, nothing after.
    const worker = batchService(app, 2_000);
    await expect(
      worker.runBatch(t.tenantId, batch.batch_id, (generated) => {
        if (generated >= 6_000) throw new Crash('worker killed');
      }),
    ).rejects.toBeInstanceOf(Crash);
    expect(must(await t.call('GET', `/v1/redeem-code-batches/${batch.batch_id}`), 200).body).toMatchObject({ status: 'RUNNING', generated: 6_000, total: 20_001 });
    expect(await stored(app, t.tenantId, batch.batch_id)).toEqual({ n: 6_000, distinct_codes: 6_000, max_seq: 6_000, min_seq: 1 });

    // The batch's job, run by a job runner, picks up where the progress says. The job moves to a
    // queue of its own first: batches other test files left in the shared database are not ours to run.
    const queue = `${GENERATE_QUEUE}.resume-${batch.batch_id}`;
    await sql`update job set queue = ${queue} where tenant_id = ${t.tenantId} and queue = ${GENERATE_QUEUE}`.execute(app.database.db);
    const runner = createJobRunner({ db: app.database.db, clock: systemClock, log: { info() {}, warn() {}, error() {} } });
    runner.register(queue, async (job) => {
      await batchService(app, 3_000).runBatch(job.tenantId, (job.payload as { batch_id: string }).batch_id);
    });
    expect(await runner.runDue()).toBeGreaterThanOrEqual(1);
    expect(must(await t.call('GET', `/v1/redeem-code-batches/${batch.batch_id}`), 200).body).toMatchObject({ status: 'DONE', generated: 20_001 });
    expect(await stored(app, t.tenantId, batch.batch_id)).toEqual({ n: 20_001, distinct_codes: 20_001, max_seq: 20_001, min_seq: 1 });
  });

  it('two workers on one batch (an expired lease) write each chunk once', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t);
    const batch = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 12_000, code_type: 'ALPHANUM', length: 12 }), 202).body;
    const [a, b] = await Promise.all([batchService(app, 1_000).runBatch(t.tenantId, batch.batch_id), batchService(app, 1_500).runBatch(t.tenantId, batch.batch_id)]);
    expect(a?.status).toBe('DONE');
    expect(b?.status).toBe('DONE');
    expect(await stored(app, t.tenantId, batch.batch_id)).toEqual({ n: 12_000, distinct_codes: 12_000, max_seq: 12_000, min_seq: 1 });
  });

  it('voiding a batch stops its generation', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t);
    const batch = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 10_500, code_type: 'ALPHANUM', length: 12 }), 202).body;
    let voided = false;
    const end = await batchService(app, 1_000).runBatch(t.tenantId, batch.batch_id, (generated) => {
      if (generated >= 2_000 && !voided) {
        voided = true;
        void t.call('POST', `/v1/redeem-code-batches/${batch.batch_id}/void`);
      }
    });
    expect(end?.status).toBe('VOIDED');
    const after = must(await t.call('GET', `/v1/redeem-code-batches/${batch.batch_id}`), 200).body;
    expect(after.generated).toBeLessThan(10_500);
    expect((await stored(app, t.tenantId, batch.batch_id)).n).toBe(after.generated);
  });

  it('collisions with existing codes are redrawn, never stored twice', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t);
    // 4-digit codes with the limit lifted: 6,000 of 10,000 possible, so up to 60% of draws collide.
    const s = app.app.services;
    const loose = createBatchService({
      ...{ db: app.database.db, clock: systemClock, apps: s.apps, campaigns: s.campaigns, rewards: s.rewards, jobs: s.jobs, pool: app.database.pool ?? null },
      shapes: createShapeCache({ load: listShapesForCache(app.database.db), reloadMs: 0 }),
      generated: new Counter({ name: 'test_generated', help: 'x', labelNames: ['code_type'], registers: [new Registry()] }),
      settings: { syncLimit: 3_000, chunkSize: 1_000, maxGuessProbability: 1 },
    });
    const tenant = { kind: 'tenant' as const, tenantId: t.tenantId, keyId: 'test', role: 'admin' as const, productCodes: null };
    const small = await loose.createBatch(tenant, campaignId, { count: 2_000, reward_id: rewardId, code_type: 'RANDOM_NUM', length: 4 });
    const big = await loose.createBatch(tenant, campaignId, { count: 4_000, reward_id: rewardId, code_type: 'RANDOM_NUM', length: 4 });
    expect(big.async).toBe(true);
    await loose.runBatch(t.tenantId, big.batch.batch_id);
    const r = await sql<{ n: number; distinct_codes: number }>`
      select count(*)::int as n, count(distinct code)::int as distinct_codes from redeem_code where tenant_id = ${t.tenantId}`.execute(app.database.db);
    expect(r.rows[0]).toEqual({ n: 6_000, distinct_codes: 6_000 });
    expect(small.batch.codes).toHaveLength(2_000);
  });
});
