import { afterAll, describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import type { SmsPeer } from './channels/testing/sms-peers.js';
import { countBy, createSmsCampaign, getRun, outreachOf, recordsOf, seedCustomers, smsProvider, triggerRun } from './testing/outreach-fixture.js';

/** A simulation runs every step but the provider call: records, reasons, samples and a predicted duration. */

const peers: SmsPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

const TRACKED = 'http:\\/\\/localhost:8105\\/t\\/c\\.run_[0-9A-Z]+-\\d+\\.0\\.[A-Za-z0-9_-]+';

describe('outreach runs: simulation', () => {
  it('sends nothing, records would_send and skips with reasons, keeps rendered samples, predicts the duration', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    // 12 customers: u00010 has no phone, u00011 an unusable one; u00000 and u00001 opt out.
    await seedCustomers(t, 12, 'VIP', (i) => (i === 10 ? { phone: null } : i === 11 ? { phone: 'not a phone' } : {}));
    for (const id of ['u00000', 'u00001']) must(await t.call('PUT', `/v1/customers/${id}`, { consent: { sms: 'opt_out' } }), 200);
    const { peer } = await smsProvider(t, { rate: 4 });
    peers.push(peer);
    const c = await createSmsCampaign(t, 'VIP');
    const run = await triggerRun(t, c.campaign_id, 'simulation');
    expect(run).toMatchObject({ status: 'resolving', rate_per_second: 4 });
    expect(must(await t.call('GET', `/v1/outreach/campaigns/${c.campaign_id}`), 200).body.status).toBe('draft');

    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    expect(peer.requests).toBe(0);
    expect(peer.messages).toHaveLength(0);

    const records = await recordsOf(app, run.run_id);
    expect(countBy(records, true)).toEqual({ would_send: 8, 'skipped:opted_out': 2, 'skipped:no_address': 1, 'skipped:invalid_address': 1 });
    expect(records.every((r) => r.attempts === 1)).toBe(true);
    const done = await getRun(t, run.run_id);
    expect(done.status).toBe('completed');
    expect(done.stats).toMatchObject({
      planned: 12,
      would_send: 8,
      attempted: 0,
      sent: 0,
      skipped: 4,
      skipped_by_reason: { opted_out: 2, no_address: 1, invalid_address: 1 },
      remaining: 0,
    });
    expect(done.predicted_duration_seconds).toBe(2); // ceil(8 / 4)

    // Samples: the product sentence, rendered with each customer's name and a tracked link.
    expect(done.samples).toHaveLength(8);
    const wouldSend = new Set(records.filter((r) => r.status === 'would_send').map((r) => r.customer_id));
    expect(new Set(done.samples.map((s) => s.customer_id))).toEqual(wouldSend);
    const sample = done.samples.find((s) => s.customer_id === 'u00002')!;
    expect(sample.address).toBe('+8613800000002');
    expect(String(sample.content.text)).toMatch(new RegExp(`^亲爱的客户2，您有一份6月专属好礼待领取！详情请访问${TRACKED}。退订请回复TD。$`));

    // The campaign is untouched: still a draft, no actual start, no stats of actual runs.
    const after = must(await t.call('GET', `/v1/outreach/campaigns/${c.campaign_id}`), 200).body;
    expect(after).toMatchObject({ status: 'draft', actual_start_time: null, actual_end_time: null });
    const stats = must(await t.call('GET', `/v1/outreach/campaigns/${c.campaign_id}/stats`), 200).body;
    expect(stats).toMatchObject({ runs: 0, planned: 0, would_send: 0 });

    // An actual run afterwards sends exactly what the simulation predicted.
    const actual = await triggerRun(t, c.campaign_id);
    for (let i = 0; i < 20 && (await getRun(t, actual.run_id)).status !== 'completed'; i += 1) {
      await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(peer.messages).toHaveLength(8);
    expect(new Set(peer.messages.map((m) => m.to))).toEqual(new Set(done.samples.map((s) => s.address)));
  });

  it('reports quiet hours as would_send with the reason, and predicts at the provider rate', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const now = Date.now();
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    must(await t.call('PUT', '/v1/outreach/settings', { quiet_hours: { start: hhmm(now - 3_600_000), end: hhmm(now + 3_600_000) } }, { key: t.admin }), 200);
    await seedCustomers(t, 25, 'VIP', (i) => ({ time_zone: i < 5 ? 'UTC' : 'Etc/GMT-12' }));
    const { peer } = await smsProvider(t, { rate: 10 });
    peers.push(peer);
    const run = await triggerRun(t, (await createSmsCampaign(t, 'VIP')).campaign_id, 'simulation');
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, run.run_id), true)).toEqual({ would_send: 20, 'would_send:quiet_hours_deferred': 5 });
    const done = await getRun(t, run.run_id);
    expect(done.stats).toMatchObject({ planned: 25, would_send: 25, deferred: 0, remaining: 0 });
    expect(done.predicted_duration_seconds).toBe(3); // ceil(25 / 10)
    expect(done.samples).toHaveLength(20);
    expect(peer.requests).toBe(0);
  });
});
