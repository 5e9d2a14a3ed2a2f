import type { Executor } from '../../db/client.js';
import type { TenantActor } from '../../platform/actor.js';
import { notFound } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import type { CampaignRow } from '../campaigns/index.js';
import type { RewardConfig, RewardRow } from '../rewards/index.js';
import { DELIVERY_QUEUE, gateKey, type GrantContext, LEDGER_CAUSE } from './grant.context.js';
import { audienceRefusal, campaignOf, evaluateStatic, refusalError } from './grant.eligibility.js';
import { grantErrors } from './grant.errors.js';
import { generateUnits } from './grant.generate.js';
import { periodKey } from './grant.period.js';
import * as repo from './grant.repo.js';
import type { GrantInput } from './grant.schemas.js';
import type { GrantStatement } from './grant.statement.js';

/**
 * The grant decision: what the service reads and decides before the grant statement writes
 * (the reward and campaign, their rules, the earlier grant of the same cause), and the
 * statement it builds from that decision.
 */

export async function loadReward(ctx: GrantContext, exec: Executor, tenant: TenantActor, rewardId: string, fresh: boolean): Promise<RewardRow> {
  const key = gateKey(tenant.tenantId, rewardId);
  let row = fresh ? undefined : ctx.rewardCache.get(key);
  if (!row) {
    row = await ctx.rewards.findForGrant({ ...tenant, productCodes: null }, rewardId, exec);
    ctx.rewardCache.set(key, row);
  }
  if (tenant.productCodes && !tenant.productCodes.includes(row.product_code)) throw notFound('reward', rewardId);
  return row;
}

export async function loadCampaign(ctx: GrantContext, exec: Executor, tenantId: string, campaignId: string, fresh: boolean): Promise<CampaignRow> {
  const key = gateKey(tenantId, campaignId);
  let row = fresh ? undefined : ctx.campaignCache.get(key);
  if (!row) {
    row = await ctx.campaigns.findForGrant(tenantId, campaignId, exec);
    if (!row) throw notFound('campaign', campaignId);
    ctx.campaignCache.set(key, row);
  }
  return row;
}

/** What a grant decides before it writes: the reward's own rules and the campaign's state. */
export async function decide(ctx: GrantContext, exec: Executor, tenant: TenantActor, input: GrantInput, fresh: boolean) {
  const now = ctx.clock.now();
  const reward = await loadReward(ctx, exec, tenant, input.reward_id, fresh);
  const config = reward.config as RewardConfig;
  const refusal = evaluateStatic(reward, config, input.quantity ?? 1, now);
  if (refusal) throw refusalError(refusal);
  const campaignId = campaignOf(reward, input);
  const campaign = campaignId ? await loadCampaign(ctx, exec, tenant.tenantId, campaignId, fresh) : null;
  if (campaign) ctx.campaigns.assertActive(campaign);
  if (campaign?.audience_id) await requireAudience(ctx, exec, { ...campaign, audience_id: campaign.audience_id }, input.user_id);
  return { now, reward, config, campaignId, campaign };
}

export type Decided = Awaited<ReturnType<typeof decide>>;

async function requireAudience(ctx: GrantContext, exec: Executor, campaign: { tenant_id: string; campaign_id: string; audience_id: string }, userId: string): Promise<void> {
  const refusal = await audienceRefusal(ctx.audiences, campaign, userId, exec);
  if (refusal) throw refusalError(refusal);
}

/** The grant an earlier request with this cause made, if it matches this request. */
export async function replayOf(exec: Executor, tenant: TenantActor, input: GrantInput, earlier?: repo.GrantRow) {
  if (!input.source || !input.source_id) return null;
  const row = earlier ?? (await repo.findGrantBySource(exec, tenant.tenantId, input.source, input.source_id, input.reward_id));
  if (!row) return null;
  if (row.user_id === input.user_id && row.quantity === (input.quantity ?? 1)) return row;
  throw grantErrors.sourceAlreadyUsed(input.source, input.source_id, row.grant_id);
}

/** The statement of a decided grant: generated units, ids, limits, ledger credit, webhook job. */
export function prepareStatement(ctx: GrantContext, tenant: TenantActor, input: GrantInput, decided: Decided) {
  const { now, reward, config, campaignId, campaign } = decided;
  const quantity = input.quantity ?? 1;
  const distributor = config.distributor.type;
  const grantId = newId('grt', now.getTime());

  // Timed here, observed only for grants made: the histograms describe grants, not refusals.
  const generationStart = performance.now();
  const unit = generateUnits(reward.reward_type, config, quantity, now);
  const generationSeconds = (performance.now() - generationStart) / 1000;

  const limit = config.validator.per_user_limit;
  const period = config.validator.period ?? 'LIFETIME';
  const interval = config.validator.min_interval_seconds;
  const statement: GrantStatement = {
    tenantId: tenant.tenantId,
    rewardId: reward.reward_id,
    rewardVersion: reward.version,
    campaignId,
    campaignVersion: campaign?.version ?? null,
    grantId,
    rewardType: reward.reward_type,
    productCode: reward.product_code,
    userId: input.user_id,
    quantity,
    source: input.source ?? null,
    sourceId: input.source_id ?? null,
    status: distributor === 'WEBHOOK' ? 'PENDING' : 'DELIVERED',
    distributor,
    deliveryStatus: distributor === 'WEBHOOK' ? 'PENDING' : 'NOT_REQUIRED',
    payload: unit.payload,
    now,
    limit: limit === undefined ? null : { perUserLimit: limit, periodKey: periodKey(period, now, campaignId) },
    minIntervalMs: interval === undefined ? null : interval * 1000,
    credit:
      distributor === 'AUTO' && unit.credit
        ? ctx.ledger.prepareCredit({
            tenantId: tenant.tenantId,
            userId: input.user_id,
            asset: unit.credit.asset,
            amount: unit.credit.amount,
            causeType: LEDGER_CAUSE,
            causeId: grantId,
            memo: reward.reward_name,
          })
        : null,
    job: distributor === 'WEBHOOK' ? ctx.jobs.prepare({ tenantId: tenant.tenantId, queue: DELIVERY_QUEUE, payload: { grant_id: grantId, event: 'reward_grant.created' } }) : null,
  };
  return { statement, reward, distributor, generationSeconds, distributionStart: performance.now(), limit, period, interval };
}

export type PreparedGrant = ReturnType<typeof prepareStatement>;
