import { afterCommit, type Executor } from '../../db/client.js';
import { type Actor, requireTenant, type TenantActor } from '../../platform/actor.js';
import { AppError } from '../../platform/errors.js';
import { retryTransient } from '../../db/retry.js';
import { couponTemplateOf, type RewardRow } from '../rewards/index.js';
import { gateKey, type GrantContext, type GrantOptions, type GrantOutcome } from './grant.context.js';
import { runGrantWithCoupons } from './grant.coupon.js';
import { decide, type PreparedGrant, prepareStatement, replayOf } from './grant.decide.js';
import { grantErrors, grantRefusals } from './grant.errors.js';
import { toGrantView } from './grant.read.js';
import type * as repo from './grant.repo.js';
import type { GrantInput } from './grant.schemas.js';
import { GrantRefusal, refusalToError, runGrantStatement, runGrantStatementBy, runGrantStatements } from './grant.statement.js';

/**
 * Making grants: one (grantReward, with its retries) or many with one statement (grantMany).
 * The decision is in grant.decide.ts; the writes are the grant statement (grant.statement.ts).
 */

/**
 * Grants a reward to a user. `created` is false when the same cause (source, source_id)
 * already granted it: the first grant is returned and nothing changes.
 */
export async function grantReward(ctx: GrantContext, actor: Actor, input: GrantInput, exec: Executor, options: GrantOptions): Promise<GrantOutcome> {
  const tenant = requireTenant(actor);
  if ((input.source === undefined) !== (input.source_id === undefined)) {
    throw grantErrors.sourcePairIncomplete(input.source ? 'source_id' : 'source');
  }
  // Sold out a moment ago (per the database): answer without a transaction. A request with a
  // source still goes through, so a retried cause gets its earlier grant back.
  if (!input.source && ctx.gate.isSoldOut(gateKey(tenant.tenantId, input.reward_id))) {
    ctx.metrics.granted.inc({ reward_type: 'UNKNOWN', result: 'inventory_exhausted' });
    throw grantErrors.inventoryExhausted(input.reward_id);
  }
  // A deadlock victim is retried here only when the grant is its own transaction; inside a
  // caller's transaction the caller (e.g. the unit of work) retries the whole of it.
  return exec.isTransaction ? grantOnce(ctx, exec, tenant, input, options) : retryTransient(() => grantOnce(ctx, exec, tenant, input, options));
}

/**
 * Many grants (a batch of task completions) with ONE statement for all of them, in `exec`
 * (usually the caller's transaction). Each is decided as grantReward would decide it; the ones
 * the shared statement grants come back from it, and any it does not (refused, a cause that
 * granted before, a stale cached row, a stock slot another transaction holds: nothing of those
 * was written) runs again on its own through grantReward, which gives it exactly the answer it
 * would have had alone. So a refusal costs a second round trip, and a grant that had to run
 * alone is made after the batch's others. Answers in order: the grant, or the refusal.
 */
export async function grantMany(ctx: GrantContext, actor: Actor, inputs: readonly GrantInput[], exec: Executor): Promise<(GrantOutcome | AppError)[]> {
  const tenant = requireTenant(actor);
  const out: (GrantOutcome | AppError | undefined)[] = new Array(inputs.length);
  const batch: { index: number; prepared: PreparedGrant }[] = [];
  if (inputs.length > 1) {
    for (const [index, input] of inputs.entries()) {
      if ((input.source === undefined) !== (input.source_id === undefined)) continue;
      if (!input.source && ctx.gate.isSoldOut(gateKey(tenant.tenantId, input.reward_id))) continue;
      try {
        const decided = await decide(ctx, exec, tenant, input, false);
        // A grant that issues wallet coupons is not part of the shared statement: it runs alone below (grant.coupon.ts).
        if (couponTemplateOf(decided.reward.reward_type, decided.config)) continue;
        batch.push({ index, prepared: prepareStatement(ctx, tenant, input, decided) });
      } catch (err) {
        if (!(err instanceof AppError)) throw err; // refused as decided: it runs alone below
      }
    }
  }
  if (batch.length > 1) {
    const made = await runGrantStatements(exec, batch.map((b) => b.prepared.statement));
    made.forEach((m, k) => {
      if (m) out[batch[k]!.index] = granted(ctx, exec, batch[k]!.prepared, m.grant, m.answer);
    });
  }
  for (const [index, input] of inputs.entries()) {
    if (out[index] !== undefined) continue;
    try {
      out[index] = await grantReward(ctx, actor, input, exec, {});
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      out[index] = err;
    }
  }
  return out as (GrantOutcome | AppError)[];
}

/**
 * validate -> reserve -> generate -> distribute, as one statement: the service decides (rules,
 * campaign, generated units, ids) and mh_grant_set applies it atomically. Every limit is a
 * conditional statement inside it; any refusal rolls all of it back.
 */
async function grantOnce(ctx: GrantContext, exec: Executor, tenant: TenantActor, input: GrantInput, options: GrantOptions): Promise<GrantOutcome> {
  for (let attempt = 0; ; attempt++) {
    const fresh = attempt > 0;
    let decided;
    try {
      decided = await decide(ctx, exec, tenant, input, fresh);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (!fresh) continue; // perhaps decided on cached rows: decide again on fresh ones
      // A cause that already granted this reward gets that grant back, whatever changed since
      // (the campaign ended, the reward expired): the same request always gets the same answer.
      const earlier = await replayOf(exec, tenant, input).catch((e: unknown) => refuse(ctx, null, (e as AppError).code, e as AppError));
      if (earlier) return replayed(ctx, earlier);
      refuse(ctx, ctx.rewardCache.get(gateKey(tenant.tenantId, input.reward_id)) ?? null, err.code, err);
    }
    const { reward, campaignId } = decided;
    // A COUPON reward naming a coupon template also issues wallet coupons (grant.coupon.ts).
    const templateId = couponTemplateOf(reward.reward_type, decided.config);
    if (templateId && !ctx.coupons) refuse(ctx, reward, 'coupon_issue_unavailable', grantErrors.fromRefusal(grantRefusals.couponIssueUnavailable(templateId)));
    const prepared = prepareStatement(ctx, tenant, input, decided);
    const { statement, limit, period, interval } = prepared;
    let result;
    try {
      // Inside a caller's transaction the grant must be part of it; otherwise it may share a
      // batch (and a commit) with other grants, unless it issues coupons (its own transaction).
      result = templateId
        ? await runGrantWithCoupons(exec, statement, templateId, ctx.coupons!, options)
        : options.statement
          ? await runGrantStatementBy(options.statement, exec, statement)
          : ctx.batcher && !exec.isTransaction
            ? await ctx.batcher.submit(statement)
            : await runGrantStatement(exec, statement);
    } catch (err) {
      // The coupons module refused the coupon (usage or per-user limit, template disabled or
      // ended): the grant was undone with it, and answers the coupon's code.
      if (templateId && err instanceof AppError) refuse(ctx, reward, err.code, err);
      if (!(err instanceof GrantRefusal)) throw err;
      const error = refusalToError(err, { rewardId: reward.reward_id, quantity: statement.quantity, perUserLimit: limit, period, minIntervalSeconds: interval });
      // Only "nothing left" closes the gate; "fewer than asked" must not turn away smaller asks.
      if (err.code === 'inventory_exhausted' && error.details?.available === 0) ctx.gate.markSoldOut(gateKey(tenant.tenantId, reward.reward_id));
      refuse(ctx, reward, err.code, error);
    }
    if (result.outcome === 'stale') {
      ctx.rewardCache.delete(gateKey(tenant.tenantId, reward.reward_id));
      if (campaignId) ctx.campaignCache.delete(gateKey(tenant.tenantId, campaignId));
      // Changed again between our read and the statement, twice in a row: say so, don't spin.
      if (attempt >= 3) throw grantErrors.concurrentUpdate();
      continue;
    }
    if (result.outcome === 'replayed') {
      const earlier = await replayOf(exec, tenant, input, result.grant).catch((e: unknown) => refuse(ctx, reward, (e as AppError).code, e as AppError));
      return replayed(ctx, earlier!, reward.reward_type);
    }
    return granted(ctx, exec, prepared, result.grant, result.answer);
  }
}

/** A refusal: counted under its code, then thrown. */
function refuse(ctx: GrantContext, reward: RewardRow | null, code: string, err: AppError): never {
  ctx.metrics.granted.inc({ reward_type: reward?.reward_type ?? 'UNKNOWN', result: code });
  throw err;
}

/** A grant the statement made: counted and observed once it is committed (`exec`'s transaction, if any). */
function granted(ctx: GrantContext, exec: Executor, p: PreparedGrant, row: repo.GrantRow, answer: Record<string, unknown>): GrantOutcome {
  const { metrics } = ctx;
  const distributionSeconds = (performance.now() - p.distributionStart) / 1000;
  afterCommit(exec, () => {
    metrics.generation.observe({ reward_type: p.reward.reward_type }, p.generationSeconds);
    metrics.distribution.observe({ distributor: p.distributor }, distributionSeconds);
    metrics.granted.inc({ reward_type: p.reward.reward_type, result: 'granted' });
  });
  return { grant: toGrantView(row), created: true, answer };
}

/** The earlier grant of the same cause, given back. */
function replayed(ctx: GrantContext, row: repo.GrantRow, rewardType = row.reward_type) {
  ctx.metrics.granted.inc({ reward_type: rewardType, result: 'replayed' });
  return { grant: toGrantView(row), created: false };
}
