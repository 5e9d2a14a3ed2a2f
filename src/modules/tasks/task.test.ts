import { describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { expectError } from '../../../test/helpers/redeem-code-helpers.js';
import { metricValue } from '../../../test/helpers/grant-helpers.js';
import { linkedTask, taskBody, taskCampaign } from '../../../test/helpers/task-helpers.js';
import { must, testApp } from '../../../test/helpers/test-app.js';

describe('task CRUD', () => {
  it('creates, reads, lists, updates and deletes a task', async () => {
    const t = await (await testApp()).newTenant();
    const { rewardId } = await taskCampaign(t);
    const created = must(
      await t.call('POST', '/v1/tasks', taskBody({ product_code: t.productCode, repeat: 'DAILY', time_zone: 'Asia/Shanghai', reward_id: rewardId, reward_quantity: 2, condition: { type: 'count', target: 2, filters: { source: 'app' } } })),
      201,
    ).body;
    expect(created).toMatchObject({ task_name: 'Sign in', repeat: 'DAILY', time_zone: 'Asia/Shanghai', reward_id: rewardId, reward_quantity: 2, max_completions: null, version: 1, product_code: t.productCode });
    expect(created.task_id).toMatch(/^tsk_/);
    expect(must(await t.call('GET', `/v1/tasks/${created.task_id}`), 200).body).toEqual(created);
    const list = must(await t.call('GET', '/v1/tasks', undefined, { query: { task_type: 'SIGN_IN' } }), 200).body;
    expect(list.tasks.map((x: any) => x.task_id)).toEqual([created.task_id]);
    expect(must(await t.call('GET', '/v1/tasks', undefined, { query: { event_type: 'NOPE' } }), 200).body.pagination.total).toBe(0);
    const updated = must(await t.call('PUT', `/v1/tasks/${created.task_id}`, { task_name: 'Daily sign-in', condition: { type: 'count', target: 3 } }), 200).body;
    expect(updated).toMatchObject({ task_name: 'Daily sign-in', condition: { type: 'count', target: 3 }, version: 2 });
    expect((await t.call('DELETE', `/v1/tasks/${created.task_id}`)).status).toBe(204);
    expectError(await t.call('GET', `/v1/tasks/${created.task_id}`), 404, 'task_not_found');
    expectError(await t.call('DELETE', `/v1/tasks/${created.task_id}`), 404, 'task_not_found');
  });

  it('refuses bad tasks with 400 naming the field', async () => {
    const t = await (await testApp()).newTenant();
    const bad = async (overrides: Record<string, unknown>, code: string, field?: string) => {
      const r = await t.call('POST', '/v1/tasks', taskBody({ product_code: t.productCode, ...overrides }));
      expectError(r, 400, code, field ? { field } : undefined);
    };
    await bad({ task_type: 'NOPE' }, 'invalid_request');
    await bad({ condition: { type: 'count', target: 0 } }, 'invalid_request');
    await bad({ condition: { type: 'median', target: 1 } }, 'invalid_request');
    await bad({ condition: { type: 'distinct', target: 2 } }, 'invalid_request', 'condition.field');
    await bad({ condition: { type: 'count', target: 2, field: 'x' } }, 'invalid_request', 'condition.field');
    await bad({ condition: { type: 'consecutive_days', target: 3 }, repeat: 'DAILY' }, 'invalid_request', 'condition.type');
    await bad({ condition: { type: 'consecutive_days', target: 8 }, repeat: 'WEEKLY' }, 'invalid_request', 'condition.target');
    await bad({ condition: { type: 'amount_sum', target: 100, filters: { amount: 5 } } }, 'invalid_request', 'condition.filters.amount');
    await bad({ max_completions: 3 }, 'invalid_request', 'max_completions');
    await bad({ time_zone: 'Mars/Olympus' }, 'invalid_request', 'time_zone');
    await bad({ start_time: '2026-02-01T00:00:00Z', end_time: '2026-01-01T00:00:00Z' }, 'invalid_request', 'end_time');
    await bad({ reward_id: 'rwd_nope' }, 'unknown_reward', 'reward_id');
    await bad({ reward_quantity: 3 }, 'invalid_request', 'reward_quantity');
    await bad({ product_code: 'nope' }, 'unknown_product_code');
    await bad({ event_type: 'has space' }, 'invalid_request');
    await bad({ extra: 1 }, 'invalid_request');
    // A filter name outside the pattern is refused, whatever its value (a record's key pattern
    // alone would let any other name through with any value, which no answer could then show).
    await bad({ condition: { type: 'count', target: 1, filters: { 'not a name': [{ a: 1 }] } } }, 'invalid_request', 'condition.filters');
    await bad({ condition: { type: 'count', target: 1, filters: { [`f${'x'.repeat(64)}`]: 1 } } }, 'invalid_request', 'condition.filters');
    expect(must(await t.call('GET', '/v1/tasks'), 200).body.pagination.total).toBe(0);
  });

  it('locks the counting rules once users have progress, and the product while linked', async () => {
    const t = await (await testApp()).newTenant({ productCodes: ['app1', 'app2'] });
    const { campaignId } = await taskCampaign(t);
    const task = await linkedTask(t, campaignId, { condition: { type: 'count', target: 5 } });
    must(await t.call('PUT', `/v1/tasks/${task.task_id}`, { condition: { type: 'count', target: 4 } }), 200);
    must(await t.call('POST', '/v1/tasks/trigger', { event_type: 'SIGN_IN', user_id: 'u1' }), 200);
    expectError(await t.call('PUT', `/v1/tasks/${task.task_id}`, { condition: { type: 'count', target: 2 } }), 409, 'task_field_locked', { fields: ['condition'] });
    expectError(await t.call('PUT', `/v1/tasks/${task.task_id}`, { time_zone: 'Asia/Tokyo' }), 409, 'task_field_locked');
    must(await t.call('PUT', `/v1/tasks/${task.task_id}`, { task_name: 'still fine', end_time: '2099-01-01T00:00:00Z' }), 200);
    expectError(await t.call('PUT', `/v1/tasks/${task.task_id}`, { product_code: 'app2' }), 409, 'task_field_locked', { fields: ['product_code'] });
  });

  it('counts created tasks in marketing_task_created_total, and triggers in the trigger metrics', async () => {
    const env = await testApp();
    const t = await env.newTenant();
    const before = metricValue((await env.call('GET', '/metrics')).body, 'marketing_task_created_total', { task_type: 'INVITE' });
    const { campaignId } = await taskCampaign(t);
    await linkedTask(t, campaignId, { task_type: 'INVITE', event_type: 'INVITED' });
    must(await t.call('POST', '/v1/tasks/trigger', { event_type: 'INVITED', user_id: 'u1' }), 200);
    const text = (await env.call('GET', '/metrics')).body as string;
    expect(metricValue(text, 'marketing_task_created_total', { task_type: 'INVITE' })).toBe(before + 1);
    expect(metricValue(text, 'marketing_task_completed_total', { task_type: 'INVITE' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'marketing_task_triggered_total', { form: 'single', result: 'processed' })).toBeGreaterThanOrEqual(1);
    expect(text).toContain('marketing_task_trigger_duration_seconds_bucket');
  });
});

describe('campaign links', () => {
  it('links, lists in sort order, refuses a second link, unlinks', async () => {
    const t = await (await testApp()).newTenant();
    const campaign = await newCampaign(t);
    const a = must(await t.call('POST', '/v1/tasks', taskBody({ task_name: 'A' })), 201).body;
    const b = must(await t.call('POST', '/v1/tasks', taskBody({ task_name: 'B' })), 201).body;
    must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/tasks`, { task_id: a.task_id, sort_order: 2 }), 201);
    const link = must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/tasks`, { task_id: b.task_id, sort_order: 1 }), 201).body;
    expect(link).toMatchObject({ campaign_id: campaign.campaign_id, sort_order: 1, task: { task_id: b.task_id } });
    expectError(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/tasks`, { task_id: a.task_id }), 409, 'task_already_linked');
    expectError(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/tasks`, { task_id: 'tsk_nope' }), 404, 'task_not_found');
    expectError(await t.call('POST', '/v1/campaigns/cmp_nope/tasks', { task_id: a.task_id }), 404, 'campaign_not_found');
    const list = must(await t.call('GET', `/v1/campaigns/${campaign.campaign_id}/tasks`), 200).body;
    expect(list.tasks.map((x: any) => x.task.task_name)).toEqual(['B', 'A']);
    // The task list filtered by campaign: only linked tasks, paged like any list.
    const c = must(await t.call('POST', '/v1/tasks', taskBody({ task_name: 'C' })), 201).body;
    const byCampaign = must(await t.call('GET', '/v1/tasks', undefined, { query: { campaign_id: campaign.campaign_id, page_size: 1 } }), 200).body;
    expect(byCampaign.pagination).toMatchObject({ total: 2, page_size: 1 });
    expect(byCampaign.tasks[0].task_id).not.toBe(c.task_id);
    expect(must(await t.call('GET', '/v1/tasks', undefined, { query: { campaign_id: 'cmp_nope' } }), 200).body.pagination.total).toBe(0);
    expect((await t.call('DELETE', `/v1/campaigns/${campaign.campaign_id}/tasks/${a.task_id}`)).status).toBe(204);
    expectError(await t.call('DELETE', `/v1/campaigns/${campaign.campaign_id}/tasks/${a.task_id}`), 404, 'campaign_task_not_found');
    expect(must(await t.call('GET', `/v1/campaigns/${campaign.campaign_id}/tasks`), 200).body.tasks).toHaveLength(1);
    // Deleting a task removes its links.
    must(await t.call('DELETE', `/v1/tasks/${b.task_id}`), 204);
    expect(must(await t.call('GET', `/v1/campaigns/${campaign.campaign_id}/tasks`), 200).body.tasks).toHaveLength(0);
  });

  it('refuses a task of another product and an archived campaign', async () => {
    const t = await (await testApp()).newTenant({ productCodes: ['app1', 'app2'] });
    const campaign = await newCampaign(t);
    const other = must(await t.call('POST', '/v1/tasks', taskBody({ product_code: 'app2' })), 201).body;
    expectError(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/tasks`, { task_id: other.task_id }), 400, 'task_product_mismatch');
    must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/archive`), 200);
    const mine = must(await t.call('POST', '/v1/tasks', taskBody({ product_code: 'app1' })), 201).body;
    expectError(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/tasks`, { task_id: mine.task_id }), 409, 'campaign_not_editable');
  });
});

describe('tenant isolation', () => {
  it('every task route treats another tenant\'s tasks, campaigns, events and logs as absent', async () => {
    const env = await testApp();
    const a = await env.newTenant();
    const b = await env.newTenant();
    const { campaignId, rewardId } = await taskCampaign(a);
    const task = await linkedTask(a, campaignId, { reward_id: rewardId, repeat: 'UNLIMITED' });
    must(await a.call('POST', '/v1/tasks/trigger', { event_type: 'SIGN_IN', user_id: 'u1', event_id: 'shared-id' }), 200);
    const bCampaign = await newCampaign(b);
    const bTask = must(await b.call('POST', '/v1/tasks', taskBody()), 201).body;

    expectError(await b.call('GET', `/v1/tasks/${task.task_id}`), 404, 'task_not_found');
    expectError(await b.call('PUT', `/v1/tasks/${task.task_id}`, { task_name: 'x' }), 404, 'task_not_found');
    expectError(await b.call('DELETE', `/v1/tasks/${task.task_id}`), 404, 'task_not_found');
    expectError(await b.call('GET', `/v1/tasks/${task.task_id}/completion-stats`), 404, 'task_not_found');
    expect(must(await b.call('GET', '/v1/tasks'), 200).body.tasks.map((x: any) => x.task_id)).toEqual([bTask.task_id]);
    expectError(await b.call('GET', `/v1/campaigns/${campaignId}/tasks`), 404, 'campaign_not_found');
    expectError(await b.call('POST', `/v1/campaigns/${campaignId}/tasks`, { task_id: bTask.task_id }), 404, 'campaign_not_found');
    expectError(await b.call('POST', `/v1/campaigns/${bCampaign.campaign_id}/tasks`, { task_id: task.task_id }), 404, 'task_not_found');
    expectError(await b.call('DELETE', `/v1/campaigns/${campaignId}/tasks/${task.task_id}`), 404, 'campaign_not_found');
    expectError(await b.call('POST', '/v1/tasks', taskBody({ reward_id: rewardId })), 400, 'unknown_reward');
    expect(must(await b.call('GET', '/v1/task-completion-logs'), 200).body.pagination.total).toBe(0);
    expect(must(await b.call('GET', '/v1/task-completion-logs', undefined, { query: { task_id: task.task_id } }), 200).body.pagination.total).toBe(0);
    expect(must(await b.call('GET', '/v1/users/u1/tasks'), 200).body.tasks).toEqual([]);
    // The same event id in another tenant is another event; B has no tasks, so nothing moves in A.
    const bTrigger = must(await b.call('POST', '/v1/tasks/trigger', { event_type: 'SIGN_IN', user_id: 'u1', event_id: 'shared-id' }), 200).body;
    expect(bTrigger).toEqual({ event_id: 'shared-id', duplicate: false, tasks: [] });
    expect(must(await b.call('POST', '/v1/tasks/trigger/batch', { events: [{ event_type: 'SIGN_IN', user_id: 'u1' }] }), 200).body.results[0].result.tasks).toEqual([]);
    expect(must(await a.call('GET', '/v1/task-completion-logs'), 200).body.pagination.total).toBe(1);
    expectError(await b.call('POST', '/v1/tasks/trigger', { event_type: 'SIGN_IN', user_id: 'u1', tenant_id: a.tenantId }), 403, 'tenant_mismatch');
  });

  it('a product-limited key sees and triggers only its products\' tasks; a readonly key cannot trigger', async () => {
    const env = await testApp();
    const t = await env.newTenant({ productCodes: ['app1', 'app2'] });
    const limited = must(await env.call('POST', `/v1/tenants/${t.tenantId}/api-keys`, { name: 'l', role: 'service', product_codes: ['app2'] }), 201).body.key;
    const { campaignId } = await taskCampaign(t);
    const task = await linkedTask(t, campaignId, {});
    expectError(await t.call('GET', `/v1/tasks/${task.task_id}`, undefined, { key: limited }), 404, 'task_not_found');
    expect(must(await t.call('POST', '/v1/tasks/trigger', { event_type: 'SIGN_IN', user_id: 'u1' }, { key: limited }), 200).body.tasks).toEqual([]);
    expectError(await t.call('POST', '/v1/tasks/trigger', { event_type: 'SIGN_IN', user_id: 'u1', product_code: 'app1' }, { key: limited }), 403, 'product_not_allowed');
    expectError(await t.call('POST', '/v1/tasks/trigger', { event_type: 'SIGN_IN', user_id: 'u1' }, { key: t.readonly }), 403, 'read_only_key');
  });

  it('answers the product codes other modules answer too with the one body of each (platform/shared-errors.ts)', async () => {
    const env = await testApp();
    const t = await env.newTenant({ productCodes: ['app1', 'app2'] });
    const limited = must(await env.call('POST', `/v1/tenants/${t.tenantId}/api-keys`, { name: 'l', role: 'service', product_codes: ['app2'] }), 201).body.key;
    const denied = await t.call('POST', '/v1/tasks/trigger', { event_type: 'SIGN_IN', user_id: 'u1', product_code: 'app1' }, { key: limited });
    expect([denied.status, denied.body.error.code, denied.body.error.details]).toEqual([403, 'product_not_allowed', { product_code: 'app1', allowed: ['app2'] }]);
    const mixed = await t.call('POST', '/v1/tasks/trigger', { event_type: 'SIGN_IN', user_id: 'u1', product_code: 'app1' }, { headers: { 'x-product-code': 'app2' } });
    expect([mixed.status, mixed.body.error.code, mixed.body.error.details]).toEqual([400, 'product_code_mismatch', { field: 'product_code', body: 'app1', header: 'app2' }]);
    const unknown = await t.call('POST', '/v1/tasks', taskBody({ product_code: 'nope' }));
    expect([unknown.status, unknown.body.error.code, unknown.body.error.details]).toEqual([400, 'unknown_product_code', { field: 'product_code', product_codes: ['nope'] }]);
  });
});
