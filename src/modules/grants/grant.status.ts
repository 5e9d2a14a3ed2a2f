import { type Executor, inTransaction } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import { notFound } from '../../platform/errors.js';
import { releaseStock, type SlotTake } from '../inventory/index.js';
import { DELIVERY_QUEUE, gateKey, type GrantContext, LEDGER_CAUSE, visibility } from './grant.context.js';
import { grantErrors } from './grant.errors.js';
import { toGrantView } from './grant.read.js';
import * as repo from './grant.repo.js';
import type { GrantView, StatusInput } from './grant.schemas.js';
import type { GrantStatus } from './grant.tables.js';

/** Status and delivery changes of a grant made earlier: used, revoked, delivery sent again. */

/** Which statuses each status change may come from (PUT /v1/reward-grants/{id}/status). */
export const statusTransitions: Record<'USED' | 'REVOKED', readonly GrantStatus[]> = {
  USED: ['DELIVERED'],
  REVOKED: ['PENDING', 'DELIVERED', 'FAILED'],
};

/**
 * USED (from DELIVERED) or REVOKED. Revoking reverses the grant in the same transaction: the
 * stock goes back if the grant was not used, the ledger gets a reversal entry (refused if the
 * user already spent it), the per-user count drops, wallet coupons it issued are voided while
 * still available, and a delivered webhook grant gets a `reward_grant.revoked` event.
 */
export async function changeStatus(ctx: GrantContext, actor: Actor, grantId: string, input: StatusInput, exec: Executor): Promise<GrantView> {
  const { clock, ledger, jobs, gate } = ctx;
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
      // Wallet coupons the grant issued: voided if still available (a used or locked one stays).
      if ((current.payload as { coupon_template_id?: unknown } | null)?.coupon_template_id && ctx.coupons) {
        await ctx.coupons.voidOfGrant(trx, tenant.tenantId, grantId);
      }
      if (current.distributor === 'WEBHOOK' && current.delivery_status === 'DELIVERED') {
        await jobs.enqueue(trx, { tenantId: tenant.tenantId, queue: DELIVERY_QUEUE, payload: { grant_id: grantId, event: 'reward_grant.revoked' } });
      }
      gate.clear(gateKey(tenant.tenantId, current.reward_id));
    }
    return toGrantView(row);
  });
}

/**
 * Sends a webhook grant whose delivery failed again, as a new job with a fresh set of
 * attempts; the grant's delivery.attempts keeps counting the whole history.
 */
export async function retryDelivery(ctx: GrantContext, actor: Actor, grantId: string, exec: Executor): Promise<GrantView> {
  const { clock, jobs } = ctx;
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
}
