import { Counter, type Registry } from 'prom-client';

export { createRewardService, type RewardService } from './reward.service.js';
export { rewardRoutes } from './reward.routes.js';
export { findRewardDistributor } from './reward.distributor.js';
export { liveRewardKeys } from './reward.live.js';
export type { RewardConfig, Period, ValidatorConfig, DistributorConfig } from './reward.config.js';
export { couponTemplateOf } from './reward.config.js';
export type { RewardRow } from './reward.repo.js';
export type { RewardType } from './reward.tables.js';

export function rewardMetrics(registry: Registry) {
  return {
    created: new Counter({ name: 'marketing_reward_created_total', help: 'Rewards created', labelNames: ['reward_type'] as const, registers: [registry] }),
  };
}
