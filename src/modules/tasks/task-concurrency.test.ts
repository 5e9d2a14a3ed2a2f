import { describe, expect, it } from 'vitest';
import { pointsOf } from '../../../test/helpers/redeem-code-helpers.js';
import { linkedTask, taskCampaign, trigger } from '../../../test/helpers/task-helpers.js';
import { must, testApp } from '../../../test/helpers/test-app.js';

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
});
