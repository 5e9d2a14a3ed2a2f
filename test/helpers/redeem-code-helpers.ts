import { expect } from 'vitest';
import { newCampaign } from './factories.js';
import { must, type Reply, type TenantFixture } from './test-app.js';

export function expectError(reply: Reply, status: number, code: string, details?: Record<string, unknown>) {
  expect({ status: reply.status, code: reply.body?.error?.code }, JSON.stringify(reply.body)).toEqual({ status, code });
  if (details) expect(reply.body.error.details).toMatchObject(details);
}

/** A published (ACTIVE) campaign and a POINTS reward of it with unlimited stock. */
export async function codeCampaign(t: TenantFixture, o: { points?: number; total_stock?: number | null; campaign?: Record<string, unknown> } = {}) {
  const campaign = await newCampaign(t, o.campaign ?? {});
  must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`), 200);
  const reward = must(
    await t.call('POST', '/v1/rewards', {
      reward_name: 'Code reward',
      reward_type: 'POINTS',
      product_code: t.productCode,
      campaign_id: campaign.campaign_id,
      total_stock: o.total_stock === undefined ? null : o.total_stock,
      config: { generator: { points: o.points ?? 10 } },
    }),
    201,
  ).body as { reward_id: string };
  return { campaignId: campaign.campaign_id as string, rewardId: reward.reward_id };
}

/** Creates a batch through the API; returns the reply. */
export function createBatch(t: TenantFixture, campaignId: string, body: Record<string, unknown>, headers?: Record<string, string>) {
  return t.call('POST', `/v1/campaigns/${campaignId}/redeem-codes`, { code_type: 'ALPHANUM', length: 12, count: 1, ...body }, headers ? { headers } : {});
}

/** A campaign, its reward and a synchronous batch; returns the batch (with its codes). */
export async function newBatch(t: TenantFixture, body: Record<string, unknown> = {}) {
  const { campaignId, rewardId } = await codeCampaign(t);
  const batch = must(await createBatch(t, campaignId, { reward_id: rewardId, ...body }), 201).body;
  return { campaignId, rewardId, batch: batch as Record<string, any> & { batch_id: string; codes: string[] } };
}

export const redeem = (t: TenantFixture, body: Record<string, unknown>, headers?: Record<string, string>) =>
  t.call('POST', '/v1/redeem', body, headers ? { headers } : {});

export async function pointsOf(t: TenantFixture, userId: string): Promise<number> {
  const body = must(await t.call('GET', `/v1/users/${userId}/balances`), 200).body;
  return (body.balances as { asset: string; balance: number }[]).find((b) => b.asset === 'POINTS')!.balance;
}
