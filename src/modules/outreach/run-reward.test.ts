import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { codeCampaign } from '../../../test/helpers/redeem-code-helpers.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { systemClock } from '../../platform/clock.js';
import { createJobRunner } from '../../platform/jobs.js';
import { REWARD_QUEUE } from './run.dispatch.js';
import { countBy, createSmsCampaign, getRun, outreachOf, recordsOf, seedCustomers, smsProvider, startWebhookReceiver, triggerRun, webhookProvider } from './testing/outreach-fixture.js';

/** A campaign's reward, granted once per delivered message (the record is the cause). */

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
});

const silentLog = { info() {}, warn() {}, error() {} };

describe('outreach runs: reward on delivery', () => {
  it('enqueues one reward job per delivered message; the jobs grant once per record, run again they grant nothing more', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 4, 'VIP');
    const receiver = await startWebhookReceiver();
    closers.push(receiver.close);
    await webhookProvider(t, receiver.url);
    const { rewardId } = await codeCampaign(t, { points: 10 });
    const c = must(
      await t.call('POST', '/v1/outreach/campaigns', {
        name: 'points for the members',
        channel: 'webhook',
        target_tags: ['VIP'],
        content: { json: { user: '{{ customer.user_id }}', greeting: '亲爱的[客户姓名]' } },
        reward_id: rewardId,
      }),
      201,
    ).body;
    const run = await triggerRun(t, c.campaign_id);
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });

    // A webhook's 2xx is final: every record is delivered at once.
    expect(receiver.received).toHaveLength(4);
    expect(JSON.parse(receiver.received.find((r) => r.body.includes('u00001'))!.body)).toMatchObject({ customer_id: 'u00001' });
    const records = await recordsOf(app, run.run_id);
    expect(countBy(records)).toEqual({ delivered: 4 });
    expect((await getRun(t, run.run_id)).stats).toMatchObject({ planned: 4, sent: 4, delivered: 4 });

    const jobs = async () =>
      (
        await sql<{ job_id: string; status: string; payload: { reward_id: string; record_id: string; user_id: string } }>`
          select job_id, status, payload from job where tenant_id = ${t.tenantId} and queue = ${REWARD_QUEUE} order by job_id`.execute(app.database.db)
      ).rows;
    const queued = await jobs();
    expect(queued).toHaveLength(4);
    expect(queued.map((j) => j.payload.record_id).sort()).toEqual(records.map((r) => `${run.run_id}-${r.seq}`).sort());
    expect(queued.every((j) => j.payload.reward_id === rewardId && j.status === 'PENDING')).toBe(true);

    // Only the reward queue: other suites' jobs stay where they are.
    const runner = createJobRunner({ db: app.database.db, clock: systemClock, log: silentLog });
    outreachOf(app).register(runner);
    expect(await runner.runDue()).toBeGreaterThanOrEqual(4);
    expect((await jobs()).map((j) => j.status)).toEqual(['DONE', 'DONE', 'DONE', 'DONE']);

    const grants = async () =>
      (
        await sql<{ user_id: string; source: string; source_id: string; reward_id: string }>`
          select user_id, source, source_id, reward_id from reward_grant where tenant_id = ${t.tenantId} order by user_id`.execute(app.database.db)
      ).rows;
    const granted = await grants();
    expect(granted).toEqual(records.map((r) => ({ user_id: r.customer_id, source: 'outreach', source_id: `${run.run_id}-${r.seq}`, reward_id: rewardId })));

    // The same jobs again (a worker that died before recording DONE): nothing more is granted.
    await sql`update job set status = 'PENDING', run_at = ${new Date(Date.now() - 60_000)}, finished_at = null where tenant_id = ${t.tenantId} and queue = ${REWARD_QUEUE}`.execute(app.database.db);
    expect(await runner.runDue()).toBeGreaterThanOrEqual(4);
    expect((await jobs()).map((j) => j.status)).toEqual(['DONE', 'DONE', 'DONE', 'DONE']);
    expect(await grants()).toEqual(granted);

    // A delivery report after the fact (a repeated callback) enqueues nothing more.
    await outreachOf(app).events.applyToRecord(t.tenantId, `${run.run_id}-1`, { kind: 'delivered' });
    expect(await jobs()).toHaveLength(4);
  });

  it('on a channel that reports delivery later, rewards wait for the report: one job per delivered record', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 3, 'VIP');
    const { peer } = await smsProvider(t);
    closers.push(() => peer.close());
    const { rewardId } = await codeCampaign(t, { points: 10 });
    const run = await triggerRun(t, (await createSmsCampaign(t, 'VIP', { reward_id: rewardId })).campaign_id);
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, run.run_id))).toEqual({ sent: 3 });
    const jobs = async () =>
      (await sql<{ record_id: string }>`select payload->>'record_id' as record_id from job where tenant_id = ${t.tenantId} and queue = ${REWARD_QUEUE} order by 1`.execute(app.database.db)).rows.map((r) => r.record_id);
    expect(await jobs()).toEqual([]);

    const events = outreachOf(app).events;
    await events.applyToRecord(t.tenantId, `${run.run_id}-1`, { kind: 'delivered' });
    await events.applyToRecord(t.tenantId, `${run.run_id}-2`, { kind: 'clicked', linkId: 'link' }); // a click implies delivery
    await events.applyToRecord(t.tenantId, `${run.run_id}-1`, { kind: 'delivered' }); // a repeated report
    await events.applyToRecord(t.tenantId, `${run.run_id}-3`, { kind: 'failed', error: 'undelivered' });
    expect(await jobs()).toEqual([`${run.run_id}-1`, `${run.run_id}-2`]);
    expect((await getRun(t, run.run_id)).stats).toMatchObject({ sent: 3, delivered: 2, failed: 1, clicked: 1 });
  });
});
