import { describe, expect, it } from 'vitest';
import { pointsOf } from '../../../test/helpers/redeem-code-helpers.js';
import { linkedTask, taskCampaign, trigger } from '../../../test/helpers/task-helpers.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { ManualClock } from '../../platform/clock.js';

/** The events of the mix, per user: every condition kind, repeats, filters, a bad amount, a repeated id. */
function eventsOf(late: boolean): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = [];
  for (const user of ['u1', 'u2', 'u3']) {
    events.push({ event_type: 'C', user_id: user, event_id: `${user}-c1`, event_data: { vip: user === 'u2' } });
    events.push({ event_type: 'A', user_id: user, event_id: `${user}-a1`, event_data: { amount: 700 } });
    events.push({ event_type: 'C', user_id: user, event_id: `${user}-c2` });
    events.push({ event_type: 'A', user_id: user, event_id: `${user}-a2`, event_data: { amount: 2500 } });
    events.push({ event_type: 'D', user_id: user, event_id: `${user}-d1`, event_data: { ch: 'x' } });
    events.push({ event_type: 'D', user_id: user, event_id: `${user}-d2`, event_data: { ch: 'x' } });
    events.push({ event_type: 'D', user_id: user, event_id: `${user}-d3`, event_data: { ch: 'y' } });
    if (late) events.push({ event_type: 'S', user_id: user, event_id: `${user}-s1`, occurred_at: '2026-03-09T12:00:00Z' });
    events.push({ event_type: 'S', user_id: user, event_id: `${user}-s2` });
    events.push({ event_type: 'S', user_id: user, event_id: `${user}-s3` });
    events.push({ event_type: 'C', user_id: user, event_id: `${user}-c3` });
    events.push({ event_type: 'C', user_id: user, event_id: `${user}-c4` });
    events.push({ event_type: 'A', user_id: user, event_id: `${user}-a3`, event_data: { amount: 'bad' } });
    events.push({ event_type: 'C', user_id: user, event_id: `${user}-c1` });
  }
  return events;
}

describe('one path for one event or many', () => {
  // With a late streak day the batch runs its tasks' upserts one by one (a key that saw two days);
  // without it, every task's upsert goes in one statement.
  it.each([
    ['with a late streak day', true],
    ['all on one day', false],
  ])('the same events give the same answers, progress, completions and grants either way (%s)', async (_name, late) => {
    const clock = new ManualClock('2026-03-10T12:00:00Z');
    const env = await testApp({ clock });
    // 'split': two batches, the first ending after u1's second streak day, so the second meets
    // periods the first used up (answered without an upsert).
    const run = async (mode: 'single' | 'batch' | 'split') => {
      const t = await env.newTenant();
      const { campaignId, rewardId } = await taskCampaign(t, { points: 3 });
      const specs = [
        { event_type: 'C', condition: { type: 'count', target: 2 }, repeat: 'UNLIMITED', max_completions: 3, reward_id: rewardId },
        { event_type: 'A', condition: { type: 'amount_sum', target: 1000 }, repeat: 'UNLIMITED', reward_id: rewardId },
        { event_type: 'D', condition: { type: 'distinct', target: 2, field: 'ch' }, repeat: 'DAILY' },
        { event_type: 'S', condition: { type: 'consecutive_days', target: 2 }, repeat: 'ONCE', reward_id: rewardId },
        { event_type: 'C', condition: { type: 'count', target: 1, filters: { vip: true } }, repeat: 'ONCE' },
        { event_type: 'A', condition: { type: 'count', target: 1 }, repeat: 'ONCE' },
      ];
      const ids: string[] = [];
      for (const spec of specs) ids.push((await linkedTask(t, campaignId, spec)).task_id);
      const events = eventsOf(late);
      let answers: any[];
      if (mode !== 'single') {
        const cut = events.findIndex((e) => e.event_id === 'u1-s2') + 1;
        const parts = mode === 'batch' ? [events] : [events.slice(0, cut), events.slice(cut)];
        answers = [];
        for (const part of parts) answers.push(...must(await t.call('POST', '/v1/tasks/trigger/batch', { events: part }), 200).body.results.map((r: any) => r.result));
      } else {
        answers = [];
        for (const e of events) answers.push(must(await trigger(t, e), 200).body);
      }
      // Ids differ between tenants: tasks are named by position, generated ids dropped.
      const shape = answers.map((a, i) => `${String(events[i]!.event_id)} ${a.duplicate ? 'dup' : 'new'}: ${a.tasks.map((x: any) => render(ids, x)).join(' | ')}`);
      const points = await Promise.all(['u1', 'u2', 'u3'].map((u) => pointsOf(t, u)));
      const logs = must(await t.call('GET', '/v1/task-completion-logs', undefined, { query: { page_size: 500 } }), 200).body.pagination.total;
      return { shape, points, logs };
    };
    const expected = late ? LATE : ONE_DAY;
    expect(await run('single')).toEqual(expected);
    expect(await run('batch')).toEqual(expected);
    expect(await run('split')).toEqual(expected);
    await env.app.close();
  });
});

/** One task's outcome on a line: task position, campaign, moved (+) or why not (-reason), period, progress, completions. */
function render(ids: string[], x: any): string {
  const completed = x.completed.length ? ` [${x.completed.map((c: any) => `${c.seq}:${c.grant_status}`).join(',')}]` : '';
  return `t${ids.indexOf(x.task_id)} ${x.campaign_id ? 'c' : '-'} ${x.progressed ? '+' : '-'}${x.reason ?? ''} ${x.period_key || '-'} ${x.progress}/${x.target} n${x.completions}${completed}`;
}

/**
 * The answers, in event order, that the single form (one upsert per task, before the one path)
 * gave for these events; period '-' is the one period of ONCE and UNLIMITED tasks.
 */
const LATE = {
  shape: [
    'u1-c1 new: t0 c + - 1/2 n0 | t4 - -filter_mismatch - 0/1 n0',
    'u1-a1 new: t1 c + - 700/1000 n0 | t5 c + - 1/1 n1 [1:NONE]',
    'u1-c2 new: t0 c + - 0/2 n1 [1:GRANTED] | t4 - -filter_mismatch - 0/1 n0',
    'u1-a2 new: t1 c + - 200/1000 n3 [1:GRANTED,2:GRANTED,3:GRANTED] | t5 c -already_completed - 1/1 n1',
    'u1-d1 new: t2 c + 2026-03-10 1/2 n0',
    'u1-d2 new: t2 c -value_already_counted 2026-03-10 1/2 n0',
    'u1-d3 new: t2 c + 2026-03-10 2/2 n1 [1:NONE]',
    'u1-s1 new: t3 c + - 1/2 n0',
    'u1-s2 new: t3 c + - 2/2 n1 [1:GRANTED]',
    'u1-s3 new: t3 c -already_completed - 2/2 n1',
    'u1-c3 new: t0 c + - 1/2 n1 | t4 - -filter_mismatch - 0/1 n0',
    'u1-c4 new: t0 c + - 0/2 n2 [2:GRANTED] | t4 - -filter_mismatch - 0/1 n0',
    'u1-a3 new: t1 c -invalid_amount - 200/1000 n3 | t5 c -already_completed - 1/1 n1',
    'u1-c1 dup: t0 c + - 1/2 n0 | t4 - -filter_mismatch - 0/1 n0',
    'u2-c1 new: t0 c + - 1/2 n0 | t4 c + - 1/1 n1 [1:NONE]',
    'u2-a1 new: t1 c + - 700/1000 n0 | t5 c + - 1/1 n1 [1:NONE]',
    'u2-c2 new: t0 c + - 0/2 n1 [1:GRANTED] | t4 - -filter_mismatch - 1/1 n1',
    'u2-a2 new: t1 c + - 200/1000 n3 [1:GRANTED,2:GRANTED,3:GRANTED] | t5 c -already_completed - 1/1 n1',
    'u2-d1 new: t2 c + 2026-03-10 1/2 n0',
    'u2-d2 new: t2 c -value_already_counted 2026-03-10 1/2 n0',
    'u2-d3 new: t2 c + 2026-03-10 2/2 n1 [1:NONE]',
    'u2-s1 new: t3 c + - 1/2 n0',
    'u2-s2 new: t3 c + - 2/2 n1 [1:GRANTED]',
    'u2-s3 new: t3 c -already_completed - 2/2 n1',
    'u2-c3 new: t0 c + - 1/2 n1 | t4 - -filter_mismatch - 1/1 n1',
    'u2-c4 new: t0 c + - 0/2 n2 [2:GRANTED] | t4 - -filter_mismatch - 1/1 n1',
    'u2-a3 new: t1 c -invalid_amount - 200/1000 n3 | t5 c -already_completed - 1/1 n1',
    'u2-c1 dup: t0 c + - 1/2 n0 | t4 c + - 1/1 n1 [1:NONE]',
    'u3-c1 new: t0 c + - 1/2 n0 | t4 - -filter_mismatch - 0/1 n0',
    'u3-a1 new: t1 c + - 700/1000 n0 | t5 c + - 1/1 n1 [1:NONE]',
    'u3-c2 new: t0 c + - 0/2 n1 [1:GRANTED] | t4 - -filter_mismatch - 0/1 n0',
    'u3-a2 new: t1 c + - 200/1000 n3 [1:GRANTED,2:GRANTED,3:GRANTED] | t5 c -already_completed - 1/1 n1',
    'u3-d1 new: t2 c + 2026-03-10 1/2 n0',
    'u3-d2 new: t2 c -value_already_counted 2026-03-10 1/2 n0',
    'u3-d3 new: t2 c + 2026-03-10 2/2 n1 [1:NONE]',
    'u3-s1 new: t3 c + - 1/2 n0',
    'u3-s2 new: t3 c + - 2/2 n1 [1:GRANTED]',
    'u3-s3 new: t3 c -already_completed - 2/2 n1',
    'u3-c3 new: t0 c + - 1/2 n1 | t4 - -filter_mismatch - 0/1 n0',
    'u3-c4 new: t0 c + - 0/2 n2 [2:GRANTED] | t4 - -filter_mismatch - 0/1 n0',
    'u3-a3 new: t1 c -invalid_amount - 200/1000 n3 | t5 c -already_completed - 1/1 n1',
    'u3-c1 dup: t0 c + - 1/2 n0 | t4 - -filter_mismatch - 0/1 n0',
  ],
  points: [18,18,18],
  logs: 25,
};
const ONE_DAY = {
  shape: [
    'u1-c1 new: t0 c + - 1/2 n0 | t4 - -filter_mismatch - 0/1 n0',
    'u1-a1 new: t1 c + - 700/1000 n0 | t5 c + - 1/1 n1 [1:NONE]',
    'u1-c2 new: t0 c + - 0/2 n1 [1:GRANTED] | t4 - -filter_mismatch - 0/1 n0',
    'u1-a2 new: t1 c + - 200/1000 n3 [1:GRANTED,2:GRANTED,3:GRANTED] | t5 c -already_completed - 1/1 n1',
    'u1-d1 new: t2 c + 2026-03-10 1/2 n0',
    'u1-d2 new: t2 c -value_already_counted 2026-03-10 1/2 n0',
    'u1-d3 new: t2 c + 2026-03-10 2/2 n1 [1:NONE]',
    'u1-s2 new: t3 c + - 1/2 n0',
    'u1-s3 new: t3 c -day_already_counted - 1/2 n0',
    'u1-c3 new: t0 c + - 1/2 n1 | t4 - -filter_mismatch - 0/1 n0',
    'u1-c4 new: t0 c + - 0/2 n2 [2:GRANTED] | t4 - -filter_mismatch - 0/1 n0',
    'u1-a3 new: t1 c -invalid_amount - 200/1000 n3 | t5 c -already_completed - 1/1 n1',
    'u1-c1 dup: t0 c + - 1/2 n0 | t4 - -filter_mismatch - 0/1 n0',
    'u2-c1 new: t0 c + - 1/2 n0 | t4 c + - 1/1 n1 [1:NONE]',
    'u2-a1 new: t1 c + - 700/1000 n0 | t5 c + - 1/1 n1 [1:NONE]',
    'u2-c2 new: t0 c + - 0/2 n1 [1:GRANTED] | t4 - -filter_mismatch - 1/1 n1',
    'u2-a2 new: t1 c + - 200/1000 n3 [1:GRANTED,2:GRANTED,3:GRANTED] | t5 c -already_completed - 1/1 n1',
    'u2-d1 new: t2 c + 2026-03-10 1/2 n0',
    'u2-d2 new: t2 c -value_already_counted 2026-03-10 1/2 n0',
    'u2-d3 new: t2 c + 2026-03-10 2/2 n1 [1:NONE]',
    'u2-s2 new: t3 c + - 1/2 n0',
    'u2-s3 new: t3 c -day_already_counted - 1/2 n0',
    'u2-c3 new: t0 c + - 1/2 n1 | t4 - -filter_mismatch - 1/1 n1',
    'u2-c4 new: t0 c + - 0/2 n2 [2:GRANTED] | t4 - -filter_mismatch - 1/1 n1',
    'u2-a3 new: t1 c -invalid_amount - 200/1000 n3 | t5 c -already_completed - 1/1 n1',
    'u2-c1 dup: t0 c + - 1/2 n0 | t4 c + - 1/1 n1 [1:NONE]',
    'u3-c1 new: t0 c + - 1/2 n0 | t4 - -filter_mismatch - 0/1 n0',
    'u3-a1 new: t1 c + - 700/1000 n0 | t5 c + - 1/1 n1 [1:NONE]',
    'u3-c2 new: t0 c + - 0/2 n1 [1:GRANTED] | t4 - -filter_mismatch - 0/1 n0',
    'u3-a2 new: t1 c + - 200/1000 n3 [1:GRANTED,2:GRANTED,3:GRANTED] | t5 c -already_completed - 1/1 n1',
    'u3-d1 new: t2 c + 2026-03-10 1/2 n0',
    'u3-d2 new: t2 c -value_already_counted 2026-03-10 1/2 n0',
    'u3-d3 new: t2 c + 2026-03-10 2/2 n1 [1:NONE]',
    'u3-s2 new: t3 c + - 1/2 n0',
    'u3-s3 new: t3 c -day_already_counted - 1/2 n0',
    'u3-c3 new: t0 c + - 1/2 n1 | t4 - -filter_mismatch - 0/1 n0',
    'u3-c4 new: t0 c + - 0/2 n2 [2:GRANTED] | t4 - -filter_mismatch - 0/1 n0',
    'u3-a3 new: t1 c -invalid_amount - 200/1000 n3 | t5 c -already_completed - 1/1 n1',
    'u3-c1 dup: t0 c + - 1/2 n0 | t4 - -filter_mismatch - 0/1 n0',
  ],
  points: [15,15,15],
  logs: 22,
};
