import type { Counter, Histogram } from 'prom-client';
import { afterCommit, type Database, type Executor, inTransaction } from '../../db/client.js';
import { type Actor, requireTenant, type TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { AppError, notFound } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import type { JobQueue } from '../../platform/jobs.js';
import { pagination, toPage } from '../../platform/paging.js';
import { parseInstant } from '../../platform/time.js';
import type { SoldOutGate } from '../../platform/sold-out-gate.js';
import { createSnapshotCache } from '../../platform/snapshot-cache.js';
import { retryTransient } from '../../db/retry.js';
import type { CampaignRow, CampaignService } from '../campaigns/index.js';
import { releaseStock, type SlotTake, summarizeStock } from '../inventory/index.js';
import type { LedgerService } from '../ledger/index.js';
import type { RewardConfig, RewardRow, RewardService } from '../rewards/index.js';
import { type AudienceCheck, audienceRefusal, evaluateStatic, type Refusal, refusalError } from './grant.eligibility.js';
import { grantErrors, grantRefusals } from './grant.errors.js';
import { generateUnits } from './grant.generate.js';
import { LAST_GRANT_KEY, periodKey } from './grant.period.js';
import * as repo from './grant.repo.js';
import { type GrantBatcher, GrantRefusal, refusalToError, runGrantStatement, runGrantStatements, type GrantStatement } from './grant.statement.js';
import type { EligibilityView, GrantInput, GrantListInput, GrantView, StatusInput } from './grant.schemas.js';
import type { GrantStatus } from './grant.tables.js';

export type GrantService = ReturnType<typeof createGrantService>;

/** The queue webhook deliveries of grants go through (see grant.delivery.ts). */
/** What a caller may add to a grant's statement (see GrantStatement.with). */
export interface GrantOptions {
  with?: GrantStatement['with'];
}

/**
 * `created`: false when the same cause already granted (the earlier grant is returned).
 * `answer`: the statement's whole answer for a grant made now, with what `with` added.
 */
export interface GrantOutcome {
  grant: GrantView;
  created: boolean;
  answer?: Record<string, unknown>;
}

export const DELIVERY_QUEUE = 'reward.delivery';
export const LEDGER_CAUSE = 'reward_grant';

export interface GrantMetrics {
  granted: Counter<'reward_type' | 'result'>;
  generation: Histogram<'reward_type'>;
  batchSize: Histogram;
  batchFailed: Counter;
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
  /** How long a reward or campaign read for a grant is reused (0: read every time). */
  snapshotTtlMs?: number;
  /** Group commit for grants that are their own transaction; null: one statement each. */
  batcher?: GrantBatcher | null;
  /** Membership of a campaign's audience (the audiences module): outside it, not_in_audience. */
  audiences?: AudienceCheck;
}) {
  const { db, clock, rewards, campaigns, ledger, jobs, gate, metrics } = deps;
  const snapshotTtlMs = deps.snapshotTtlMs ?? 5_000;

  // Rewards and campaigns a grant decides on, kept briefly (see snapshot-cache.ts): the grant
  // statement verifies their versions, and any refusal decided on a cached row is decided again
  // on a fresh read, so a cached row can cost a round trip but never change an answer.
  const rewardCache = createSnapshotCache<RewardRow>({ ttlMs: snapshotTtlMs });
  const campaignCache = createSnapshotCache<CampaignRow>({ ttlMs: snapshotTtlMs });

  async function loadReward(exec: Executor, tenant: TenantActor, rewardId: string, fresh: boolean): Promise<RewardRow> {
    const key = gateKey(tenant.tenantId, rewardId);
    let row = fresh ? undefined : rewardCache.get(key);
    if (!row) {
      row = await rewards.findForGrant({ ...tenant, productCodes: null }, rewardId, exec);
      rewardCache.set(key, row);
    }
    if (tenant.productCodes && !tenant.productCodes.includes(row.product_code)) throw notFound('reward', rewardId);
    return row;
  }

  async function loadCampaign(exec: Executor, tenantId: string, campaignId: string, fresh: boolean): Promise<CampaignRow> {
    const key = gateKey(tenantId, campaignId);
    let row = fresh ? undefined : campaignCache.get(key);
    if (!row) {
      row = await campaigns.findForGrant(tenantId, campaignId, exec);
      if (!row) throw notFound('campaign', campaignId);
      campaignCache.set(key, row);
    }
    return row;
  }

  /** The campaign a grant belongs to: the reward's own, or the one named in the request. */
  function campaignOf(reward: RewardRow, input: GrantInput): string | null {
    if (reward.campaign_id && input.campaign_id && input.campaign_id !== reward.campaign_id) {
      throw grantErrors.campaignMismatch(reward.reward_id, reward.campaign_id);
    }
    return reward.campaign_id ?? input.campaign_id ?? null;
  }

  function refuse(reward: RewardRow | null, code: string, err: AppError): never {
    metrics.granted.inc({ reward_type: reward?.reward_type ?? 'UNKNOWN', result: code });
    throw err;
  }

  /** What a grant decides before it writes: the reward's own rules and the campaign's state. */
  async function decide(exec: Executor, tenant: TenantActor, input: GrantInput, fresh: boolean) {
    const now = clock.now();
    const reward = await loadReward(exec, tenant, input.reward_id, fresh);
    const config = reward.config as RewardConfig;
    const refusal = evaluateStatic(reward, config, input.quantity ?? 1, now);
    if (refusal) throw refusalError(refusal);
    const campaignId = campaignOf(reward, input);
    const campaign = campaignId ? await loadCampaign(exec, tenant.tenantId, campaignId, fresh) : null;
    if (campaign) campaigns.assertActive(campaign);
    if (campaign?.audience_id) await requireAudience(exec, { ...campaign, audience_id: campaign.audience_id }, input.user_id);
    return { now, reward, config, campaignId, campaign };
  }

  async function requireAudience(exec: Executor, campaign: { tenant_id: string; campaign_id: string; audience_id: string }, userId: string): Promise<void> {
    const refusal = await audienceRefusal(deps.audiences, campaign, userId, exec);
    if (refusal) throw refusalError(refusal);
  }

  /** The grant an earlier request with this cause made, if it matches this request. */
  async function replayOf(exec: Executor, tenant: TenantActor, input: GrantInput, earlier?: repo.GrantRow) {
    if (!input.source || !input.source_id) return null;
    const row = earlier ?? (await repo.findGrantBySource(exec, tenant.tenantId, input.source, input.source_id, input.reward_id));
    if (!row) return null;
    if (row.user_id === input.user_id && row.quantity === (input.quantity ?? 1)) return row;
    throw grantErrors.sourceAlreadyUsed(input.source, input.source_id, row.grant_id);
  }

  /**
   * validate -> reserve -> generate -> distribute, as one statement (seed 000): the service
   * decides (rules, campaign, generated units, ids) and mh_grant applies it atomically. Every
   * limit is a conditional statement inside it; any refusal rolls all of it back.
   */
  async function grantOnce(exec: Executor, tenant: TenantActor, input: GrantInput, options: GrantOptions): Promise<GrantOutcome> {
    for (let attempt = 0; ; attempt++) {
      const fresh = attempt > 0;
      let decided;
      try {
        decided = await decide(exec, tenant, input, fresh);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        if (!fresh) continue; // perhaps decided on cached rows: decide again on fresh ones
        // A cause that already granted this reward gets that grant back, whatever changed since
        // (the campaign ended, the reward expired): the same request always gets the same answer.
        const earlier = await replayOf(exec, tenant, input).catch((e: unknown) => refuse(null, (e as AppError).code, e as AppError));
        if (earlier) return replayed(earlier);
        refuse(rewardCache.get(gateKey(tenant.tenantId, input.reward_id)) ?? null, err.code, err);
      }
      const { reward, campaignId } = decided;
      const prepared = prepareStatement(tenant, input, decided, options);
      const { statement, limit, period, interval } = prepared;
      let result;
      try {
        // Inside a caller's transaction the grant must be part of it; otherwise it may share a
        // batch (and a commit) with other grants.
        result = deps.batcher && !exec.isTransaction ? await deps.batcher.submit(statement) : await runGrantStatement(exec, statement);
      } catch (err) {
        if (!(err instanceof GrantRefusal)) throw err;
        // The work that came with the grant refused (e.g. the code was redeemed meanwhile): the
        // grant was never tried, and the caller turns the refusal into its own error.
        if (err.details.stage) throw err;
        const error = refusalToError(err, { rewardId: reward.reward_id, quantity: statement.quantity, perUserLimit: limit, period, minIntervalSeconds: interval });
        // Only "nothing left" closes the gate; "fewer than asked" must not turn away smaller asks.
        if (err.code === 'inventory_exhausted' && error.details?.available === 0) gate.markSoldOut(gateKey(tenant.tenantId, reward.reward_id));
        refuse(reward, err.code, error);
      }
      if (result.outcome === 'stale') {
        rewardCache.delete(gateKey(tenant.tenantId, reward.reward_id));
        if (campaignId) campaignCache.delete(gateKey(tenant.tenantId, campaignId));
        // Changed again between our read and the statement, twice in a row: say so, don't spin.
        if (attempt >= 3) throw grantErrors.concurrentUpdate();
        continue;
      }
      if (result.outcome === 'replayed') {
        const earlier = await replayOf(exec, tenant, input, result.grant).catch((e: unknown) => refuse(reward, (e as AppError).code, e as AppError));
        return replayed(earlier!, reward.reward_type);
      }
      return granted(exec, prepared, result.grant, result.answer);
    }
  }

  /** The statement of a decided grant: generated units, ids, limits, ledger credit, webhook job. */
  function prepareStatement(tenant: TenantActor, input: GrantInput, decided: Awaited<ReturnType<typeof decide>>, options: GrantOptions) {
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
          ? ledger.prepareCredit({
              tenantId: tenant.tenantId,
              userId: input.user_id,
              asset: unit.credit.asset,
              amount: unit.credit.amount,
              causeType: LEDGER_CAUSE,
              causeId: grantId,
              memo: reward.reward_name,
            })
          : null,
      job: distributor === 'WEBHOOK' ? jobs.prepare({ tenantId: tenant.tenantId, queue: DELIVERY_QUEUE, payload: { grant_id: grantId, event: 'reward_grant.created' } }) : null,
      with: options.with,
    };
    return { statement, reward, distributor, generationSeconds, distributionStart: performance.now(), limit, period, interval };
  }

  /** A grant the statement made: counted and observed once it is committed (`exec`'s transaction, if any). */
  function granted(exec: Executor, p: ReturnType<typeof prepareStatement>, row: repo.GrantRow, answer: Record<string, unknown>): GrantOutcome {
    const distributionSeconds = (performance.now() - p.distributionStart) / 1000;
    afterCommit(exec, () => {
      metrics.generation.observe({ reward_type: p.reward.reward_type }, p.generationSeconds);
      metrics.distribution.observe({ distributor: p.distributor }, distributionSeconds);
      metrics.granted.inc({ reward_type: p.reward.reward_type, result: 'granted' });
    });
    return { grant: toGrantView(row), created: true, answer };
  }

  function replayed(row: repo.GrantRow, rewardType = row.reward_type) {
    metrics.granted.inc({ reward_type: rewardType, result: 'replayed' });
    return { grant: toGrantView(row), created: false };
  }


  return {
    /**
     * Grants a reward to a user. `created` is false when the same cause (source, source_id)
     * already granted it: the first grant is returned and nothing changes.
     */
    async grantReward(actor: Actor, input: GrantInput, exec: Executor = db, options: GrantOptions = {}): Promise<GrantOutcome> {
      const tenant = requireTenant(actor);
      if ((input.source === undefined) !== (input.source_id === undefined)) {
        throw grantErrors.sourcePairIncomplete(input.source ? 'source_id' : 'source');
      }
      // Sold out a moment ago (per the database): answer without a transaction. A request with a
      // source still goes through, so a retried cause gets its earlier grant back.
      if (!input.source && gate.isSoldOut(gateKey(tenant.tenantId, input.reward_id))) {
        metrics.granted.inc({ reward_type: 'UNKNOWN', result: 'inventory_exhausted' });
        throw grantErrors.inventoryExhausted(input.reward_id);
      }
      // A deadlock victim is retried here only when the grant is its own transaction; inside a
      // caller's transaction the caller (e.g. the unit of work) retries the whole of it.
      return exec.isTransaction ? grantOnce(exec, tenant, input, options) : retryTransient(() => grantOnce(exec, tenant, input, options));
    },

    /**
     * Many grants (a batch of task completions) with ONE statement for all of them, in `exec`
     * (usually the caller's transaction). Each is decided as grantReward would decide it; the ones
     * the shared statement grants come back from it, and any it does not (refused, a cause that
     * granted before, a stale cached row, a stock slot another transaction holds: nothing of those
     * was written) runs again on its own through grantReward, which gives it exactly the answer it
     * would have had alone. So a refusal costs a second round trip, and a grant that had to run
     * alone is made after the batch's others. Answers in order: the grant, or the refusal.
     */
    async grantMany(actor: Actor, inputs: readonly GrantInput[], exec: Executor = db): Promise<(GrantOutcome | AppError)[]> {
      const tenant = requireTenant(actor);
      const out: (GrantOutcome | AppError | undefined)[] = new Array(inputs.length);
      const batch: { index: number; prepared: ReturnType<typeof prepareStatement> }[] = [];
      if (inputs.length > 1) {
        for (const [index, input] of inputs.entries()) {
          if ((input.source === undefined) !== (input.source_id === undefined)) continue;
          if (!input.source && gate.isSoldOut(gateKey(tenant.tenantId, input.reward_id))) continue;
          try {
            batch.push({ index, prepared: prepareStatement(tenant, input, await decide(exec, tenant, input, false), {}) });
          } catch (err) {
            if (!(err instanceof AppError)) throw err; // refused as decided: it runs alone below
          }
        }
      }
      if (batch.length > 1) {
        const made = await runGrantStatements(exec, batch.map((b) => b.prepared.statement));
        made.forEach((m, k) => {
          if (m) out[batch[k]!.index] = granted(exec, batch[k]!.prepared, m.grant, m.answer);
        });
      }
      for (const [index, input] of inputs.entries()) {
        if (out[index] !== undefined) continue;
        try {
          out[index] = await this.grantReward(actor, input, exec);
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          out[index] = err;
        }
      }
      return out as (GrantOutcome | AppError)[];
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
        if (campaignId) {
          const campaign = await campaigns.requireActiveCampaign(tenant.tenantId, campaignId, exec);
          if (campaign.audience_id) push(await audienceRefusal(deps.audiences, { ...campaign, audience_id: campaign.audience_id }, input.user_id, exec));
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
          reasons.push(grantRefusals.perUserLimitReached(limit, p, granted));
        }
      }
      const interval = config.validator.min_interval_seconds;
      if (interval !== undefined) {
        const last = await repo.readCounter(exec, { ...key, periodKey: LAST_GRANT_KEY });
        const wait = last ? last.last_granted_at.getTime() + interval * 1000 - now.getTime() : 0;
        if (wait > 0) reasons.push(grantRefusals.minIntervalNotElapsed(Math.ceil(wait / 1000)));
      }
      const stock = (await summarizeStock(exec, tenant.tenantId, [reward.reward_id])).get(reward.reward_id);
      if (stock && stock.available !== null && stock.available < quantity) {
        reasons.push(grantRefusals.inventoryExhausted(reward.reward_id, stock.available));
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
          throw grantErrors.invalidTransition(current.status, input.status, from);
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
        if (current.distributor !== 'WEBHOOK') throw grantErrors.deliveryNotApplicable();
        if (current.delivery_status !== 'FAILED') {
          throw grantErrors.deliveryNotFailed(current.delivery_status);
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
