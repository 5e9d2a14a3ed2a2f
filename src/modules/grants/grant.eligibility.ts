import type { Executor } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import { AppError } from '../../platform/errors.js';
import { summarizeStock } from '../inventory/index.js';
import { couponTemplateOf, type RewardConfig, type RewardRow } from '../rewards/index.js';
import type { GrantContext } from './grant.context.js';
import { grantErrors, grantRefusals, type Refusal } from './grant.errors.js';
import { LAST_GRANT_KEY, periodKey } from './grant.period.js';
import * as repo from './grant.repo.js';
import type { EligibilityView, GrantInput } from './grant.schemas.js';

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
    return grantRefusals.perUserLimitReached(limit, config.validator.period ?? 'LIFETIME', quantity);
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
 * gone (a campaign stored before references were checked) refuses the grant
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

/** The campaign a grant belongs to: the reward's own, or the one named in the request. */
export function campaignOf(reward: RewardRow, input: GrantInput): string | null {
  if (reward.campaign_id && input.campaign_id && input.campaign_id !== reward.campaign_id) {
    throw grantErrors.campaignMismatch(reward.reward_id, reward.campaign_id);
  }
  return reward.campaign_id ?? input.campaign_id ?? null;
}

/** Runs the grant's checks without granting: {eligible, reasons} with machine-readable codes. */
export async function checkEligibility(ctx: GrantContext, actor: Actor, input: GrantInput, exec: Executor): Promise<EligibilityView> {
  const tenant = requireTenant(actor);
  const now = ctx.clock.now();
  const quantity = input.quantity ?? 1;
  const reward = await ctx.rewards.findForGrant(tenant, input.reward_id, exec);
  const config = reward.config as RewardConfig;
  const reasons: Refusal[] = [];
  const push = (r: Refusal | null) => r && reasons.push(r);
  const staticRefusal = evaluateStatic(reward, config, quantity, now);
  push(staticRefusal);
  let campaignId: string | null = null;
  try {
    campaignId = campaignOf(reward, input);
    if (campaignId) {
      const campaign = await ctx.campaigns.requireActiveCampaign(tenant.tenantId, campaignId, exec);
      if (campaign.audience_id) push(await audienceRefusal(ctx.audiences, { ...campaign, audience_id: campaign.audience_id }, input.user_id, exec));
    }
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    reasons.push({ code: err.code, message: err.message, details: err.details ?? {} });
  }
  if (input.source && input.source_id) {
    const existing = await repo.findGrantBySource(exec, tenant.tenantId, input.source, input.source_id, reward.reward_id);
    // The same request again would get its earlier grant back; another request is refused.
    if (existing && existing.user_id === input.user_id && existing.quantity === quantity) {
      reasons.push(grantRefusals.sourceAlreadyGranted(existing.grant_id));
    } else if (existing) {
      reasons.push(grantRefusals.sourceAlreadyUsed(existing.grant_id));
    }
  }
  const key = { tenantId: tenant.tenantId, rewardId: reward.reward_id, userId: input.user_id };
  const limit = config.validator.per_user_limit;
  if (limit !== undefined && staticRefusal?.code !== 'per_user_limit_reached') {
    const p = config.validator.period ?? 'LIFETIME';
    const counter = await repo.readCounter(exec, { ...key, periodKey: periodKey(p, now, campaignId) });
    const granted = Number(counter?.granted ?? 0);
    if (granted + quantity > limit) {
      reasons.push(grantRefusals.perUserLimitReached(limit, p, quantity));
    }
  }
  const interval = config.validator.min_interval_seconds;
  if (interval !== undefined) {
    const last = await repo.readCounter(exec, { ...key, periodKey: LAST_GRANT_KEY });
    const wait = last ? last.last_granted_at.getTime() + interval * 1000 - now.getTime() : 0;
    if (wait > 0) reasons.push(grantRefusals.minIntervalNotElapsed(interval, Math.ceil(wait / 1000)));
  }
  const stock = (await summarizeStock(exec, tenant.tenantId, [reward.reward_id])).get(reward.reward_id);
  if (stock && stock.available !== null && stock.available < quantity) {
    reasons.push(grantRefusals.inventoryExhausted(reward.reward_id, stock.available));
  }
  // A COUPON reward with a coupon template: what the coupon's issue would refuse (grant.coupon.ts).
  const templateId = couponTemplateOf(reward.reward_type, config);
  if (templateId) {
    push(ctx.coupons ? await ctx.coupons.check(exec, { tenantId: tenant.tenantId, templateId, userId: input.user_id, quantity }) : grantRefusals.couponIssueUnavailable(templateId));
  }
  return { eligible: reasons.length === 0, reasons };
}
