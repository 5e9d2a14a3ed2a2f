import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { must, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';
import type { SmsPeer } from './channels/testing/sms-peers.js';
import { createSmsCampaign, outreachOf, seedCustomers, smsProvider } from './testing/outreach-fixture.js';

/** The service's own scheduler: a future start_time, and cron schedules in a time zone. */

const peers: SmsPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

const MINUTE = 60_000;

async function runsOf(t: TenantFixture, campaignId: string) {
  return must(await t.call('GET', '/v1/outreach/runs', undefined, { query: { campaign_id: campaignId } }), 200).body.runs as { run_id: string; triggered_by: string; status: string; execution_type: string }[];
}

async function campaignOf(t: TenantFixture, campaignId: string) {
  return must(await t.call('GET', `/v1/outreach/campaigns/${campaignId}`), 200).body as { status: string; next_run_at: string | null; actual_start_time: string | null };
}

describe('outreach scheduler', () => {
  it('starts a campaign at its start_time (triggered_by schedule), once', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 3, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const outreach = outreachOf(app);
    const start = new Date(Date.now() + 2_000);
    const c = await createSmsCampaign(t, 'VIP', { start_time: start.toISOString() });
    expect(c.status).toBe('scheduled');
    expect((await campaignOf(t, c.campaign_id)).next_run_at).toBe(start.toISOString());

    // Not before its time.
    await outreach.scheduler.tick();
    expect(await runsOf(t, c.campaign_id)).toHaveLength(0);

    await new Promise((r) => setTimeout(r, Math.max(0, start.getTime() - Date.now()) + 200));
    // Three schedulers at once (processes): one run.
    await Promise.all([outreach.scheduler.tick(), outreach.scheduler.tick(), outreach.scheduler.tick()]);
    const runs = await runsOf(t, c.campaign_id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ triggered_by: 'schedule', execution_type: 'actual' });
    expect(await campaignOf(t, c.campaign_id)).toMatchObject({ status: 'active', next_run_at: null });

    // A later tick starts nothing more.
    await outreach.scheduler.tick();
    expect(await runsOf(t, c.campaign_id)).toHaveLength(1);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(peer.messages).toHaveLength(3);
    expect((await runsOf(t, c.campaign_id))[0]!.status).toBe('completed');
    expect((await campaignOf(t, c.campaign_id)).status).toBe('completed');
  });

  it('runs a cron schedule in its time zone: each due time starts a new run and plans the next', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 2, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const outreach = outreachOf(app);
    const before = Date.now();
    const c = await createSmsCampaign(t, 'VIP', { schedule: { cron: '* * * * *', time_zone: 'Asia/Shanghai' } });
    const after = Date.now();
    expect(c.status).toBe('scheduled');
    const nextMinute = (ms: number) => Math.floor(ms / MINUTE) * MINUTE + MINUTE;
    const planned = Date.parse((await campaignOf(t, c.campaign_id)).next_run_at!);
    expect([nextMinute(before), nextMinute(after)]).toContain(planned);

    const force = () => sql`update outreach_campaign set next_run_at = ${new Date(Date.now() - 1_000)} where tenant_id = ${t.tenantId} and campaign_id = ${c.campaign_id}`.execute(app.database.db);
    for (let round = 1; round <= 2; round += 1) {
      await force();
      await outreach.scheduler.tick();
      const runs = await runsOf(t, c.campaign_id);
      expect(runs).toHaveLength(round);
      expect(runs[0]).toMatchObject({ triggered_by: 'schedule' });
      const afterTick = await campaignOf(t, c.campaign_id);
      expect(afterTick.status).toBe('active');
      const next = Date.parse(afterTick.next_run_at!);
      expect(next).toBeGreaterThan(Date.now() - 1_000);
      expect(next % MINUTE).toBe(0);
      expect(next - Date.now()).toBeLessThanOrEqual(MINUTE);
      await outreach.dispatcher.drain({ tenantId: t.tenantId });
      expect(peer.messages).toHaveLength(2 * round);
      // The run is done; the schedule goes on.
      expect(await campaignOf(t, c.campaign_id)).toMatchObject({ status: 'scheduled' });
    }

    // The campaign's stats add its runs up.
    const stats = must(await t.call('GET', `/v1/outreach/campaigns/${c.campaign_id}/stats`), 200).body;
    expect(stats).toMatchObject({ runs: 2, planned: 4, attempted: 4, sent: 4, remaining: 0 });

    // An occurrence while the previous run is still going starts nothing (never two at once), and plans the next.
    await force();
    await outreach.scheduler.tick();
    const third = (await runsOf(t, c.campaign_id))[0]!;
    expect(await runsOf(t, c.campaign_id)).toHaveLength(3);
    await force();
    await outreach.scheduler.tick();
    expect(await runsOf(t, c.campaign_id)).toHaveLength(3);
    expect(Date.parse((await campaignOf(t, c.campaign_id)).next_run_at!)).toBeGreaterThan(Date.now() - 1_000);
    must(await t.call('POST', `/v1/outreach/runs/${third.run_id}/cancel`), 200);

    // Archived: the schedule ends.
    const archived = must(await t.call('POST', `/v1/outreach/campaigns/${c.campaign_id}/archive`), 200).body;
    expect(archived).toMatchObject({ status: 'archived', next_run_at: null });
    await outreach.scheduler.tick();
    expect(await runsOf(t, c.campaign_id)).toHaveLength(3);
  });

  it('a manual start before the start_time takes the place of the scheduled one (no second run)', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 2, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const outreach = outreachOf(app);
    const start = new Date(Date.now() + 1_500);
    const c = await createSmsCampaign(t, 'VIP', { start_time: start.toISOString() });
    expect(c.status).toBe('scheduled');
    must(await t.call('POST', `/v1/outreach/campaigns/${c.campaign_id}/trigger`, {}), 202);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(peer.messages).toHaveLength(2);
    expect(await campaignOf(t, c.campaign_id)).toMatchObject({ status: 'completed', next_run_at: null });

    await new Promise((r) => setTimeout(r, Math.max(0, start.getTime() - Date.now()) + 200));
    await outreach.scheduler.tick();
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(await runsOf(t, c.campaign_id)).toHaveLength(1);
    expect(peer.messages).toHaveLength(2);
  });

  it('a scheduled campaign that cannot start (no provider) goes back to draft with no run', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 1, 'VIP');
    const c = await createSmsCampaign(t, 'VIP', { start_time: new Date(Date.now() + 60_000).toISOString() });
    expect(c.status).toBe('scheduled');
    await app.database.db.updateTable('outreach_campaign').set({ next_run_at: new Date(Date.now() - 1000) }).where('campaign_id', '=', c.campaign_id).execute();
    await outreachOf(app).scheduler.tick();
    expect(await runsOf(t, c.campaign_id)).toHaveLength(0);
    expect(await campaignOf(t, c.campaign_id)).toMatchObject({ status: 'draft', next_run_at: null });
  });
});
