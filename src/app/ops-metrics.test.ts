import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { newCampaign } from '../../test/helpers/factories.js';
import { metricValue } from '../../test/helpers/grant-helpers.js';
import { must, testApp } from '../../test/helpers/test-app.js';
import type { JobRecord } from '../platform/jobs.js';
import { redisOptions, redisUrl } from '../platform/redis.js';
import { WebhookBlockedError, WebhookDeliveryError, webhookOutcomeOf } from '../platform/webhook.js';
import { installOperationalMetrics, STOCK_GAUGE_REWARDS } from './ops-metrics.js';

// The shared app (and on the embedded project its migrated database) is built under the hook's
// longer timeout, not the first test's.
beforeAll(async () => {
  await testApp();
});

const metric = (body: string, line: string) => body.split('\n').find((l) => l.startsWith(line))?.split(' ').pop();

describe('operational metrics at /metrics', () => {
  it('the job queue per queue: due jobs, the oldest due age, dead jobs; read at each scrape', async () => {
    const a = await testApp();
    const queue = `ops_metrics_${randomBytes(4).toString('hex')}`;
    const tenant = `t_ops_${randomBytes(4).toString('hex')}`;
    const insert = (id: string, status: string, ageSeconds: number) =>
      sql`insert into job (tenant_id, job_id, queue, payload, status, attempts, max_attempts, run_at, created_at, updated_at)
          values (${tenant}, ${id}, ${queue}, '{}'::jsonb, ${status}, 0, 3, now() - make_interval(secs => ${ageSeconds}), now(), now())`.execute(a.database.db);
    await insert('j1', 'PENDING', 120);
    await insert('j2', 'PENDING', 5);
    await insert('j3', 'DEAD', 0);
    await sql`insert into job (tenant_id, job_id, queue, payload, status, attempts, max_attempts, run_at, created_at, updated_at)
              values (${tenant}, 'j4', ${queue}, '{}'::jsonb, 'PENDING', 0, 3, now() + interval '1 hour', now(), now())`.execute(a.database.db);
    try {
      const body = (await a.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metric(body, `marketing_jobs_due{queue="${queue}"}`)).toBe('2'); // the future one is not due
      expect(Number(metric(body, `marketing_jobs_oldest_due_age_seconds{queue="${queue}"}`))).toBeGreaterThanOrEqual(120);
      expect(metric(body, `marketing_jobs_dead{queue="${queue}"}`)).toBe('1');
      await sql`delete from job where tenant_id = ${tenant}`.execute(a.database.db);
      const after = (await a.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metric(after, `marketing_jobs_due{queue="${queue}"}`)).toBeUndefined();
      if (a.database.kind === 'postgres') {
        expect(Number(metric(after, 'marketing_db_pool_max'))).toBeGreaterThan(0);
        expect(metric(after, 'marketing_db_pool_connections{state="waiting"}')).toBeDefined();
      }
    } finally {
      await sql`delete from job where tenant_id = ${tenant}`.execute(a.database.db);
    }
  });
});

describe('stock left of the rewards closest to selling out', () => {
  it('lists a live limited reward with its units left and total; a deleted one is not listed', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const campaign = await newCampaign(t);
    const newReward = async () =>
      must(await t.call('POST', '/v1/rewards', { reward_name: 'Flash voucher', reward_type: 'POINTS', product_code: t.productCode, campaign_id: campaign.campaign_id, total_stock: 100_000, config: { generator: { points: 1 } } }), 201).body
        .reward_id as string;
    const live = await newReward();
    const deleted = await newReward();
    // Units taken straight in the slots (a hundred thousand grants would take minutes): one unit left
    // each, a share lower than any other test's reward can reach.
    for (const rewardId of [live, deleted]) {
      await sql`update reward_stock_slot set used = total where tenant_id = ${t.tenantId} and reward_id = ${rewardId}`.execute(a.database.db);
      await sql`update reward_stock_slot set used = total - 1 where tenant_id = ${t.tenantId} and reward_id = ${rewardId} and slot = 0`.execute(a.database.db);
    }
    must(await t.call('DELETE', `/v1/rewards/${deleted}`), 204);
    const body = (await a.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metricValue(body, 'marketing_reward_stock_left', { tenant_id: t.tenantId, reward_id: live })).toBe(1);
    expect(metricValue(body, 'marketing_reward_stock_total', { tenant_id: t.tenantId, reward_id: live })).toBe(100_000);
    expect(body).not.toContain(`reward_id="${deleted}"`);
    const listed = body.split('\n').filter((l) => l.startsWith('marketing_reward_stock_left{'));
    expect(listed.length).toBeLessThanOrEqual(STOCK_GAUGE_REWARDS);
  });
});

describe('marketing_redis_up', () => {
  it('is absent without a configured Redis, 0 when Redis does not answer', async () => {
    const a = await testApp();
    const body = (await a.app.inject({ method: 'GET', url: '/metrics' })).body;
    if (!a.app.services.redis) expect(body).not.toContain('marketing_redis_up');
    const registry = new Registry();
    // Nothing listens on port 1.
    const redis = new Redis(redisUrl('127.0.0.1:1'), redisOptions({ addr: '127.0.0.1:1', connectTimeoutMs: 200 }));
    redis.on('error', () => {});
    try {
      installOperationalMetrics(registry, { db: a.database.db, pool: null, redis });
      expect(metricValue(await registry.metrics(), 'marketing_redis_up', {})).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it.skipIf(!process.env.TEST_REDIS_URL)('is 1 when Redis answers (TEST_REDIS_URL)', async () => {
    const a = await testApp();
    const addr = process.env.TEST_REDIS_URL!;
    const redis = new Redis(redisUrl(addr), redisOptions({ addr }));
    try {
      const registry = new Registry();
      installOperationalMetrics(registry, { db: a.database.db, pool: null, redis });
      expect(metricValue(await registry.metrics(), 'marketing_redis_up', {})).toBe(1);
    } finally {
      redis.disconnect();
    }
  });
});

describe('marketing_webhook_deliveries_total', () => {
  it('counts each grant delivery attempt by outcome: rejected (non-2xx), then delivered', async () => {
    const a = await testApp();
    let status = 503;
    const receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(status).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const t = await a.newTenant();
      const campaign = await newCampaign(t);
      must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`), 200);
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const reward = must(
        await t.call('POST', '/v1/rewards', {
          reward_name: 'Partner voucher', reward_type: 'POINTS', product_code: t.productCode, campaign_id: campaign.campaign_id, total_stock: 10,
          config: { generator: { points: 5 }, distributor: { type: 'WEBHOOK', url, secret: 'whsec_ops_metrics_0123456789', timeout_ms: 5000 } },
        }),
        201,
      ).body;
      const grant = must(await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'u1' }), 201).body;
      const job: JobRecord = { jobId: 'ops-metrics', tenantId: t.tenantId, queue: 'x', payload: { grant_id: grant.grant_id, event: 'reward_grant.created' }, attempt: 1, maxAttempts: 3 };
      const count = async (outcome: string) =>
        metricValue((await a.app.inject({ method: 'GET', url: '/metrics' })).body, 'marketing_webhook_deliveries_total', { kind: 'reward_grant', outcome });
      const before = { rejected: await count('rejected'), delivered: await count('delivered') };
      await expect(a.app.services.delivery(job)).rejects.toThrow(/503/);
      status = 200;
      await a.app.services.delivery(job);
      expect(await count('rejected')).toBe(before.rejected + 1);
      expect(await count('delivered')).toBe(before.delivered + 1);
    } finally {
      receiver.closeAllConnections();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });

  it('names the outcome of what a delivery threw', () => {
    expect(webhookOutcomeOf(new WebhookDeliveryError('HTTP 500', { status: 500 }))).toBe('rejected');
    expect(webhookOutcomeOf(new WebhookDeliveryError('timed out'))).toBe('unreachable');
    expect(webhookOutcomeOf(new WebhookBlockedError('private'))).toBe('blocked');
    expect(webhookOutcomeOf(new Error('ECONNREFUSED'))).toBe('unreachable');
  });
});
