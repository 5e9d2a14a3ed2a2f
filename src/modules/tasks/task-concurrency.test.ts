import { describe, expect, it } from 'vitest';
import { pointsOf } from '../../../test/helpers/redeem-code-helpers.js';
import { linkedTask, taskCampaign, trigger } from '../../../test/helpers/task-helpers.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { metricValue } from '../../../test/helpers/grant-helpers.js';

/**
 * Parallel events for one user: progress and completions hold exactly. On PostgreSQL these run
 * truly concurrently over the pool; on PGlite they interleave on its one connection.
 */
describe('tasks under concurrency', () => {
  it('100 parallel events for one user on a ONCE task: exactly one completion and one grant', async () => {
    const t = await (await testApp()).newTenant();
    const { campaignId, rewardId } = await taskCampaign(t, { points: 5 });
    const task = await linkedTask(t, campaignId, { reward_id: rewardId });
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => trigger(t, { event_type: 'SIGN_IN', user_id: 'u1', event_id: `p${i}` })));
    expect(replies.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
    const outcomes = replies.map((r) => r.body.tasks[0]);
    expect(outcomes.filter((o) => o.completed.length === 1)).toHaveLength(1);
    expect(outcomes.filter((o) => o.reason === 'already_completed')).toHaveLength(99);
    expect(await pointsOf(t, 'u1')).toBe(5);
    const logs = must(await t.call('GET', '/v1/task-completion-logs', undefined, { query: { task_id: task.task_id } }), 200).body;
    expect(logs.pagination.total).toBe(1);
    const grants = must(await t.call('GET', '/v1/reward-grants', undefined, { query: { reward_id: rewardId } }), 200).body;
    expect(grants.pagination.total).toBe(1);
  });

  it('100 parallel events of a count-10 UNLIMITED task: exactly 10 completions, each numbered once', async () => {
    const t = await (await testApp()).newTenant();
    const { campaignId, rewardId } = await taskCampaign(t, { points: 1 });
    const task = await linkedTask(t, campaignId, { reward_id: rewardId, repeat: 'UNLIMITED', condition: { type: 'count', target: 10 } });
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => trigger(t, { event_type: 'SIGN_IN', user_id: 'u1', event_id: `q${i}` })));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    const seqs = replies.flatMap((r) => r.body.tasks[0].completed.map((c: any) => c.seq)).sort((a: number, b: number) => a - b);
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await pointsOf(t, 'u1')).toBe(10);
    const logs = must(await t.call('GET', '/v1/task-completion-logs', undefined, { query: { task_id: task.task_id } }), 200).body;
    expect(logs.pagination.total).toBe(10);
  });

  it('100 parallel events, DAILY: one completion per day; the same event id 50 times counts once', async () => {
    const t = await (await testApp()).newTenant();
    const { campaignId, rewardId } = await taskCampaign(t, { points: 2 });
    await linkedTask(t, campaignId, { reward_id: rewardId, repeat: 'DAILY', event_type: 'D' });
    const today = new Date();
    const yesterday = new Date(today.getTime() - 86_400_000);
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => trigger(t, { event_type: 'D', user_id: 'u1', event_id: `d${i}`, occurred_at: (i % 2 ? today : yesterday).toISOString() })),
    );
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(replies.filter((r) => r.body.tasks[0].completed.length === 1)).toHaveLength(2);
    expect(await pointsOf(t, 'u1')).toBe(4);

    const same = await Promise.all(Array.from({ length: 50 }, () => trigger(t, { event_type: 'D', user_id: 'u2', event_id: 'one' })));
    expect(same.every((r) => r.status === 200)).toBe(true);
    expect(same.filter((r) => r.body.duplicate === false)).toHaveLength(1);
    expect(same.filter((r) => r.body.tasks[0]?.completed.length === 1)).toHaveLength(50); // repeats show the first answer
    expect(await pointsOf(t, 'u2')).toBe(2);
  });

  it('a batch whose completions outrun the stock: one grant statement, exactly the stock granted, the rest REFUSED', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await taskCampaign(t, { points: 3, total_stock: 7, validator: { per_user_limit: 1 } });
    await linkedTask(t, campaignId, { reward_id: rewardId, event_type: 'BUY', repeat: 'ONCE' });
    // 30 users complete the ONCE task; u0 and u1 also appear twice (their second event is already_completed).
    const events = [...Array.from({ length: 30 }, (_, i) => ({ event_type: 'BUY', user_id: `u${i}`, event_id: `b${i}` })), { event_type: 'BUY', user_id: 'u0', event_id: 'again0' }];
    const metrics = async () => metricValue((await app.call('GET', '/metrics', undefined, { key: null })).body as string, 'marketing_reward_granted_total', { reward_type: 'POINTS', result: 'granted' });
    const before = await metrics();
    const results = must(await t.call('POST', '/v1/tasks/trigger/batch', { events: events.map((e) => ({ ...e, product_code: t.productCode })) }), 200).body.results as any[];
    const completed = results.flatMap((r) => r.result.tasks[0].completed);
    expect(completed).toHaveLength(30);
    const granted = completed.filter((c: any) => c.grant_status === 'GRANTED');
    expect(granted).toHaveLength(7);
    expect(completed.filter((c: any) => c.grant_status === 'REFUSED').every((c: any) => c.grant_error.code === 'inventory_exhausted')).toBe(true);
    expect(results[30].result.tasks[0]).toMatchObject({ progressed: false, reason: 'already_completed' });
    expect((await metrics()) - before).toBe(7);
    expect(must(await t.call('GET', `/v1/rewards/${rewardId}`), 200).body.stock).toMatchObject({ total: 7, used: 7, available: 0 });
    const grants = must(await t.call('GET', '/v1/reward-grants', undefined, { query: { reward_id: rewardId, page_size: 100 } }), 200).body;
    expect(grants.pagination.total).toBe(7);
    expect(new Set(grants.grants.map((g: any) => g.grant_id))).toEqual(new Set(granted.map((c: any) => c.grant_id)));
    for (const g of granted.slice(0, 3)) expect(await pointsOf(t, grants.grants.find((x: any) => x.grant_id === g.grant_id).user_id)).toBe(3);
    const logs = must(await t.call('GET', '/v1/task-completion-logs', undefined, { query: { page_size: 100 } }), 200).body;
    expect(logs.pagination.total).toBe(30);
  });

  it('a batch where one user completes the same UNLIMITED task several times: the per-user limit holds inside the batch', async () => {
    const t = await (await testApp()).newTenant();
    const { campaignId, rewardId } = await taskCampaign(t, { points: 1, validator: { per_user_limit: 2 } });
    await linkedTask(t, campaignId, { reward_id: rewardId, repeat: 'UNLIMITED', event_type: 'TAP' });
    const events = Array.from({ length: 5 }, (_, i) => ({ event_type: 'TAP', user_id: 'solo', event_id: `t${i}` }));
    const results = must(await t.call('POST', '/v1/tasks/trigger/batch', { events: events.map((e) => ({ ...e, product_code: t.productCode })) }), 200).body.results as any[];
    const completed = results.flatMap((r) => r.result.tasks[0].completed);
    expect(completed.map((c: any) => c.grant_status)).toEqual(['GRANTED', 'GRANTED', 'REFUSED', 'REFUSED', 'REFUSED']);
    expect(completed[4].grant_error.code).toBe('per_user_limit_reached');
    expect(await pointsOf(t, 'solo')).toBe(2);
  });

  it('parallel single events share group commits on PostgreSQL; each gets its own answer, a reused event id its 409', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await taskCampaign(t, { points: 4 });
    await linkedTask(t, campaignId, { reward_id: rewardId, event_type: 'GROUP' });
    const durations = async () =>
      metricValue((await app.call('GET', '/metrics', undefined, { key: null })).body as string, 'marketing_task_trigger_duration_seconds_count', { form: 'single' });
    const before = await durations();
    const replies = await Promise.all([
      ...Array.from({ length: 120 }, (_, i) => trigger(t, { event_type: 'GROUP', user_id: `g${i}`, event_id: `grp${i}` })),
      // The same event id for another user: one of the two is first, the other is told the id was reused.
      trigger(t, { event_type: 'GROUP', user_id: 'other', event_id: 'grp0' }),
    ]);
    const reused = replies.filter((r) => r.status === 409);
    expect(reused).toHaveLength(1);
    expect(reused[0]!.body.error.code).toBe('event_id_reused');
    const ok = replies.filter((r) => r.status === 200);
    expect(ok).toHaveLength(120);
    for (const r of ok) expect(r.body.tasks[0].completed).toHaveLength(1);
    const grants = must(await t.call('GET', '/v1/reward-grants', undefined, { query: { reward_id: rewardId, page_size: 200 } }), 200).body;
    expect(grants.pagination.total).toBe(120);
    const logs = must(await t.call('GET', '/v1/task-completion-logs', undefined, { query: { page_size: 200 } }), 200).body;
    expect(logs.pagination.total).toBe(120);
    const groups = (await durations()) - before;
    // One observation per group (or per event run alone): fewer than events where requests overlap.
    if (process.env.MH_TEST_DB === 'postgres') expect(groups).toBeLessThan(121);
    expect(groups).toBeGreaterThan(0);
  });
});
