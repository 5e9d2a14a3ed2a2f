import { afterAll, describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import type { SmsPeer } from './channels/testing/sms-peers.js';
import { outreachOf, PRODUCT_SMS, seedCustomers, smsProvider } from './testing/outreach-fixture.js';

const peers: SmsPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

/** The product document's request body, verbatim (its comments left out). */
const DOCUMENT_BODY = {
  name: '六月会员关怀短信',
  type: 'sms',
  target_tags: ['VIP', '新用户'],
  content: '亲爱的[客户姓名]，您有一份6月专属好礼待领取！详情请访问[链接]。退订请回复TD。',
  start_time: '2024-06-10T09:00:00Z',
  end_time: '2024-06-15T23:59:59Z',
};

const CAMPAIGN_KEYS = [
  'actual_end_time',
  'actual_start_time',
  'content',
  'content_template_id',
  'created_at',
  'created_by',
  'end_time',
  'id',
  'name',
  'start_time',
  'status',
  'target_segment_id',
  'target_tags',
  'type',
  'updated_at',
  'updated_by',
];
const RECORD_KEYS = ['campaign_id', 'channel', 'clicked_at', 'customer_id', 'error_message', 'id', 'opened_at', 'response', 'sent_at', 'status'];

function refused(reply: { status: number; body: any }, status: number, code: string) {
  expect({ status: reply.status, code: reply.body?.error?.code }).toEqual({ status, code });
}

const future = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

describe('/api/marketing/campaigns (the product document paths)', () => {
  it('creates, reads, lists and changes a campaign with the document body and shape', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    expect(DOCUMENT_BODY.content).toBe(PRODUCT_SMS);
    const created = must(await t.call('POST', '/api/marketing/campaigns', DOCUMENT_BODY), 201).body;
    expect(Object.keys(created).sort()).toEqual(CAMPAIGN_KEYS);
    expect(created).toMatchObject({
      name: '六月会员关怀短信',
      type: 'sms',
      status: 'draft',
      target_tags: ['VIP', '新用户'],
      target_segment_id: null,
      content_template_id: null,
      content: PRODUCT_SMS,
      start_time: '2024-06-10T09:00:00.000Z',
      end_time: '2024-06-15T23:59:59.000Z',
      actual_start_time: null,
      actual_end_time: null,
    });
    expect(created.id).toMatch(/^oc_/);
    // The same campaign under the canonical path.
    const canonical = must(await t.call('GET', `/v1/outreach/campaigns/${created.id}`), 200).body;
    expect(canonical).toMatchObject({ campaign_id: created.id, channel: 'sms', content: { text: PRODUCT_SMS } });

    // "scheduled" when start_time is ahead.
    const later = must(await t.call('POST', '/api/marketing/campaigns', { ...DOCUMENT_BODY, name: '七月', start_time: future(2), end_time: future(5) }), 201).body;
    expect(later.status).toBe('scheduled');

    expect(must(await t.call('GET', `/api/marketing/campaigns/${created.id}`, undefined, { key: t.readonly }), 200).body).toEqual(created);
    const listed = must(await t.call('GET', '/api/marketing/campaigns', undefined, { query: { type: 'sms', name: '六月', page: 1, page_size: 10 } }), 200).body;
    expect(Object.keys(listed).sort()).toEqual(['campaigns', 'pagination']);
    expect(listed.pagination).toEqual({ total: 1, page: 1, page_size: 10 });
    expect(listed.campaigns).toEqual([created]);
    expect(must(await t.call('GET', '/api/marketing/campaigns', undefined, { query: { status: 'scheduled' } }), 200).body.campaigns.map((c: any) => c.id)).toEqual([later.id]);
    expect(must(await t.call('GET', '/api/marketing/campaigns', undefined, { query: { type: 'email' } }), 200).body.pagination.total).toBe(0);

    const changed = must(await t.call('PUT', `/api/marketing/campaigns/${created.id}`, { name: '六月会员关怀短信（二）', content: '[客户姓名]，好礼待领取' }), 200).body;
    expect(Object.keys(changed).sort()).toEqual(CAMPAIGN_KEYS);
    expect(changed).toMatchObject({ id: created.id, name: '六月会员关怀短信（二）', content: '[客户姓名]，好礼待领取', type: 'sms' });
    // The whole create body again is accepted (the type is the same).
    must(await t.call('PUT', `/api/marketing/campaigns/${created.id}`, DOCUMENT_BODY), 200);
    refused(await t.call('PUT', `/api/marketing/campaigns/${created.id}`, { type: 'email' }), 400, 'invalid_request');
  });

  it('maps the content string onto each channel; the name is the subject and the title', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const make = async (type: string) => must(await t.call('POST', '/api/marketing/campaigns', { ...DOCUMENT_BODY, type, content: 'Hi [客户姓名] & <friends>' }), 201).body;
    const email = await make('email');
    expect(email.content).toBe('Hi [客户姓名] & <friends>');
    expect(must(await t.call('GET', `/v1/outreach/campaigns/${email.id}`), 200).body.content).toEqual({
      subject: '六月会员关怀短信',
      text: 'Hi [客户姓名] & <friends>',
      html: 'Hi [客户姓名] &amp; &lt;friends&gt;',
    });
    // A new name moves into the subject derived from the old one.
    must(await t.call('PUT', `/api/marketing/campaigns/${email.id}`, { name: '六月二' }), 200);
    expect(must(await t.call('GET', `/v1/outreach/campaigns/${email.id}`), 200).body.content.subject).toBe('六月二');
    // A template instead: the content goes, whatever the name does.
    const tpl = must(await t.call('POST', '/v1/outreach/templates', { name: 'T', channel: 'email', content: { subject: 's', html: '<p>h</p>', text: 't' } }), 201).body;
    const templated = must(await t.call('PUT', `/api/marketing/campaigns/${email.id}`, { name: '六月三', content_template_id: tpl.template_id }), 200).body;
    expect(templated).toMatchObject({ name: '六月三', content_template_id: tpl.template_id, content: null });
    const push = await make('push_notification');
    expect(must(await t.call('GET', `/v1/outreach/campaigns/${push.id}`), 200).body.content).toEqual({ title: '六月会员关怀短信', body: 'Hi [客户姓名] & <friends>' });
    const hook = await make('webhook');
    expect(hook.content).toBe('Hi [客户姓名] & <friends>');
    expect(must(await t.call('GET', `/v1/outreach/campaigns/${hook.id}`), 200).body.content).toEqual({ json: { text: 'Hi [客户姓名] & <friends>' } });
  });

  it('answers bad input with the canonical routes’ codes', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const post = (body: unknown, key?: string | null) => t.call('POST', '/api/marketing/campaigns', body, key === undefined ? {} : { key });
    refused(await post({ ...DOCUMENT_BODY, type: 'fax' }), 400, 'invalid_request');
    refused(await t.call('POST', '/v1/outreach/campaigns', { name: 'x', channel: 'fax', target_tags: ['VIP'], content: { text: 'x' } }), 400, 'invalid_request');
    refused(await post({ ...DOCUMENT_BODY, target_tags: [] }), 400, 'empty_targets');
    refused(await post({ ...DOCUMENT_BODY, content: null }), 400, 'content_required');
    refused(await post({ ...DOCUMENT_BODY, content: 'x'.repeat(501) }), 400, 'content_too_long');
    refused(await post({ ...DOCUMENT_BODY, end_time: '2024-06-01T00:00:00Z' }), 400, 'invalid_time_range');
    refused(await post({ ...DOCUMENT_BODY, content: undefined, content_template_id: 'tpl_nope' }), 404, 'template_not_found');
    refused(await post({ ...DOCUMENT_BODY, start_time: undefined }), 400, 'invalid_request');
    refused(await post({ ...DOCUMENT_BODY, extra: 1 }), 400, 'invalid_request');
    refused(await post(DOCUMENT_BODY, null), 401, 'unauthorized');
    refused(await post(DOCUMENT_BODY, t.readonly), 403, 'read_only_key');
    refused(await post(DOCUMENT_BODY, app.master), 403, 'tenant_key_required');
    refused(await t.call('GET', '/api/marketing/campaigns', undefined, { key: null }), 401, 'unauthorized');
    refused(await t.call('GET', '/api/marketing/campaigns/oc_nope'), 404, 'campaign_not_found');
    refused(await t.call('POST', '/api/marketing/campaigns/oc_nope/trigger'), 404, 'campaign_not_found');
    refused(await t.call('POST', '/api/marketing/campaigns/oc_nope/archive'), 404, 'campaign_not_found');
    refused(await t.call('GET', '/api/marketing/records'), 400, 'invalid_request');
    refused(await t.call('GET', '/api/marketing/records', undefined, { query: { campaign_id: 'oc_nope' } }), 404, 'campaign_not_found');
    // Another tenant's campaign is not found.
    const created = must(await post(DOCUMENT_BODY), 201).body;
    const other = await app.newTenant();
    refused(await other.call('GET', `/api/marketing/campaigns/${created.id}`), 404, 'campaign_not_found');
    refused(await other.call('PUT', `/api/marketing/campaigns/${created.id}`, { name: 'x' }), 404, 'campaign_not_found');
    refused(await other.call('GET', '/api/marketing/records', undefined, { query: { campaign_id: created.id } }), 404, 'campaign_not_found');
    expect(must(await other.call('GET', '/api/marketing/campaigns'), 200).body.pagination.total).toBe(0);
  });

  it('triggers (actual and simulation), lists the records in the document shape, archives', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 4, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const body = { ...DOCUMENT_BODY, start_time: new Date(Date.now() - 60_000).toISOString(), end_time: future(5) };
    const campaign = must(await t.call('POST', '/api/marketing/campaigns', body), 201).body;

    const simulated = must(await t.call('POST', `/api/marketing/campaigns/${campaign.id}/trigger`, { execution_type: 'simulation' }), 200).body;
    expect(Object.keys(simulated).sort()).toEqual(['execution_id', 'message', 'status']);
    expect(simulated).toMatchObject({ status: 'simulation_started', message: '营销活动模拟已开始执行。' });
    expect(simulated.execution_id).toMatch(/^run_/);
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    expect(peer.messages).toHaveLength(0);

    // No body: an actual run.
    const triggered = must(await t.call('POST', `/api/marketing/campaigns/${campaign.id}/trigger`), 200).body;
    expect(triggered).toEqual({ status: 'triggered', message: '营销活动已成功触发执行。', execution_id: expect.stringMatching(/^run_/) });
    refused(await t.call('POST', `/api/marketing/campaigns/${campaign.id}/archive`), 409, 'campaign_running');
    refused(await t.call('POST', `/api/marketing/campaigns/${campaign.id}/trigger`, { execution_type: 'actual' }), 409, 'campaign_running');
    refused(await t.call('POST', `/api/marketing/campaigns/${campaign.id}/trigger`, { execution_type: 'later' }), 400, 'invalid_request');
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    expect(peer.messages).toHaveLength(4);
    const run = must(await t.call('GET', `/v1/outreach/runs/${triggered.execution_id}`), 200).body;
    expect(run.stats).toMatchObject({ planned: 4, sent: 4 });

    const records = must(await t.call('GET', '/api/marketing/records', undefined, { query: { campaign_id: campaign.id, page_size: 5 }, key: t.readonly }), 200).body;
    expect(Object.keys(records).sort()).toEqual(['pagination', 'records']);
    expect(records.pagination).toEqual({ total: 8, page: 1, page_size: 5 });
    expect(records.records).toHaveLength(5);
    for (const r of records.records) expect(Object.keys(r).sort()).toEqual(RECORD_KEYS);
    // Newest first: the actual run's records before the simulation's.
    expect(records.records.slice(0, 4).every((r: any) => r.id.startsWith(`${triggered.execution_id}-`) && r.status === 'sent' && r.sent_at !== null)).toBe(true);
    expect(records.records[4]).toMatchObject({ campaign_id: campaign.id, channel: 'sms', status: 'would_send', sent_at: null, error_message: null });
    const one = must(await t.call('GET', '/api/marketing/records', undefined, { query: { campaign_id: campaign.id, customer_id: 'u00002', status: 'sent', channel: 'sms' } }), 200).body;
    expect(one.records.map((r: any) => r.customer_id)).toEqual(['u00002']);

    const archived = must(await t.call('POST', `/api/marketing/campaigns/${campaign.id}/archive`), 200).body;
    expect(Object.keys(archived).sort()).toEqual(CAMPAIGN_KEYS);
    expect(archived).toMatchObject({ id: campaign.id, status: 'archived' });
    expect(archived.actual_start_time).not.toBeNull();
    refused(await t.call('POST', `/api/marketing/campaigns/${campaign.id}/trigger`), 409, 'campaign_archived');
    refused(await t.call('PUT', `/api/marketing/campaigns/${campaign.id}`, { name: 'x' }), 409, 'campaign_archived');
  });
});
