import { newCampaign } from './factories.js';
import { must, type TenantFixture } from './test-app.js';

/** A published (ACTIVE) campaign and a POINTS reward of it (unlimited stock unless given). */
export async function taskCampaign(t: TenantFixture, o: { points?: number; total_stock?: number | null; campaign?: Record<string, unknown>; validator?: Record<string, unknown> } = {}) {
  const campaign = await newCampaign(t, o.campaign ?? {});
  must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`), 200);
  const reward = must(
    await t.call('POST', '/v1/rewards', {
      reward_name: 'Task reward',
      reward_type: 'POINTS',
      product_code: t.productCode,
      campaign_id: campaign.campaign_id,
      total_stock: o.total_stock === undefined ? null : o.total_stock,
      config: { generator: { points: o.points ?? 10 }, ...(o.validator ? { validator: o.validator } : {}) },
    }),
    201,
  ).body as { reward_id: string };
  return { campaignId: campaign.campaign_id as string, rewardId: reward.reward_id };
}

export function taskBody(overrides: Record<string, unknown> = {}) {
  return { task_name: 'Sign in', task_type: 'SIGN_IN', event_type: 'SIGN_IN', product_code: 'app1', condition: { type: 'count', target: 1 }, ...overrides };
}

/** Creates a task and links it to the campaign; returns the task. */
export async function linkedTask(t: TenantFixture, campaignId: string, overrides: Record<string, unknown> = {}) {
  const task = must(await t.call('POST', '/v1/tasks', taskBody({ product_code: t.productCode, ...overrides })), 201).body;
  must(await t.call('POST', `/v1/campaigns/${campaignId}/tasks`, { task_id: task.task_id }), 201);
  return task as Record<string, any> & { task_id: string };
}

export const trigger = (t: TenantFixture, body: Record<string, unknown>) => t.call('POST', '/v1/tasks/trigger', { product_code: t.productCode, ...body });

/** Triggers and returns the outcome for one task. */
export async function outcomeOf(t: TenantFixture, taskId: string, body: Record<string, unknown>) {
  const res = must(await trigger(t, body), 200).body;
  return (res.tasks as Record<string, any>[]).find((x) => x.task_id === taskId)!;
}
