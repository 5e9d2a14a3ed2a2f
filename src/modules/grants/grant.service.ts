import type { Counter, Histogram } from 'prom-client';
import { type Database, type Executor, inTransaction } from '../../db/client.js';
import { type Actor, requireTenant, type TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { AppError, notFound } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import type { JobQueue } from '../../platform/jobs.js';
import { pagination, toPage } from '../../platform/paging.js';
import { parseInstant } from '../../platform/time.js';
import type { SoldOutGate } from '../../platform/sold-out-gate.js';
import type { CampaignService } from '../campaigns/index.js';
import { releaseStock, type SlotTake, summarizeStock, takeStock } from '../inventory/index.js';
import type { LedgerService } from '../ledger/index.js';
import type { RewardConfig, RewardRow, RewardService } from '../rewards/index.js';
import { evaluateStatic, type Refusal, refusalError } from './grant.eligibility.js';
import { generateUnits } from './grant.generate.js';
import { LAST_GRANT_KEY, periodKey } from './grant.period.js';
import * as repo from './grant.repo.js';
import type { EligibilityView, GrantInput, GrantListInput, GrantView, StatusInput } from './grant.schemas.js';
import type { GrantStatus } from './grant.tables.js';

export type GrantService = ReturnType<typeof createGrantService>;

/** The queue webhook deliveries of grants go through (see grant.delivery.ts). */
export const DELIVERY_QUEUE = 'reward.delivery';
export const LEDGER_CAUSE = 'reward_grant';

export interface GrantMetrics {
  granted: Counter<'reward_type' | 'result'>;
  generation: Histogram<'reward_type'>;
  distribution: Histogram<'distributor'>;
}

/** Which statuses each status change may come from (PUT /v1/reward-grants/{id}/status). */
export const statusTransitions: Record<'USED' | 'REVOKED', readonly GrantStatus[]> = {
  USED: ['DELIVERED'],
  REVOKED: ['PENDING', 'DELIVERED', 'FAILED'],
};

export function toGrantView(row: repo.GrantRow): GrantView {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    grant_id: row.grant_id,
    tenant_id: row.tenant_id,
    reward_id: row.reward_id,
    reward_type: row.reward_type,
    product_code: row.product_code,
    campaign_id: row.campaign_id,
    user_id: row.user_id,
    quantity: row.quantity,
    source: row.source,
    source_id: row.source_id,
    status: row.status,
    distributor: row.distributor,
    payload: (row.payload as Record<string, unknown>) ?? {},
    delivery: {
      status: row.delivery_status,
      attempts: row.delivery_attempts,
      last_error: row.delivery_last_error,
      delivered_at: iso(row.delivered_at),
    },
    used_at: iso(row.used_at),
    revoked_at: iso(row.revoked_at),
    revoke_reason: row.revoke_reason,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

const visibility = (a: TenantActor): repo.Visibility => ({ tenantId: a.tenantId, productCodes: a.productCodes });
const gateKey = (tenantId: string, rewardId: string) => `${tenantId}\u0000${rewardId}`;

export function createGrantService(deps: {
  db: Database;
  clock: Clock;
  rewards: RewardService;
  campaigns: CampaignService;
  ledger: LedgerService;
  jobs: JobQueue;
  gate: SoldOutGate;
  metrics: GrantMetrics;
}) {
  const { db, clock, rewards, campaigns, ledger, jobs, gate, metrics } = deps;

  /** The campaign a grant belongs to: the reward's own, or the one named in the request. */
  function campaignOf(reward: RewardRow, input: GrantInput): string | null {
    if (reward.campaign_id && input.campaign_id && input.campaign_id !== reward.campaign_id) {
      throw new AppError('conflict', 'campaign_mismatch', `Reward ${reward.reward_id} belongs to campaign ${reward.campaign_id}`, {
        campaign_id: reward.campaign_id,
      });
    }
    return reward.campaign_id ?? input.campaign_id ?? null;
  }

  function refuse(reward: RewardRow | null, code: string, err: AppError): never {
    metrics.granted.inc({ reward_type: reward?.reward_type ?? 'UNKNOWN', result: code });
    throw err;
  }

  /** Everything that must hold before a grant, checked with reads only (shared with /check). */
  async function checkPreconditions(trx: Executor, tenant: TenantActor, reward: RewardRow, input: GrantInput, now: Date): Promise<string | null> {
    const config = reward.config as RewardConfig;
    const refusal = evaluateStatic(reward, config, input.quantity ?? 1, now);
    if (refusal) refuse(reward, refusal.code, refusalError(refusal));
    const campaignId = campaignOf(reward, input);
    if (campaignId) {
      await campaigns.requireActiveCampaign(tenant.tenantId, campaignId, trx).catch((err: unknown) => {
        if (err instanceof AppError) refuse(reward, err.code, err);
        throw err;
      });
    }
    return campaignId;
  }

  /**
   * validate -> reserve -> generate -> distribute, as one transaction (seed 000). Every limit is a
   * conditional statement in that transaction; any refusal rolls all of it back.
   */
  async function grantInTransaction(trx: Executor, tenant: TenantActor, input: GrantInput): Promise<{ grant: GrantView; created: boolean }> {
    const now = clock.now();
    const quantity = input.quantity ?? 1;
    const reward = await rewards.findForGrant(tenant, input.reward_id, trx);
    const config = reward.config as RewardConfig;
    // A cause that already granted this reward gets that grant back, whatever changed since (the
    // campaign ended, the stock ran out): the same request always gets the same answer.
    if (input.source && input.source_id) {
      const earlier = await repo.findGrantBySource(trx, tenant.tenantId, input.source, input.source_id, reward.reward_id);
      if (earlier && earlier.user_id === input.user_id && earlier.quantity === quantity) {
        metrics.granted.inc({ reward_type: reward.reward_type, result: 'replayed' });
        return { grant: toGrantView(earlier), created: false };
      }
    }
    const campaignId = await checkPreconditions(trx, tenant, reward, input, now);
    const grantId = newId('grt', now.getTime());
    const distributor = config.distributor.type;
    const key = { tenantId: tenant.tenantId, rewardId: reward.reward_id, userId: input.user_id };

    // The cause first: the unique (source, source_id, reward) index makes a repeated cause find
    // the grant it already made, before this transaction has changed anything else.
    let claimed = false;
    if (input.source && input.source_id) {
      const row = await repo.insertGrant(trx, baseRow());
      if (!row) {
        const existing = await repo.findGrantBySource(trx, tenant.tenantId, input.source, input.source_id, reward.reward_id);
        if (existing && existing.user_id === input.user_id && existing.quantity === quantity) {
          metrics.granted.inc({ reward_type: reward.reward_type, result: 'replayed' });
          return { grant: toGrantView(existing), created: false };
        }
        refuse(reward, 'source_already_used', new AppError('conflict', 'source_already_used', `${input.source} ${input.source_id} already granted this reward to another request`, {
          grant_id: existing?.grant_id ?? null,
        }));
      }
      claimed = true;
    }

    const limit = config.validator.per_user_limit;
    let period: string | null = null;
    if (limit !== undefined) {
      const p = config.validator.period ?? 'LIFETIME';
      period = periodKey(p, now, campaignId);
      if (!(await repo.countTowardsLimit(trx, { ...key, periodKey: period }, quantity, limit, now))) {
        refuse(reward, 'per_user_limit_reached', new AppError('conflict', 'per_user_limit_reached', `The user already has the most grants of this reward allowed per ${p.toLowerCase()}`, { per_user_limit: limit, period: p }));
      }
    }
    const interval = config.validator.min_interval_seconds;
    if (interval !== undefined && !(await repo.stampIfIntervalPassed(trx, { ...key, periodKey: LAST_GRANT_KEY }, now, interval * 1000))) {
      refuse(reward, 'min_interval_not_elapsed', new AppError('conflict', 'min_interval_not_elapsed', `The user got this reward less than ${interval} s ago`, { min_interval_seconds: interval }));
    }

    const { takes, free } = await takeStock(trx, tenant.tenantId, reward.reward_id, quantity, 'used', reward.stock_slot_count);
    if (!takes) {
      // Only "nothing left" closes the gate; "fewer than asked" must not turn away smaller asks.
      if (free === 0) gate.markSoldOut(gateKey(tenant.tenantId, reward.reward_id));
      refuse(reward, 'inventory_exhausted', exhausted(reward.reward_id, free));
    }

    const stopGeneration = metrics.generation.startTimer({ reward_type: reward.reward_type });
    const unit = generateUnits(reward.reward_type, config, quantity, now);
    stopGeneration();

    const stopDistribution = metrics.distribution.startTimer({ distributor });
    const status: GrantStatus = distributor === 'WEBHOOK' ? 'PENDING' : 'DELIVERED';
    const finished = {
      payload: JSON.stringify(unit.payload),
      stock_slots: JSON.stringify(takes),
      period_key: period,
      status,
      delivery_status: distributor === 'WEBHOOK' ? ('PENDING' as const) : ('NOT_REQUIRED' as const),
    };
    const row = claimed ? await repo.completeGrant(trx, tenant.tenantId, grantId, finished) : await repo.insertGrant(trx, { ...baseRow(), ...finished });
    if (!row) throw new Error('grant insert returned no row');
    if (distributor === 'AUTO' && unit.credit) {
      await ledger.post(trx, {
        tenantId: tenant.tenantId,
        userId: input.user_id,
        asset: unit.credit.asset,
        amount: unit.credit.amount,
        entryType: 'GRANT',
        causeType: LEDGER_CAUSE,
        causeId: grantId,
        memo: reward.reward_name,
      });
    }
    if (distributor === 'WEBHOOK') {
      await jobs.enqueue(trx, { tenantId: tenant.tenantId, queue: DELIVERY_QUEUE, payload: { grant_id: grantId, event: 'reward_grant.created' } });
    }
    stopDistribution();
    metrics.granted.inc({ reward_type: reward.reward_type, result: 'granted' });
    return { grant: toGrantView(row), created: true };

    function baseRow() {
      return {
        tenant_id: tenant.tenantId,
        grant_id: grantId,
        reward_id: reward.reward_id,
        reward_type: reward.reward_type,
        product_code: reward.product_code,
        campaign_id: campaignId,
        user_id: input.user_id,
        quantity,
        source: input.source ?? null,
        source_id: input.source_id ?? null,
        status: 'PENDING' as const,
        distributor,
        payload: '{}',
        stock_slots: '[]',
        period_key: null,
        delivery_status: 'PENDING' as const,
        delivery_last_error: null,
        delivered_at: null,
        used_at: null,
        revoked_at: null,
        revoke_reason: null,
        created_at: now,
        updated_at: now,
      };
    }
  }

  function exhausted(rewardId: string, available = 0): AppError {
    return new AppError('conflict', 'inventory_exhausted', available > 0 ? `Reward ${rewardId} has only ${available} units left` : `Reward ${rewardId} has no stock left`, {
      reward_id: rewardId,
      available,
    });
  }

  return {
    /**
     * Grants a reward to a user. `created` is false when the same cause (source, source_id)
     * already granted it: the first grant is returned and nothing changes.
     */
    async grantReward(actor: Actor, input: GrantInput, exec: Executor = db): Promise<{ grant: GrantView; created: boolean }> {
      const tenant = requireTenant(actor);
      if ((input.source === undefined) !== (input.source_id === undefined)) {
        throw new AppError('invalid', 'invalid_request', 'source and source_id go together', { field: input.source ? 'source_id' : 'source' });
      }
      // Sold out a moment ago (per the database): answer without a transaction. A request with a
      // source still goes through, so a retried cause gets its earlier grant back.
      if (!input.source && gate.isSoldOut(gateKey(tenant.tenantId, input.reward_id))) {
        metrics.granted.inc({ reward_type: 'UNKNOWN', result: 'inventory_exhausted' });
        throw exhausted(input.reward_id);
      }
      return inTransaction(exec, (trx) => grantInTransaction(trx, tenant, input));
    },

    /** Runs the grant's checks without granting: {eligible, reasons} with machine-readable codes. */
    async checkEligibility(actor: Actor, input: GrantInput, exec: Executor = db): Promise<EligibilityView> {
      const tenant = requireTenant(actor);
      const now = clock.now();
      const quantity = input.quantity ?? 1;
      const reward = await rewards.findForGrant(tenant, input.reward_id, exec);
      const config = reward.config as RewardConfig;
      const reasons: Refusal[] = [];
      const push = (r: Refusal | null) => r && reasons.push(r);
      const staticRefusal = evaluateStatic(reward, config, quantity, now);
      push(staticRefusal);
      let campaignId: string | null = null;
      try {
        campaignId = campaignOf(reward, input);
        if (campaignId) await campaigns.requireActiveCampaign(tenant.tenantId, campaignId, exec);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        reasons.push({ code: err.code, message: err.message, details: err.details ?? {} });
      }
      if (input.source && input.source_id) {
        const existing = await repo.findGrantBySource(exec, tenant.tenantId, input.source, input.source_id, reward.reward_id);
        // The same request again would get its earlier grant back; another request is refused.
        if (existing && existing.user_id === input.user_id && existing.quantity === quantity) {
          reasons.push({ code: 'source_already_granted', message: 'This cause already granted this reward; a grant call returns that grant', details: { grant_id: existing.grant_id } });
        } else if (existing) {
          reasons.push({ code: 'source_already_used', message: 'This cause already granted this reward to another request', details: { grant_id: existing.grant_id } });
        }
      }
      const key = { tenantId: tenant.tenantId, rewardId: reward.reward_id, userId: input.user_id };
      const limit = config.validator.per_user_limit;
      if (limit !== undefined && staticRefusal?.code !== 'per_user_limit_reached') {
        const p = config.validator.period ?? 'LIFETIME';
        const counter = await repo.readCounter(exec, { ...key, periodKey: periodKey(p, now, campaignId) });
        const granted = Number(counter?.granted ?? 0);
        if (granted + quantity > limit) {
          reasons.push({ code: 'per_user_limit_reached', message: `Limit of ${limit} per ${p.toLowerCase()} reached`, details: { per_user_limit: limit, period: p, granted } });
        }
      }
      const interval = config.validator.min_interval_seconds;
      if (interval !== undefined) {
        const last = await repo.readCounter(exec, { ...key, periodKey: LAST_GRANT_KEY });
        const wait = last ? last.last_granted_at.getTime() + interval * 1000 - now.getTime() : 0;
        if (wait > 0) reasons.push({ code: 'min_interval_not_elapsed', message: `Next grant possible in ${Math.ceil(wait / 1000)} s`, details: { retry_after_seconds: Math.ceil(wait / 1000) } });
      }
      const stock = (await summarizeStock(exec, tenant.tenantId, [reward.reward_id])).get(reward.reward_id);
      if (stock && stock.available !== null && stock.available < quantity) {
        reasons.push({ code: 'inventory_exhausted', message: 'Not enough stock left', details: { reward_id: reward.reward_id, available: stock.available } });
      }
      return { eligible: reasons.length === 0, reasons };
    },

    async getGrant(actor: Actor, grantId: string, exec: Executor = db): Promise<GrantView> {
      const row = await repo.findGrant(exec, visibility(requireTenant(actor)), grantId);
      if (!row) throw notFound('grant', grantId);
      return toGrantView(row);
    },

    async listGrants(actor: Actor, query: GrantListInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const page = toPage(query);
      const { rows, total } = await repo.listGrants(
        exec,
        visibility(tenant),
        {
          ...(query.reward_id && { rewardId: query.reward_id }),
          ...(query.campaign_id && { campaignId: query.campaign_id }),
          ...(query.user_id && { userId: query.user_id }),
          ...(query.status && { status: query.status }),
          from: parseInstant('created_from', query.created_from),
          to: parseInstant('created_to', query.created_to),
        },
        page,
      );
      return { grants: rows.map(toGrantView), pagination: pagination(total, page) };
    },

    /**
     * USED (from DELIVERED) or REVOKED. Revoking reverses the grant in the same transaction: the
     * stock goes back if the grant was not used, the ledger gets a reversal entry (refused if the
     * user already spent it), the per-user count drops, and a delivered webhook grant gets a
     * `reward_grant.revoked` event.
     */
    async changeStatus(actor: Actor, grantId: string, input: StatusInput, exec: Executor = db): Promise<GrantView> {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const now = clock.now();
        const current = await repo.findGrant(trx, visibility(tenant), grantId, { forUpdate: true });
        if (!current) throw notFound('grant', grantId);
        const from = statusTransitions[input.status];
        const row = await repo.transitionGrant(trx, tenant.tenantId, grantId, from, {
          status: input.status,
          updated_at: now,
          ...(input.status === 'USED' ? { used_at: now } : { revoked_at: now, revoke_reason: input.reason ?? null }),
        });
        if (!row) {
          throw new AppError('conflict', 'invalid_grant_transition', `Cannot mark a ${current.status} grant ${input.status}`, {
            status: current.status,
            requested: input.status,
            allowed_from: from,
          });
        }
        if (input.status === 'REVOKED') {
          await releaseStock(trx, tenant.tenantId, current.reward_id, current.stock_slots as SlotTake, 'used');
          await ledger.reverseCause(trx, { tenantId: tenant.tenantId, causeType: LEDGER_CAUSE, causeId: grantId, memo: input.reason ?? 'grant revoked' });
          if (current.period_key) {
            await repo.uncount(trx, { tenantId: tenant.tenantId, rewardId: current.reward_id, userId: current.user_id, periodKey: current.period_key }, current.quantity);
          }
          if (current.distributor === 'WEBHOOK' && current.delivery_status === 'DELIVERED') {
            await jobs.enqueue(trx, { tenantId: tenant.tenantId, queue: DELIVERY_QUEUE, payload: { grant_id: grantId, event: 'reward_grant.revoked' } });
          }
          gate.clear(gateKey(tenant.tenantId, current.reward_id));
        }
        return toGrantView(row);
      });
    },

    /**
     * Sends a webhook grant whose delivery failed again, as a new job with a fresh set of
     * attempts; the grant's delivery.attempts keeps counting the whole history.
     */
    async retryDelivery(actor: Actor, grantId: string, exec: Executor = db): Promise<GrantView> {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const current = await repo.findGrant(trx, visibility(tenant), grantId, { forUpdate: true });
        if (!current) throw notFound('grant', grantId);
        if (current.distributor !== 'WEBHOOK') throw new AppError('conflict', 'delivery_not_applicable', 'Only WEBHOOK grants are delivered', {});
        if (current.delivery_status !== 'FAILED') {
          throw new AppError('conflict', 'delivery_not_failed', `Delivery is ${current.delivery_status}; only FAILED deliveries can be retried`, {
            delivery_status: current.delivery_status,
          });
        }
        const row = await repo.setDelivery(trx, tenant.tenantId, grantId, {
          delivery_status: 'PENDING',
          ...(current.status === 'FAILED' ? { status: 'PENDING' as const } : {}),
          updated_at: clock.now(),
        });
        const event = current.status === 'REVOKED' ? 'reward_grant.revoked' : 'reward_grant.created';
        await jobs.enqueue(trx, { tenantId: tenant.tenantId, queue: DELIVERY_QUEUE, payload: { grant_id: grantId, event } });
        return toGrantView(row!);
      });
    },

    /** Gives stock back to the gate's view after units returned elsewhere (reservations). */
    clearSoldOut(tenantId: string, rewardId: string): void {
      gate.clear(gateKey(tenantId, rewardId));
    },
  };
}
