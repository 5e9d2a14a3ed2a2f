import { describe, expect, it } from 'vitest';
import { pointsOf } from '../../../test/helpers/redeem-code-helpers.js';
import { linkedTask, outcomeOf, taskCampaign, trigger } from '../../../test/helpers/task-helpers.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { ManualClock } from '../../platform/clock.js';

/** Every condition kind and repeat policy, on an app whose clock the test moves. */
async function setup(start = '2026-03-10T08:00:00Z') {
  const clock = new ManualClock(start);
  const env = await testApp({ clock });
  const t = await env.newTenant();
  const { campaignId, rewardId } = await taskCampaign(t);
  return { clock, env, t, campaignId, rewardId };
}

let n = 0;
const ev = () => `e${++n}_${Math.random().toString(36).slice(2)}`;

describe('task conditions', () => {
  it('count: completes on the N-th event, grants once, and a ONCE task then stays completed', async () => {
    const { env, t, campaignId, rewardId } = await setup();
    const task = await linkedTask(t, campaignId, { condition: { type: 'count', target: 3 }, reward_id: rewardId });
    expect(await outcomeOf(t, task.task_id, { event_type: 'SIGN_IN', user_id: 'u1', event_id: ev() })).toMatchObject({ progressed: true, progress: 1, target: 3, completions: 0, completed: [] });
    await outcomeOf(t, task.task_id, { event_type: 'SIGN_IN', user_id: 'u1', event_id: ev() });
    const third = await outcomeOf(t, task.task_id, { event_type: 'SIGN_IN', user_id: 'u1', event_id: ev() });
    expect(third).toMatchObject({ progressed: true, progress: 3, completions: 1, campaign_id: campaignId });
    expect(third.completed).toHaveLength(1);
    expect(third.completed[0]).toMatchObject({ seq: 1, grant_status: 'GRANTED', grant_error: null });
    expect(await outcomeOf(t, task.task_id, { event_type: 'SIGN_IN', user_id: 'u1', event_id: ev() })).toMatchObject({ progressed: false, reason: 'already_completed', progress: 3, completions: 1 });
    expect(await pointsOf(t, 'u1')).toBe(10);
    const grant = must(await t.call('GET', `/v1/reward-grants/${third.completed[0].grant_id}`), 200).body;
    expect(grant).toMatchObject({ source: 'task_completion', source_id: third.completed[0].completion_id, campaign_id: campaignId });
    await env.app.close();
  });

  it('amount_sum: adds event_data.amount in minor units; bad amounts do not count; UNLIMITED carries the rest over', async () => {
    const { env, t, campaignId } = await setup();
    const task = await linkedTask(t, campaignId, { event_type: 'ORDER_PAID', task_type: 'PURCHASE', condition: { type: 'amount_sum', target: 10000 }, repeat: 'UNLIMITED', max_completions: 3 });
    const pay = (amount: unknown) => outcomeOf(t, task.task_id, { event_type: 'ORDER_PAID', user_id: 'u1', event_id: ev(), event_data: { amount } });
    expect(await pay(4000)).toMatchObject({ progressed: true, progress: 4000, completions: 0 });
    expect(await pay(12.5)).toMatchObject({ progressed: false, reason: 'invalid_amount', progress: 4000 });
    expect(await pay('100')).toMatchObject({ progressed: false, reason: 'invalid_amount' });
    const big = await pay(25000); // 29000: two completions, 9000 carried
    expect(big).toMatchObject({ progressed: true, progress: 9000, completions: 2 });
    expect(big.completed.map((c: any) => c.seq)).toEqual([1, 2]);
    const capped = await pay(50000); // cap 3: one more, then done
    expect(capped).toMatchObject({ completions: 3, progress: 10000 });
    expect(capped.completed).toHaveLength(1);
    expect(await pay(1)).toMatchObject({ progressed: false, reason: 'already_completed' });
    await env.app.close();
  });

  it('distinct: counts distinct values of an event_data field; filters must match', async () => {
    const { env, t, campaignId } = await setup();
    const task = await linkedTask(t, campaignId, {
      event_type: 'SHARE',
      task_type: 'SHARE',
      condition: { type: 'distinct', target: 2, field: 'channel', filters: { platform: ['ios', 'android'] } },
    });
    const share = (data: Record<string, unknown>) => outcomeOf(t, task.task_id, { event_type: 'SHARE', user_id: 'u1', event_id: ev(), event_data: data });
    expect(await share({ channel: 'wechat', platform: 'web' })).toMatchObject({ progressed: false, reason: 'filter_mismatch', progress: 0 });
    expect(await share({ platform: 'ios' })).toMatchObject({ progressed: false, reason: 'missing_field' });
    expect(await share({ channel: 'wechat', platform: 'ios' })).toMatchObject({ progressed: true, progress: 1 });
    expect(await share({ channel: 'wechat', platform: 'android' })).toMatchObject({ progressed: false, reason: 'value_already_counted', progress: 1 });
    const done = await share({ channel: 'weibo', platform: 'android' });
    expect(done).toMatchObject({ progressed: true, progress: 2, completions: 1 });
    expect(done.completed[0].grant_status).toBe('NONE');
    await env.app.close();
  });

  it('consecutive_days: a streak counts local days in a non-UTC zone, across midnight, and breaks on a missed day', async () => {
    // Asia/Shanghai is UTC+8: local midnight is 16:00 UTC.
    const { clock, env, t, campaignId, rewardId } = await setup('2026-03-10T15:30:00Z'); // 23:30 on the 10th in Shanghai
    const task = await linkedTask(t, campaignId, { condition: { type: 'consecutive_days', target: 3 }, time_zone: 'Asia/Shanghai', reward_id: rewardId, repeat: 'UNLIMITED' });
    const signIn = () => outcomeOf(t, task.task_id, { event_type: 'SIGN_IN', user_id: 'u1', event_id: ev() });
    expect(await signIn()).toMatchObject({ progressed: true, progress: 1 }); // day 10
    clock.advance(20 * 60_000); // 23:50 on the 10th: same local day
    expect(await signIn()).toMatchObject({ progressed: false, reason: 'day_already_counted', progress: 1 });
    clock.advance(20 * 60_000); // 00:10 on the 11th local (still the 10th in UTC)
    expect(await signIn()).toMatchObject({ progressed: true, progress: 2 });
    clock.set('2026-03-12T01:00:00Z'); // 09:00 on the 12th
    const third = await signIn();
    expect(third).toMatchObject({ progressed: true, progress: 3, completions: 1 });
    expect(third.completed[0].grant_status).toBe('GRANTED');
    clock.set('2026-03-13T20:00:00Z'); // 04:00 on the 14th: the 13th was missed, the streak reads 0
    expect(must(await t.call('GET', '/v1/users/u1/tasks'), 200).body.tasks[0]).toMatchObject({ progress: 0, completions: 1 });
    clock.set('2026-03-14T01:00:00Z'); // the 13th missed: the streak starts again
    expect(await signIn()).toMatchObject({ progressed: true, progress: 1, completions: 1, completed: [] });
    await env.app.close();
  });

  it('a late event counts on the day it happened (occurred_at); an out-of-order earlier day does not', async () => {
    const { env, t, campaignId } = await setup('2026-03-12T12:00:00Z');
    const task = await linkedTask(t, campaignId, { condition: { type: 'consecutive_days', target: 5 } });
    const at = (occurred_at: string) => outcomeOf(t, task.task_id, { event_type: 'SIGN_IN', user_id: 'u1', event_id: ev(), occurred_at });
    expect(await at('2026-03-10T10:00:00Z')).toMatchObject({ progress: 1 });
    expect(await at('2026-03-11T10:00:00Z')).toMatchObject({ progress: 2 });
    expect(await at('2026-03-10T11:00:00Z')).toMatchObject({ progressed: false, reason: 'day_already_counted', progress: 2 });
    const future = await trigger(t, { event_type: 'SIGN_IN', user_id: 'u1', occurred_at: '2026-03-13T12:00:00Z' });
    expect({ status: future.status, code: future.body.error.code, field: future.body.error.details.field }).toEqual({ status: 400, code: 'invalid_request', field: 'occurred_at' });
    await env.app.close();
  });
});

describe('repeat policies', () => {
  it('DAILY: once per local day, again the next day', async () => {
    const { clock, env, t, campaignId } = await setup('2026-03-10T15:00:00Z');
    const task = await linkedTask(t, campaignId, { repeat: 'DAILY', time_zone: 'Asia/Shanghai' });
    const go = () => outcomeOf(t, task.task_id, { event_type: 'SIGN_IN', user_id: 'u1', event_id: ev() });
    expect(await go()).toMatchObject({ period_key: '2026-03-10', completions: 1 });
    expect(await go()).toMatchObject({ period_key: '2026-03-10', progressed: false, reason: 'already_completed' });
    clock.advance(60 * 60_000); // 00:00 the 11th in Shanghai
    expect(await go()).toMatchObject({ period_key: '2026-03-11', completions: 1, progressed: true });
    await env.app.close();
  });

  it('WEEKLY counts ISO weeks and MONTHLY calendar months in the task zone', async () => {
    const { clock, env, t, campaignId } = await setup('2026-03-15T12:00:00Z'); // Sunday
    const weekly = await linkedTask(t, campaignId, { repeat: 'WEEKLY', event_type: 'W' });
    const monthly = await linkedTask(t, campaignId, { repeat: 'MONTHLY', event_type: 'M', time_zone: 'America/New_York' });
    const go = (type: string, id: string) => outcomeOf(t, id, { event_type: type, user_id: 'u1', event_id: ev() });
    expect(await go('W', weekly.task_id)).toMatchObject({ period_key: '2026-W11', completions: 1 });
    expect(await go('W', weekly.task_id)).toMatchObject({ reason: 'already_completed' });
    clock.set('2026-03-16T00:30:00Z'); // Monday
    expect(await go('W', weekly.task_id)).toMatchObject({ period_key: '2026-W12', progressed: true });
    clock.set('2026-04-01T03:00:00Z'); // still March 31st in New York
    expect(await go('M', monthly.task_id)).toMatchObject({ period_key: '2026-03', progressed: true });
    expect(await go('M', monthly.task_id)).toMatchObject({ reason: 'already_completed' });
    clock.set('2026-04-01T05:00:00Z'); // April 1st in New York
    expect(await go('M', monthly.task_id)).toMatchObject({ period_key: '2026-04', progressed: true });
    await env.app.close();
  });

  it('UNLIMITED without a cap completes every N events', async () => {
    const { env, t, campaignId } = await setup();
    const task = await linkedTask(t, campaignId, { repeat: 'UNLIMITED', condition: { type: 'count', target: 2 } });
    const results = [];
    for (let i = 0; i < 7; i++) results.push(await outcomeOf(t, task.task_id, { event_type: 'SIGN_IN', user_id: 'u1', event_id: ev() }));
    expect(results.map((r) => r.completions)).toEqual([0, 1, 1, 2, 2, 3, 3]);
    await env.app.close();
  });

  it('only tasks in their own window and linked to an ACTIVE campaign progress', async () => {
    const { clock, env, t, campaignId } = await setup('2026-03-10T00:00:00Z');
    const later = await linkedTask(t, campaignId, { start_time: '2026-03-11T00:00:00Z' });
    const res = must(await trigger(t, { event_type: 'SIGN_IN', user_id: 'u1' }), 200).body;
    expect(res.tasks).toEqual([]);
    clock.set('2026-03-11T00:00:01Z');
    expect(must(await trigger(t, { event_type: 'SIGN_IN', user_id: 'u1' }), 200).body.tasks).toHaveLength(1);
    must(await t.call('POST', `/v1/campaigns/${campaignId}/pause`), 200);
    expect(must(await trigger(t, { event_type: 'SIGN_IN', user_id: 'u2' }), 200).body.tasks).toEqual([]);
    must(await t.call('POST', `/v1/campaigns/${campaignId}/resume`), 200);
    const unlinked = must(await t.call('POST', '/v1/tasks', { task_name: 'x', task_type: 'CUSTOM', event_type: 'SIGN_IN', condition: { type: 'count', target: 1 }, product_code: t.productCode }), 201).body;
    const ids = must(await trigger(t, { event_type: 'SIGN_IN', user_id: 'u3' }), 200).body.tasks.map((x: any) => x.task_id);
    expect(ids).toEqual([later.task_id]);
    expect(ids).not.toContain(unlinked.task_id);
    await env.app.close();
  });
});

describe('event ids, grants and reports', () => {
  it('a repeated event_id changes nothing and answers the first answer; reused for another event is 409', async () => {
    const { env, t, campaignId, rewardId } = await setup();
    const task = await linkedTask(t, campaignId, { repeat: 'UNLIMITED', reward_id: rewardId });
    const first = must(await trigger(t, { event_type: 'SIGN_IN', user_id: 'u1', event_id: 'same' }), 200).body;
    const again = must(await trigger(t, { event_type: 'SIGN_IN', user_id: 'u1', event_id: 'same' }), 200).body;
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ ...first, duplicate: true });
    expect(await pointsOf(t, 'u1')).toBe(10);
    const other = await trigger(t, { event_type: 'SIGN_IN', user_id: 'u2', event_id: 'same' });
    expect({ status: other.status, code: other.body.error.code }).toEqual({ status: 409, code: 'event_id_reused' });
    const logs = must(await t.call('GET', '/v1/task-completion-logs', undefined, { query: { task_id: task.task_id } }), 200).body;
    expect(logs.pagination.total).toBe(1);
    await env.app.close();
  });

  it('a refused grant leaves the completion recorded with the refusal reason, and nothing of the grant', async () => {
    const { env, t, campaignId, rewardId } = await setup();
    // Stock of 1: the first completion gets it, the second is refused inventory_exhausted.
    const { rewardId: scarce } = await taskCampaign(t, { total_stock: 1 });
    void rewardId;
    const scarceCampaign = (await t.call('GET', `/v1/rewards/${scarce}`)).body.campaign_id;
    const task = await linkedTask(t, scarceCampaign, { reward_id: scarce });
    void campaignId;
    const a = await outcomeOf(t, task.task_id, { event_type: 'SIGN_IN', user_id: 'u1', event_id: ev() });
    const b = await outcomeOf(t, task.task_id, { event_type: 'SIGN_IN', user_id: 'u2', event_id: ev() });
    expect(a.completed[0]).toMatchObject({ grant_status: 'GRANTED' });
    expect(b.completed[0]).toMatchObject({ grant_status: 'REFUSED', grant_id: null, grant_error: { code: 'inventory_exhausted' } });
    expect(await pointsOf(t, 'u2')).toBe(0);
    const grants = must(await t.call('GET', '/v1/reward-grants', undefined, { query: { reward_id: scarce } }), 200).body;
    expect(grants.pagination.total).toBe(1);
    const logs = must(await t.call('GET', '/v1/task-completion-logs', undefined, { query: { user_id: 'u2' } }), 200).body.task_completion_logs;
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ grant_status: 'REFUSED', grant_error: { code: 'inventory_exhausted' } });
    const stats = must(await t.call('GET', `/v1/tasks/${task.task_id}/completion-stats`), 200).body;
    expect(stats).toMatchObject({ completions: 2, unique_users: 2, rewards_granted: 1, grants_refused: 1 });
    expect(stats.by_day).toEqual([{ day: '2026-03-10', completions: 2, unique_users: 2, rewards_granted: 1, grants_refused: 1 }]);
    await env.app.close();
  });

  it('logs filter by task, campaign, user and time; the user view shows progress on every active task', async () => {
    const { clock, env, t, campaignId } = await setup('2026-03-10T10:00:00Z');
    const a = await linkedTask(t, campaignId, { event_type: 'A', repeat: 'DAILY' });
    const b = await linkedTask(t, campaignId, { event_type: 'B', condition: { type: 'count', target: 3 } });
    await trigger(t, { event_type: 'A', user_id: 'u1' });
    clock.set('2026-03-11T10:00:00Z');
    await trigger(t, { event_type: 'A', user_id: 'u1' });
    await trigger(t, { event_type: 'A', user_id: 'u2' });
    await trigger(t, { event_type: 'B', user_id: 'u1' });
    const q = (query: Record<string, string>) => t.call('GET', '/v1/task-completion-logs', undefined, { query }).then((r) => must(r, 200).body.pagination.total);
    expect(await q({ task_id: a.task_id })).toBe(3);
    expect(await q({ task_id: b.task_id })).toBe(0);
    expect(await q({ campaign_id: campaignId, user_id: 'u1' })).toBe(2);
    expect(await q({ completed_from: '2026-03-11T00:00:00Z' })).toBe(2);
    expect(await q({ completed_to: '2026-03-11T00:00:00Z' })).toBe(1);
    const page = must(await t.call('GET', '/v1/task-completion-logs', undefined, { query: { page_size: 1, page: 2 } }), 200).body;
    expect(page.task_completion_logs).toHaveLength(1);
    const stats = must(await t.call('GET', `/v1/tasks/${a.task_id}/completion-stats`), 200).body;
    expect(stats.by_day.map((d: any) => [d.day, d.completions, d.unique_users])).toEqual([['2026-03-10', 1, 1], ['2026-03-11', 2, 2]]);
    const mine = must(await t.call('GET', '/v1/users/u1/tasks'), 200).body.tasks;
    const byId = Object.fromEntries(mine.map((x: any) => [x.task.task_id, x]));
    expect(byId[a.task_id]).toMatchObject({ period_key: '2026-03-11', completions: 1, completed: true, campaign_ids: [campaignId] });
    expect(byId[b.task_id]).toMatchObject({ progress: 1, target: 3, completed: false });
    await env.app.close();
  });

  it('batch: per-event results, duplicates inside and across batches, bad events do not fail the batch', async () => {
    const { env, t, campaignId, rewardId } = await setup();
    const task = await linkedTask(t, campaignId, { condition: { type: 'count', target: 2 }, repeat: 'UNLIMITED', reward_id: rewardId });
    const events = [
      { event_type: 'SIGN_IN', user_id: 'u1', event_id: 'b1' },
      { event_type: 'SIGN_IN', user_id: 'u1', event_id: 'b2' },
      { event_type: 'SIGN_IN', user_id: 'u1', event_id: 'b1' },
      { event_type: 'SIGN_IN', user_id: 'u2', event_id: 'b3', occurred_at: '2099-01-01T00:00:00Z' },
      { event_type: 'SIGN_IN', user_id: 7, event_id: 'b4' },
    ];
    const res = must(await t.call('POST', '/v1/tasks/trigger/batch', { events }), 200).body.results;
    expect(res.map((r: any) => [r.index, r.ok, r.result?.duplicate ?? null, r.error?.code ?? null])).toEqual([
      [0, true, false, null],
      [1, true, false, null],
      [2, true, true, null],
      [3, false, null, 'invalid_request'],
      [4, true, false, null],
    ]);
    expect(res[1].result.tasks[0]).toMatchObject({ task_id: task.task_id, completions: 1 });
    expect(res[2].result.tasks).toEqual(res[0].result.tasks);
    expect(await pointsOf(t, 'u1')).toBe(10);
    const again = must(await t.call('POST', '/v1/tasks/trigger/batch', { events: events.slice(0, 2) }), 200).body.results;
    expect(again.map((r: any) => r.result.duplicate)).toEqual([true, true]);
    expect(again[1].result).toEqual({ ...res[1].result, duplicate: true });
    expect(await pointsOf(t, 'u1')).toBe(10);
    await env.app.close();
  });
});
