import type { Executor } from '../../db/client.js';
import type { DistributorConfig, RewardConfig } from './reward.config.js';

/**
 * How a reward's grants are delivered, for the grants module's delivery job: the distributor in
 * the reward's config, or null for an unknown reward. A deleted reward still answers, so grants
 * made before its deletion are still delivered.
 */
export async function findRewardDistributor(exec: Executor, tenantId: string, rewardId: string): Promise<DistributorConfig | null> {
  const row = await exec.selectFrom('reward').select('config').where('tenant_id', '=', tenantId).where('reward_id', '=', rewardId).executeTakeFirst();
  return (row?.config as RewardConfig | undefined)?.distributor ?? null;
}
