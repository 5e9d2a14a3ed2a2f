import { afterAll, describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import type { SmsPeer } from './channels/testing/sms-peers.js';
import { countBy, createSmsCampaign, getRun, outreachOf, recordsOf, seedCustomers, smsProvider, triggerRun } from './testing/outreach-fixture.js';

/** A run sends what was true at its trigger: later edits of templates and settings change nothing. */

const peers: SmsPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

describe('outreach runs: the snapshot', () => {
  it('sends the template as it was at the trigger, under the frequency cap as it was', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 3, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const template = must(await t.call('POST', '/v1/outreach/templates', { name: 'v1', channel: 'sms', content: { text: '第一版：亲爱的[客户姓名]' } }), 201).body;
    const c = await createSmsCampaign(t, 'VIP', { content: undefined, template_id: template.template_id });
    const run = await triggerRun(t, c.campaign_id);
    await outreachOf(app).dispatcher.tick({ tenantId: t.tenantId }); // the fan-out

    must(await t.call('PUT', `/v1/outreach/templates/${template.template_id}`, { content: { text: '第二版：亲爱的[客户姓名]' } }), 200);
    must(await t.call('PUT', '/v1/outreach/settings', { frequency_cap: { count: 1, period: 'day' } }, { key: t.admin }), 200);
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    expect(peer.messages.map((m) => m.text).sort()).toEqual(['第一版：亲爱的客户0', '第一版：亲爱的客户1', '第一版：亲爱的客户2']);
    expect(countBy(await recordsOf(app, run.run_id))).toEqual({ sent: 3 });

    // The next run takes the new template and the cap (which the first run did not count toward).
    const next = await triggerRun(t, c.campaign_id);
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, next.run_id))).toEqual({ sent: 3 });
    expect(peer.messages.filter((m) => m.text.startsWith('第二版：'))).toHaveLength(3);
    const third = await triggerRun(t, c.campaign_id);
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, third.run_id), true)).toEqual({ 'skipped:frequency_capped': 3 });
    expect(peer.messages).toHaveLength(6);
  });

  it('a provider deleted after the trigger: nothing is sent, the records wait and say why', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 4, 'VIP');
    const { peer, providerId } = await smsProvider(t);
    peers.push(peer);
    const run = await triggerRun(t, (await createSmsCampaign(t, 'VIP')).campaign_id);
    must(await t.call('DELETE', `/v1/outreach/providers/${providerId}`, undefined, { key: t.admin }), 204);
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    expect(peer.requests).toBe(0);
    const records = await recordsOf(app, run.run_id);
    expect(countBy(records, true)).toEqual({ 'deferred:provider_unavailable': 4 });
    expect(records.every((r) => r.next_attempt_at.getTime() > Date.now())).toBe(true);
    expect((await getRun(t, run.run_id)).stats).toMatchObject({ planned: 4, attempted: 0, sent: 0, deferred: 4, remaining: 4 });
    const cancelled = must(await t.call('POST', `/v1/outreach/runs/${run.run_id}/cancel`), 200).body;
    expect(cancelled.stats).toMatchObject({ cancelled: 4, deferred: 0, remaining: 0 });
  });
});
