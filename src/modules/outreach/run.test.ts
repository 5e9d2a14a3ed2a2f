import { afterAll, describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import type { SmsPeer } from './channels/testing/sms-peers.js';
import { createSmsCampaign, outreachOf, seedCustomers, smsProvider } from './testing/outreach-fixture.js';

const peers: SmsPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

describe('outreach runs: SMS end to end', () => {
  it('sends the product sentence once to each tagged customer, with records and counters', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 12, 'VIP');
    await seedCustomers(t, 0, 'other');
    must(await t.call('PUT', '/v1/customers/nobody', { tags: ['other'], attributes: { phone: '+8613900000000' } }), 201);
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const campaign = await createSmsCampaign(t, 'VIP');
    expect(campaign.status).toBe('draft');
    const run = must(await t.call('POST', `/v1/outreach/campaigns/${campaign.campaign_id}/trigger`, { execution_type: 'actual' }), 202).body;
    expect(run.status).toBe('resolving');
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });

    expect(peer.messages).toHaveLength(12);
    expect(new Set(peer.messages.map((m) => m.to)).size).toBe(12);
    const first = peer.messages.find((m) => m.to === '+8613800000000')!;
    expect(first.text).toMatch(/^亲爱的客户0，您有一份6月专属好礼待领取！详情请访问http:\/\/localhost:8105\/t\/c\.run_[0-9A-Z]+-\d+\.0\.[A-Za-z0-9_-]+。退订请回复TD。$/);

    const done = must(await t.call('GET', `/v1/outreach/runs/${run.run_id}`), 200).body;
    expect(done.status).toBe('completed');
    expect(done.stats).toMatchObject({ planned: 12, attempted: 12, sent: 12, delivered: 0, failed: 0, skipped: 0, remaining: 0 });
    expect(done.stats.rates.send_success_rate).toBe(1);
    const c = must(await t.call('GET', `/v1/outreach/campaigns/${campaign.campaign_id}`), 200).body;
    expect(c.status).toBe('completed');
    expect(c.actual_start_time).not.toBeNull();
    expect(c.actual_end_time).not.toBeNull();

    // A second trigger is a new run; the first run's records are never sent again.
    const again = must(await t.call('POST', `/v1/outreach/campaigns/${campaign.campaign_id}/trigger`, {}), 202).body;
    expect(again.run_id).not.toBe(run.run_id);
  });

  it("counts a conversion when the recipient's goal event follows the delivery within the window", async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 3, 'GOAL');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const campaign = await createSmsCampaign(t, 'GOAL', { goal_event_type: 'order_paid', conversion_window_hours: 24 });
    const run = must(await t.call('POST', `/v1/outreach/campaigns/${campaign.campaign_id}/trigger`, {}), 202).body;
    const outreach = outreachOf(app);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    // Delivery reports for two of the three; a goal event from all three (one never delivered).
    for (const seq of [1, 2]) await outreach.events.applyToRecord(t.tenantId, `${run.run_id}-${seq}`, { kind: 'delivered' });
    for (const user of ['u00000', 'u00001', 'u00002']) {
      must(await t.call('POST', '/v1/tasks/trigger', { event_type: 'order_paid', user_id: user, product_code: t.productCode }), 200);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await outreach.conversions.tick()).toBe(2);
    expect(await outreach.conversions.tick()).toBe(0);
    const stats = must(await t.call('GET', `/v1/outreach/campaigns/${campaign.campaign_id}/stats`), 200).body;
    expect(stats).toMatchObject({ delivered: 2, converted: 2 });
    expect(stats.rates.conversion_rate).toBe(1);
  });
});
