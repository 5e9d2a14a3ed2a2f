import { afterAll, describe, expect, it } from 'vitest';
import { codeCampaign } from '../../../test/helpers/redeem-code-helpers.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import type { SmsPeer } from './channels/testing/sms-peers.js';
import { createSmsCampaign, getRun, keyIdOf, outreachOf, PRODUCT_SMS, refused, seedCustomers, smsProvider, triggerRun } from './testing/outreach-fixture.js';

/**
 * Campaign lifecycle (draft / scheduled / active / completed / archived, what each allows) and
 * every refusal of bad input with its stable code.
 */

const peers: SmsPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

const URL = '/v1/outreach/campaigns';
const base = { name: 'c', channel: 'sms', target_tags: ['VIP'], content: { text: PRODUCT_SMS }, link_url: 'https://shop.example.test/june' };

describe('outreach campaigns: lifecycle', () => {
  it('creates draft or scheduled, edits only before the start, archives, and refuses what the state forbids', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 3, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const serviceKeyId = await keyIdOf(app, t, t.service);
    const adminKeyId = await keyIdOf(app, t, t.admin);

    const draft = await createSmsCampaign(t, 'VIP');
    expect(draft.status).toBe('draft');
    const past = must(await t.call('POST', URL, { ...base, start_time: new Date(Date.now() - 3_600_000).toISOString() }), 201).body;
    expect(past.status).toBe('draft');
    expect(past.next_run_at).toBeNull();
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const later = must(await t.call('POST', URL, { ...base, start_time: future }), 201).body;
    expect(later.status).toBe('scheduled');
    expect(later.next_run_at).toBe(future);
    const cron = must(await t.call('POST', URL, { ...base, schedule: { cron: '0 9 * * *', time_zone: 'Asia/Shanghai' } }), 201).body;
    expect(cron.status).toBe('scheduled');
    expect(new Date(cron.next_run_at).getUTCHours()).toBe(1); // 09:00 in Shanghai
    expect(cron.schedule).toEqual({ cron: '0 9 * * *', time_zone: 'Asia/Shanghai' });
    expect(later.created_by).toBe(serviceKeyId);
    expect(later.updated_by).toBe(serviceKeyId);

    // PUT while draft and while scheduled; updated_by is the editing key.
    const renamed = must(await t.call('PUT', `${URL}/${later.campaign_id}`, { name: 'renamed' }, { key: t.admin }), 200).body;
    expect(renamed).toMatchObject({ name: 'renamed', status: 'scheduled', created_by: serviceKeyId, updated_by: adminKeyId });
    const unscheduled = must(await t.call('PUT', `${URL}/${later.campaign_id}`, { start_time: null }), 200).body;
    expect(unscheduled).toMatchObject({ status: 'draft', next_run_at: null });
    must(await t.call('PUT', `${URL}/${draft.campaign_id}`, { content: { text: '您好[客户姓名]' } }), 200);

    // Active: not editable, not archivable, no second actual run.
    const run = await triggerRun(t, draft.campaign_id);
    expect(run.status).toBe('resolving');
    expect(must(await t.call('GET', `${URL}/${draft.campaign_id}`), 200).body.status).toBe('active');
    refused(await t.call('PUT', `${URL}/${draft.campaign_id}`, { name: 'x' }), 409, 'campaign_not_editable');
    expect(refused(await t.call('POST', `${URL}/${draft.campaign_id}/archive`), 409, 'campaign_running').details.run_id).toBe(run.run_id);
    await outreachOf(app).dispatcher.tick({ tenantId: t.tenantId }); // the fan-out: the run is sending
    expect((await getRun(t, run.run_id)).status).toBe('sending');
    expect(peer.messages).toHaveLength(0);
    expect(refused(await t.call('POST', `${URL}/${draft.campaign_id}/archive`), 409, 'campaign_running').details.run_id).toBe(run.run_id);
    expect(refused(await t.call('POST', `${URL}/${draft.campaign_id}/trigger`, { execution_type: 'actual' }), 409, 'campaign_running').details.run_id).toBe(run.run_id);
    // A simulation may run beside the live run.
    const sim = await triggerRun(t, draft.campaign_id, 'simulation');
    expect(sim.run_id).not.toBe(run.run_id);

    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    expect((await getRun(t, run.run_id)).status).toBe('completed');
    expect(peer.messages).toHaveLength(3);
    expect(must(await t.call('GET', `${URL}/${draft.campaign_id}`), 200).body.status).toBe('completed');
    refused(await t.call('PUT', `${URL}/${draft.campaign_id}`, { name: 'x' }), 409, 'campaign_not_editable');

    // Archived: never triggered again, not editable; archiving twice answers the same.
    const archived = must(await t.call('POST', `${URL}/${draft.campaign_id}/archive`), 200).body;
    expect(archived).toMatchObject({ status: 'archived', next_run_at: null });
    must(await t.call('POST', `${URL}/${draft.campaign_id}/archive`), 200);
    refused(await t.call('POST', `${URL}/${draft.campaign_id}/trigger`, {}), 409, 'campaign_archived');
    refused(await t.call('POST', `${URL}/${draft.campaign_id}/trigger`, { execution_type: 'simulation' }), 409, 'campaign_archived');
    refused(await t.call('PUT', `${URL}/${draft.campaign_id}`, { name: 'x' }), 409, 'campaign_archived');
    const cronArchived = must(await t.call('POST', `${URL}/${cron.campaign_id}/archive`), 200).body;
    expect(cronArchived).toMatchObject({ status: 'archived', next_run_at: null });
    expect(peer.messages).toHaveLength(3);
  });

  it('refuses an actual trigger without a provider (409 no_provider) while a simulation still runs', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 4, 'VIP');
    const c = await createSmsCampaign(t, 'VIP');
    expect(refused(await t.call('POST', `${URL}/${c.campaign_id}/trigger`, { execution_type: 'actual' }), 409, 'no_provider').details.channel).toBe('sms');
    expect(must(await t.call('GET', `${URL}/${c.campaign_id}`), 200).body.status).toBe('draft');
    const sim = await triggerRun(t, c.campaign_id, 'simulation');
    expect(sim.provider_id).toBeNull();
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    const done = await getRun(t, sim.run_id);
    expect(done.status).toBe('completed');
    expect(done.stats).toMatchObject({ planned: 4, would_send: 4, sent: 0, attempted: 0 });
    expect(must(await t.call('GET', `${URL}/${c.campaign_id}`), 200).body.status).toBe('draft');
  });
});

describe('outreach campaigns: bad input', () => {
  it('answers each mistake with its stable code', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const post = (body: Record<string, unknown>) => t.call('POST', URL, body);

    expect(refused(await post({ ...base, channel: 'fax' }), 400, 'invalid_request').details.field).toBe('channel');
    refused(await post({ ...base, target_tags: [] }), 400, 'empty_targets');
    refused(await post({ ...base, target_tags: undefined }), 400, 'empty_targets');
    expect(refused(await post({ ...base, content: { text: 'x'.repeat(501) } }), 400, 'content_too_long').details).toMatchObject({ length: 501, limit: 500 });
    expect(refused(await post({ ...base, content: { text: '您好\n  {{ customer.name' } }), 400, 'template_invalid').details).toMatchObject({ field: 'content.text', line: 2, col: 3 });
    refused(await post({ ...base, content: undefined, template_id: 'tpl_missing' }), 404, 'template_not_found');
    const email = must(await t.call('POST', '/v1/outreach/templates', { name: 'e', channel: 'email', content: { subject: 's', html: '<p>x</p>', text: 'x' } }), 201).body;
    expect(refused(await post({ ...base, content: undefined, template_id: email.template_id }), 400, 'channel_mismatch').details).toMatchObject({ expected: 'sms', actual: 'email' });
    expect(refused(await post({ ...base, schedule: { cron: 'every day at nine' } }), 400, 'invalid_schedule').details.field).toBe('schedule.cron');
    expect(refused(await post({ ...base, schedule: { cron: '61 * * * *' } }), 400, 'invalid_schedule').details.field).toBe('schedule.cron');
    expect(refused(await post({ ...base, schedule: { cron: '0 9 * * *', time_zone: 'Mars/Olympus' } }), 400, 'invalid_schedule').details.field).toBe('schedule.time_zone');
    const start = Date.now() + 86_400_000;
    refused(await post({ ...base, start_time: new Date(start).toISOString(), end_time: new Date(start - 60_000).toISOString() }), 400, 'invalid_time_range');
    const variants = [
      { key: 'A', percent: 30, content: { text: 'A [链接]' } },
      { key: 'B', percent: 30, content: { text: 'B [链接]' } },
    ];
    refused(await post({ ...base, content: undefined, variants }), 400, 'invalid_variants');
    must(await post({ ...base, content: undefined, variants, ab_winner: { metric: 'click_rate', test_hours: 1 } }), 201);
    refused(await post({ ...base, target_segment_id: 'aud_missing' }), 404, 'audience_not_found');
    refused(await post({ ...base, reward_id: 'rwd_missing' }), 404, 'reward_not_found');
    // The refusals wrote nothing: the tenant has exactly the one campaign that passed.
    expect(must(await t.call('GET', URL), 200).body.campaigns).toHaveLength(1);

    // The same checks on PUT, against the stored campaign under the change.
    const c = await createSmsCampaign(t, 'VIP');
    refused(await t.call('PUT', `${URL}/${c.campaign_id}`, { target_tags: [] }), 400, 'empty_targets');
    refused(await t.call('PUT', `${URL}/${c.campaign_id}`, { schedule: { cron: '* * *' } }), 400, 'invalid_schedule');
    refused(await t.call('PUT', `${URL}/${c.campaign_id}`, { reward_id: 'rwd_missing' }), 404, 'reward_not_found');
    const { rewardId } = await codeCampaign(t, { points: 5 });
    expect(must(await t.call('PUT', `${URL}/${c.campaign_id}`, { reward_id: rewardId }), 200).body.reward_id).toBe(rewardId);
  });
});
