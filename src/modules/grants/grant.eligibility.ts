import type { Executor } from '../../db/client.js';
import type { AppError } from '../../platform/errors.js';
import type { RewardConfig, RewardRow } from '../rewards/index.js';
import { grantErrors, grantRefusals, type Refusal } from './grant.errors.js';

export type { Refusal } from './grant.errors.js';

/**
 * The checks that need no counters: the reward's own window and the quantity against its limit.
 * The grant and the eligibility check both call this, so they can never disagree.
 */
export function evaluateStatic(reward: RewardRow, config: RewardConfig, quantity: number, now: Date): Refusal | null {
  if (reward.valid_from && reward.valid_from.getTime() > now.getTime()) {
    return grantRefusals.rewardNotStarted(reward.valid_from);
  }
  if (reward.valid_until && reward.valid_until.getTime() <= now.getTime()) {
    return grantRefusals.rewardExpired(reward.valid_until);
  }
  const limit = config.validator.per_user_limit;
  if (limit !== undefined && quantity > limit) {
    return grantRefusals.quantityAboveLimit(quantity, limit);
  }
  return null;
}

export function refusalError(r: Refusal): AppError {
  return grantErrors.fromRefusal(r);
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
    return grantRefusals.audienceCheckUnavailable(audienceId);
  }
  const found = await check.findMembership(tenantId, audienceId, userId, exec);
  if (!found) {
    return grantRefusals.audienceMissing(campaignId, audienceId);
  }
  return found.member ? null : grantRefusals.notInAudience(audienceId, found.reasons);
}
