import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { linkedTask, taskCampaign, trigger } from '../../../test/helpers/task-helpers.js';
import { must, type TenantFixture, testApp, type TestApp } from '../../../test/helpers/test-app.js';
import type { Executor } from '../../db/client.js';
import { createCampaignPicker } from './task.audience.js';
import type { ActiveTaskRow } from './task.repo.js';

/**
 * A campaign whose audience_id names no audience, as rows stored before references were checked
 * can be: written with SQL, the foreign key's triggers off for this one
 * transaction (session_replication_role is local to it).
 */
async function dangle(env: TestApp, tenantId: string, campaignId: string, audienceId = 'aud_gone'): Promise<void> {
  await env.database.db.transaction().execute(async (trx) => {
    await sql`set local session_replication_role = replica`.execute(trx);
    await sql`update campaign set audience_id = ${audienceId} where tenant_id = ${tenantId} and campaign_id = ${campaignId}`.execute(trx);
  });
}

/** Two ACTIVE campaigns with a SIGN_IN task each (rewarded); the second one's audience is gone. */
async function healthyAndBroken(env: TestApp, t: TenantFixture) {
  const healthy = await taskCampaign(t);
  const broken = await taskCampaign(t);
  const healthyTask = await linkedTask(t, healthy.campaignId, { reward_id: healthy.rewardId, repeat: 'UNLIMITED' });
  const brokenTask = await linkedTask(t, broken.campaignId, { reward_id: broken.rewardId, repeat: 'UNLIMITED' });
  await dangle(env, t.tenantId, broken.campaignId);
  return { healthy, broken, healthyTask, brokenTask };
}

const byTask = (tasks: Record<string, any>[]) => Object.fromEntries(tasks.map((x) => [x.task_id, x]));

describe('a campaign whose audience is missing never stops the others', () => {
  it('single trigger: the healthy task progresses and is rewarded; the broken one is skipped with audience_missing', async () => {
    const env = await testApp();
    const t = await env.newTenant();
    const { healthy, broken, healthyTask, brokenTask } = await healthyAndBroken(env, t);
    const res = must(await trigger(t, { event_type: 'SIGN_IN', user_id: 'u1' }), 200).body;
    const tasks = byTask(res.tasks);
    expect(tasks[healthyTask.task_id]).toMatchObject({ progressed: true, reason: null, campaign_id: healthy.campaignId, completions: 1 });
    expect(tasks[healthyTask.task_id].completed[0]).toMatchObject({ grant_status: 'GRANTED' });
    expect(tasks[brokenTask.task_id]).toMatchObject({ progressed: false, reason: 'audience_missing', campaign_id: null, completions: 0, completed: [] });
    expect(broken.campaignId).not.toBe(healthy.campaignId);
  });

  it('batch trigger: every event answers; healthy tasks progress, broken ones say audience_missing', async () => {
    const env = await testApp();
    const t = await env.newTenant();
    const { healthyTask, brokenTask } = await healthyAndBroken(env, t);
    const events = ['u1', 'u2', 'u1'].map((user_id) => ({ event_type: 'SIGN_IN', user_id, product_code: t.productCode }));
    const res = must(await t.call('POST', '/v1/tasks/trigger/batch', { events }), 200).body;
    expect(res.results.map((r: { ok: boolean }) => r.ok)).toEqual([true, true, true]);
    const outcomes = res.results.map((r: { result: { tasks: Record<string, any>[] } }) => byTask(r.result.tasks));
    expect(outcomes.map((o: Record<string, any>) => o[healthyTask.task_id].completions)).toEqual([1, 1, 2]);
    expect(outcomes.map((o: Record<string, any>) => o[brokenTask.task_id].reason)).toEqual(['audience_missing', 'audience_missing', 'audience_missing']);
  });

  it('a task linked to a broken and a healthy campaign progresses for the healthy one', async () => {
    const env = await testApp();
    const t = await env.newTenant();
    const broken = await taskCampaign(t);
    const task = await linkedTask(t, broken.campaignId, {});
    const open = await newCampaign(t);
    must(await t.call('POST', `/v1/campaigns/${open.campaign_id}/publish`), 200);
    must(await t.call('POST', `/v1/campaigns/${open.campaign_id}/tasks`, { task_id: task.task_id, sort_order: 5 }), 201);
    await dangle(env, t.tenantId, broken.campaignId);
    const res = must(await trigger(t, { event_type: 'SIGN_IN', user_id: 'u1' }), 200).body;
    expect(res.tasks[0]).toMatchObject({ progressed: true, campaign_id: open.campaign_id });
  });

  it('a grant in the broken campaign is refused with 409 audience_missing (not a 404), and eligibility says so', async () => {
    const env = await testApp();
    const t = await env.newTenant();
    const { broken } = await healthyAndBroken(env, t);
    const r = await t.call('POST', '/v1/reward-grants', { reward_id: broken.rewardId, user_id: 'u1' });
    expect({ status: r.status, error: r.body.error }).toMatchObject({
      status: 409,
      error: { code: 'audience_missing', details: { campaign_id: broken.campaignId, audience_id: 'aud_gone' } },
    });
    const check = must(await t.call('POST', '/v1/reward-grants/check', { reward_id: broken.rewardId, user_id: 'u1' }), 200).body;
    expect(check.eligible).toBe(false);
    expect(check.reasons.map((x: { code: string }) => x.code)).toContain('audience_missing');
  });
});

describe('campaign picker: a missing audience is reported, not thrown', () => {
  it('passes over the broken link, warns once per campaign a minute (not once per event), and names the reason', async () => {
    const warnings: unknown[] = [];
    const pick = createCampaignPicker({
      audiences: { findMembership: async (_tenant, audienceId) => (audienceId === 'aud_gone' ? null : { member: true, reasons: [] }) },
      warn: (err) => warnings.push(err),
    });
    const link = (campaignId: string, audienceId: string) => ({ tenant_id: 't1', task_id: 'tsk_1', campaign_id: campaignId, audience_id: audienceId }) as ActiveTaskRow;
    const exec = {} as Executor;
    expect(await pick(exec, [link('cmp_broken', 'aud_gone')], 'u1', new Map())).toEqual({ campaignId: null, reason: 'audience_missing' });
    expect(await pick(exec, [link('cmp_broken', 'aud_gone')], 'u2', new Map())).toEqual({ campaignId: null, reason: 'audience_missing' });
    expect(await pick(exec, [link('cmp_broken', 'aud_gone'), link('cmp_ok', 'aud_ok')], 'u3', new Map())).toEqual({ campaignId: 'cmp_ok', reason: null });
    expect(warnings).toEqual([{ tenant_id: 't1', campaign_id: 'cmp_broken', audience_id: 'aud_gone', task_id: 'tsk_1' }]);
  });
});
