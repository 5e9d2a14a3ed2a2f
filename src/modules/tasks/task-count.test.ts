import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { linkedTask, outcomeOf, taskCampaign, trigger } from '../../../test/helpers/task-helpers.js';
import { must, type TestApp, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';

/**
 * The product document's tenant and app (tenant1, app1), made once: its trigger example names
 * them. Another run against the same database finds them and makes new keys.
 */
async function documentTenant(app: TestApp): Promise<TenantFixture> {
  const created = await app.call('POST', '/v1/tenants', { tenant_id: 'tenant1', name: 'Document tenant' });
  expect([201, 409]).toContain(created.status);
  const admin = must(await app.call('POST', '/v1/tenants/tenant1/api-keys', { name: 'admin', role: 'admin' }), 201).body.key as string;
  const appRes = await app.call('POST', '/v1/apps', { product_code: 'app1', name: 'App 1' }, { key: admin });
  expect([201, 409]).toContain(appRes.status);
  const service = must(await app.call('POST', '/v1/tenants/tenant1/api-keys', { name: 'svc', role: 'service' }), 201).body.key as string;
  return {
    tenantId: 'tenant1',
    productCode: 'app1',
    productCodes: ['app1'],
    admin,
    service,
    readonly: service,
    call: (method, url, body, opts = {}) => app.call(method, url, body, { ...opts, key: opts.key === undefined ? service : opts.key }),
  };
}

async function completionsOf(app: TestApp, tenantId: string, taskId: string): Promise<{ completions: number; grants: number }> {
  const { rows } = await sql<{ completions: number; grants: number }>`
    select count(*)::int as completions, count(grant_id)::int as grants from task_completion_log where tenant_id = ${tenantId} and task_id = ${taskId}`.execute(app.database.db);
  return rows[0]!;
}

describe('count tasks count event_data.count', () => {
  it("the document's trigger example, verbatim, counts its count of 1", async () => {
    const app = await testApp();
    const t = await documentTenant(app);
    const { campaignId } = await taskCampaign(t);
    const task = await linkedTask(t, campaignId, { task_type: 'REGISTER', event_type: 'USER_REGISTER', condition: { type: 'count', target: 2 } });
    const body = {
      event_type: 'USER_REGISTER',
      user_id: 123,
      tenant_id: 'tenant1',
      product_code: 'app1',
      event_data: {
        count: 1,
      },
    };
    const res = must(await t.call('POST', '/v1/tasks/trigger', body), 200).body;
    const outcome = (res.tasks as { task_id: string }[]).find((x) => x.task_id === task.task_id);
    expect(outcome).toMatchObject({ progressed: true, progress: 1, target: 2, completions: 0 });
  });

  it('counts the carried count up to max_count_per_event; 1 without it; a count that is no positive integer does not count', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId } = await taskCampaign(t);
    const task = await linkedTask(t, campaignId, { repeat: 'UNLIMITED', condition: { type: 'count', target: 10, max_count_per_event: 4 } });
    expect(task.condition).toMatchObject({ max_count_per_event: 4 });
    const at = (data?: Record<string, unknown>) => outcomeOf(t, task.task_id, { event_type: 'SIGN_IN', user_id: 'u1', ...(data ? { event_data: data } : {}) });
    expect(await at({ count: 3 })).toMatchObject({ progressed: true, progress: 3 });
    expect(await at()).toMatchObject({ progressed: true, progress: 4 });
    expect(await at({ count: 50 })).toMatchObject({ progressed: true, progress: 8 }); // capped at 4
    for (const bad of [0, -2, 1.5, '3', null]) expect(await at({ count: bad })).toMatchObject({ progressed: false, reason: 'invalid_count' });
    // 8 + 4 = 12: one completion, 2 towards the next.
    expect(await at({ count: 4 })).toMatchObject({ progressed: true, progress: 2, completions: 1 });

    const defaulted = await linkedTask(t, campaignId, { event_type: 'PAGE_VIEW', condition: { type: 'count', target: 1000 } });
    expect(await outcomeOf(t, defaulted.task_id, { event_type: 'PAGE_VIEW', user_id: 'u1', event_data: { count: 5000 } })).toMatchObject({ progress: 100 });

    const wrong = await t.call('POST', '/v1/tasks', { task_name: 'Spend', task_type: 'PURCHASE', event_type: 'PAID', product_code: t.productCode, condition: { type: 'amount_sum', target: 10, max_count_per_event: 2 } });
    expect({ status: wrong.status, code: wrong.body.error.code }).toEqual({ status: 400, code: 'invalid_request' });
    expect(wrong.body.error.message).toContain('max_count_per_event');
  });

  it('the batch form counts the same', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId } = await taskCampaign(t);
    const task = await linkedTask(t, campaignId, { repeat: 'UNLIMITED', condition: { type: 'count', target: 5, max_count_per_event: 3 } });
    const events = [{ count: 2 }, { count: 9 }, undefined, { count: 0 }, { count: 1 }].map((data, i) => ({ event_type: 'SIGN_IN', user_id: 'b1', event_id: `e${i}`, product_code: t.productCode, ...(data ? { event_data: data } : {}) }));
    const res = must(await t.call('POST', '/v1/tasks/trigger/batch', { events }), 200).body;
    const outcomes = (res.results as { result: { tasks: { task_id: string; progress: number; completions: number; reason: string | null }[] } }[]).map((r) => r.result.tasks.find((x) => x.task_id === task.task_id)!);
    expect(outcomes.map((o) => [o.progress, o.completions, o.reason])).toEqual([
      [2, 0, null],
      [0, 1, null],
      [1, 1, null],
      [1, 1, 'invalid_count'],
      [2, 1, null],
    ]);
  });

  it('parallel events whose counts pass the goal complete a ONCE task exactly once, an UNLIMITED one exactly up to its cap', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await taskCampaign(t);
    const once = await linkedTask(t, campaignId, { event_type: 'READ', reward_id: rewardId, condition: { type: 'count', target: 10, max_count_per_event: 5 } });
    const capped = await linkedTask(t, campaignId, { event_type: 'READ', repeat: 'UNLIMITED', max_completions: 7, reward_id: rewardId, condition: { type: 'count', target: 10, max_count_per_event: 5 } });
    const replies = await Promise.all(Array.from({ length: 120 }, (_, i) => trigger(t, { event_type: 'READ', user_id: 'racer', event_id: `r${i}`, event_data: { count: 3 } })));
    expect(replies.filter((r) => r.status !== 200).map((r) => r.body)).toEqual([]);
    expect(await completionsOf(app, t.tenantId, once.task_id)).toEqual({ completions: 1, grants: 1 });
    // 120 x 3 = 360 counted towards 10 a completion, capped at 7.
    expect(await completionsOf(app, t.tenantId, capped.task_id)).toEqual({ completions: 7, grants: 7 });
    const completedBy = replies.flatMap((r) => (r.body.tasks as { task_id: string; completed: unknown[] }[]).filter((x) => x.task_id === once.task_id && x.completed.length > 0));
    expect(completedBy).toHaveLength(1);
  });
});
