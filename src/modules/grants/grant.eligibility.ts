import { AppError } from '../../platform/errors.js';
import type { RewardConfig, RewardRow } from '../rewards/index.js';

/** A machine-readable reason why a grant would be (or was) refused. */
export interface Refusal {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

/**
 * The checks that need no counters: the reward's own window and the quantity against its limit.
 * The grant and the eligibility check both call this, so they can never disagree.
 */
export function evaluateStatic(reward: RewardRow, config: RewardConfig, quantity: number, now: Date): Refusal | null {
  if (reward.valid_from && reward.valid_from.getTime() > now.getTime()) {
    return { code: 'reward_not_started', message: `Reward is valid from ${reward.valid_from.toISOString()}`, details: { valid_from: reward.valid_from.toISOString() } };
  }
  if (reward.valid_until && reward.valid_until.getTime() <= now.getTime()) {
    return { code: 'reward_expired', message: `Reward was valid until ${reward.valid_until.toISOString()}`, details: { valid_until: reward.valid_until.toISOString() } };
  }
  const limit = config.validator.per_user_limit;
  if (limit !== undefined && quantity > limit) {
    return { code: 'per_user_limit_reached', message: `quantity ${quantity} is above the per-user limit ${limit}`, details: { per_user_limit: limit, quantity } };
  }
  return null;
}

export function refusalError(r: Refusal): AppError {
  return new AppError('conflict', r.code, r.message, r.details);
}
