import type { Executor } from '../../db/client.js';
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

/**
 * What grants need of the audiences module: is the user in the audience now, and why (or why
 * not); null when the tenant has no such audience.
 */
export interface AudienceCheck {
  findMembership(tenantId: string, audienceId: string, userId: string, exec?: Executor): Promise<{ member: boolean; reasons: string[] } | null>;
}

/**
 * The refusal a campaign's audience gives the user, if any (null: a member). An audience that is
 * gone (a campaign stored before references were checked, issue 17 item 5) refuses the grant
 * with audience_missing, a state of the campaign to fix, not a 404 of something the caller named.
 */
export async function audienceRefusal(
  check: AudienceCheck | undefined,
  campaign: { tenant_id: string; campaign_id: string; audience_id: string },
  userId: string,
  exec: Executor,
): Promise<Refusal | null> {
  const { tenant_id: tenantId, campaign_id: campaignId, audience_id: audienceId } = campaign;
  if (!check) {
    return { code: 'audience_check_unavailable', message: 'The campaign has an audience, and no audience check is configured', details: { audience_id: audienceId } };
  }
  const found = await check.findMembership(tenantId, audienceId, userId, exec);
  if (!found) {
    return {
      code: 'audience_missing',
      message: `Campaign ${campaignId} names audience ${audienceId}, which does not exist; point the campaign at an existing audience`,
      details: { campaign_id: campaignId, audience_id: audienceId },
    };
  }
  return found.member ? null : { code: 'not_in_audience', message: "The user is not in the campaign's audience", details: { audience_id: audienceId, reasons: found.reasons } };
}
