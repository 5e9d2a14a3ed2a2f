import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { pointsOf } from '../../../test/helpers/redeem-code-helpers.js';
import { linkedTask, taskCampaign } from '../../../test/helpers/task-helpers.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import type { TenantActor } from '../../platform/actor.js';
import { createTaskService, taskMetrics } from './index.js';

/** A LIST audience of the tenant holding `members` (the real audiences module). */
async function listAudience(t: Awaited<ReturnType<Awaited<ReturnType<typeof testApp>>['newTenant']>>, members: string[]): Promise<string> {
  const audience = must(await t.call('POST', '/v1/audiences', { audience_name: 'list', product_code: t.productCode, audience_type: 'LIST' }), 201).body;
  if (members.length > 0) must(await t.call('POST', `/v1/audiences/${audience.audience_id}/members`, { user_ids: members }), 200);
  return audience.audience_id as string;
}

async function setup() {
  const env = await testApp();
  const t = await env.newTenant();
  const actor: TenantActor = { kind: 'tenant', tenantId: t.tenantId, keyId: 'k', role: 'service', productCodes: null };
  return { env, t, tasks: env.app.services.tasks, actor };
}

describe('audience gating', () => {
  it('a user outside the campaign audience does not progress (not_in_audience); a member does', async () => {
    const { t, tasks, actor } = await setup();
    const vip = await listAudience(t, ['vip1']);
    const { campaignId, rewardId } = await taskCampaign(t, { campaign: { audience_id: vip } });
    const task = await linkedTask(t, campaignId, { reward_id: rewardId });

    const outsider = await tasks.trigger(actor, { event_type: 'SIGN_IN', user_id: 'nobody', product_code: t.productCode }, undefined);
    expect(outsider.tasks).toEqual([expect.objectContaining({ task_id: task.task_id, progressed: false, reason: 'not_in_audience', progress: 0, completed: [] })]);
    const member = await tasks.trigger(actor, { event_type: 'SIGN_IN', user_id: 'vip1', product_code: t.productCode }, undefined);
    expect(member.tasks[0]).toMatchObject({ progressed: true, campaign_id: campaignId, completions: 1 });
    expect(await pointsOf(t, 'vip1')).toBe(10);
    expect(await pointsOf(t, 'nobody')).toBe(0);
  });

  it('a task in two campaigns progresses for the first (by sort_order) whose audience holds the user', async () => {
    const { t, tasks, actor } = await setup();
    const a = await listAudience(t, ['a1']);
    const { campaignId: gated } = await taskCampaign(t, { campaign: { audience_id: a } });
    const open = await newCampaign(t);
    must(await t.call('POST', `/v1/campaigns/${open.campaign_id}/publish`), 200);
    const task = await linkedTask(t, gated, {});
    must(await t.call('POST', `/v1/campaigns/${open.campaign_id}/tasks`, { task_id: task.task_id, sort_order: 5 }), 201);
    const r1 = await tasks.trigger(actor, { event_type: 'SIGN_IN', user_id: 'a1' }, undefined);
    const r2 = await tasks.trigger(actor, { event_type: 'SIGN_IN', user_id: 'b1' }, undefined);
    expect(r1.tasks[0]!).toMatchObject({ progressed: true, campaign_id: gated }); // sort_order 0 before 5
    expect(r2.tasks[0]!).toMatchObject({ progressed: true, campaign_id: open.campaign_id });
  });

  it('without an audience check wired, a campaign with an audience lets nobody progress (fail closed)', async () => {
    const { env, t, actor } = await setup();
    const audience = await listAudience(t, ['u1']);
    const { campaignId } = await taskCampaign(t, { campaign: { audience_id: audience } });
    await linkedTask(t, campaignId, {});
    const unwired = createTaskService({ ...env.app.services, audiences: undefined, metrics: taskMetrics(new Registry()) });
    const res = await unwired.trigger(actor, { event_type: 'SIGN_IN', user_id: 'u1' }, undefined);
    expect(res.tasks[0]).toMatchObject({ progressed: false, reason: 'audience_check_unavailable' });
  });

  it('batch: membership gates each event', async () => {
    const { t, tasks, actor } = await setup();
    const b = await listAudience(t, ['in']);
    const { campaignId } = await taskCampaign(t, { campaign: { audience_id: b } });
    await linkedTask(t, campaignId, { repeat: 'UNLIMITED' });
    const { results } = await tasks.triggerBatch(actor, { events: [{ event_type: 'SIGN_IN', user_id: 'in' }, { event_type: 'SIGN_IN', user_id: 'out' }, { event_type: 'SIGN_IN', user_id: 'in' }] }, undefined);
    expect(results.map((r) => r.result!.tasks[0]!.reason)).toEqual([null, 'not_in_audience', null]);
    expect(results[2]!.result!.tasks[0]!.completions).toBe(2);
  });
});
