import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { pointsOf } from '../../../test/helpers/redeem-code-helpers.js';
import { linkedTask, taskCampaign } from '../../../test/helpers/task-helpers.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import type { Executor } from '../../db/client.js';
import type { TenantActor } from '../../platform/actor.js';
import { type AudienceCheck, createTaskService, taskMetrics } from './index.js';

/**
 * TEST DOUBLE for the audiences module (out of this module's scope): members are a set the test
 * fills in. It records every call so the tests can see the trigger asked, with which arguments.
 */
class InMemoryAudiences implements AudienceCheck {
  readonly members = new Set<string>();
  readonly calls: { tenantId: string; audienceId: string; userId: string; inTransaction: boolean }[] = [];
  add(audienceId: string, userId: string) {
    this.members.add(`${audienceId}/${userId}`);
  }
  async checkMember(tenantId: string, audienceId: string, userId: string, exec?: Executor) {
    this.calls.push({ tenantId, audienceId, userId, inTransaction: exec?.isTransaction ?? false });
    const member = this.members.has(`${audienceId}/${userId}`);
    return { member, reasons: member ? ['in_test_set'] : [] };
  }
}

async function setup() {
  const env = await testApp();
  const t = await env.newTenant();
  const audiences = new InMemoryAudiences();
  // The real services of the app, with the audience check the real wiring will pass at merge.
  const tasks = createTaskService({ ...env.app.services, audiences, metrics: taskMetrics(new Registry()) });
  const actor: TenantActor = { kind: 'tenant', tenantId: t.tenantId, keyId: 'k', role: 'service', productCodes: null };
  return { env, t, audiences, tasks, actor };
}

describe('audience gating', () => {
  it('a user outside the campaign audience does not progress (not_in_audience); a member does', async () => {
    const { t, audiences, tasks, actor } = await setup();
    const { campaignId, rewardId } = await taskCampaign(t, { campaign: { audience_id: 'aud_vip' } });
    const task = await linkedTask(t, campaignId, { reward_id: rewardId });
    audiences.add('aud_vip', 'vip1');

    const outsider = await tasks.trigger(actor, { event_type: 'SIGN_IN', user_id: 'nobody', product_code: t.productCode }, undefined);
    expect(outsider.tasks).toEqual([expect.objectContaining({ task_id: task.task_id, progressed: false, reason: 'not_in_audience', progress: 0, completed: [] })]);
    const member = await tasks.trigger(actor, { event_type: 'SIGN_IN', user_id: 'vip1', product_code: t.productCode }, undefined);
    expect(member.tasks[0]).toMatchObject({ progressed: true, campaign_id: campaignId, completions: 1 });
    expect(await pointsOf(t, 'vip1')).toBe(10);
    expect(await pointsOf(t, 'nobody')).toBe(0);
    expect(audiences.calls).toEqual([
      { tenantId: t.tenantId, audienceId: 'aud_vip', userId: 'nobody', inTransaction: true },
      { tenantId: t.tenantId, audienceId: 'aud_vip', userId: 'vip1', inTransaction: true },
    ]);
  });

  it('a task in two campaigns progresses for the first (by sort_order) whose audience holds the user', async () => {
    const { t, audiences, tasks, actor } = await setup();
    const { campaignId: gated } = await taskCampaign(t, { campaign: { audience_id: 'aud_a' } });
    const open = await newCampaign(t);
    must(await t.call('POST', `/v1/campaigns/${open.campaign_id}/publish`), 200);
    const task = await linkedTask(t, gated, {});
    must(await t.call('POST', `/v1/campaigns/${open.campaign_id}/tasks`, { task_id: task.task_id, sort_order: 5 }), 201);
    audiences.add('aud_a', 'a1');
    const r1 = await tasks.trigger(actor, { event_type: 'SIGN_IN', user_id: 'a1' }, undefined);
    const r2 = await tasks.trigger(actor, { event_type: 'SIGN_IN', user_id: 'b1' }, undefined);
    const inA = r1.tasks[0]!;
    const notInA = r2.tasks[0]!;
    expect(inA).toMatchObject({ progressed: true, campaign_id: gated }); // sort_order 0 before 5
    expect(notInA).toMatchObject({ progressed: true, campaign_id: open.campaign_id });
  });

  it('without an audience check wired, a campaign with an audience lets nobody progress (fail closed)', async () => {
    const { t } = await setup();
    const { campaignId } = await taskCampaign(t, { campaign: { audience_id: 'aud_x' } });
    await linkedTask(t, campaignId, {});
    const res = must(await t.call('POST', '/v1/tasks/trigger', { event_type: 'SIGN_IN', user_id: 'u1' }), 200).body;
    expect(res.tasks[0]).toMatchObject({ progressed: false, reason: 'audience_check_unavailable' });
  });

  it('batch: membership gates each event', async () => {
    const { t, audiences, tasks, actor } = await setup();
    const { campaignId } = await taskCampaign(t, { campaign: { audience_id: 'aud_b' } });
    await linkedTask(t, campaignId, { repeat: 'UNLIMITED' });
    audiences.add('aud_b', 'in');
    const { results } = await tasks.triggerBatch(actor, { events: [{ event_type: 'SIGN_IN', user_id: 'in' }, { event_type: 'SIGN_IN', user_id: 'out' }, { event_type: 'SIGN_IN', user_id: 'in' }] }, undefined);
    expect(results.map((r) => r.result!.tasks[0]!.reason)).toEqual([null, 'not_in_audience', null]);
    expect(results[2]!.result!.tasks[0]!.completions).toBe(2);
  });
});
