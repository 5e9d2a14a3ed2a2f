import type { Executor } from '../../db/client.js';
import type { Actor } from '../../platform/actor.js';
import type { AppError } from '../../platform/errors.js';
import { createGrantContext, gateKey, type GrantDeps, type GrantOptions, type GrantOutcome } from './grant.context.js';
import { checkEligibility } from './grant.eligibility.js';
import { grantMany, grantReward } from './grant.make.js';
import { getGrant, listGrants } from './grant.read.js';
import type { EligibilityView, GrantInput, GrantListInput, GrantView, StatusInput } from './grant.schemas.js';
import { changeStatus, retryDelivery } from './grant.status.js';

/**
 * The grant service. Its parts, each a file of named functions taking the service's context
 * (grant.context.ts: dependencies and snapshot caches, made once):
 * - grant.decide.ts: what a grant reads and decides before it writes, and the statement it builds;
 * - grant.make.ts: making grants, one (with its retries) or many with one statement;
 * - grant.eligibility.ts: the rules shared with the grant, and the eligibility check;
 * - grant.status.ts: status and delivery changes of a grant made earlier;
 * - grant.read.ts: reading grants, and the view the API shows.
 */

export { DELIVERY_QUEUE, LEDGER_CAUSE, type GrantMetrics, type GrantOptions, type GrantOutcome, type GrantStatementRunner } from './grant.context.js';
export { toGrantView } from './grant.read.js';
export { statusTransitions } from './grant.status.js';

export type GrantService = ReturnType<typeof createGrantService>;

export function createGrantService(deps: GrantDeps) {
  const ctx = createGrantContext(deps);
  const { db, gate } = ctx;

  return {
    /**
     * Grants a reward to a user. `created` is false when the same cause (source, source_id)
     * already granted it: the first grant is returned and nothing changes.
     */
    grantReward(actor: Actor, input: GrantInput, exec: Executor = db, options: GrantOptions = {}): Promise<GrantOutcome> {
      return grantReward(ctx, actor, input, exec, options);
    },

    /** Many grants with ONE statement for all of them, in `exec` (see grant.make.ts grantMany). */
    grantMany(actor: Actor, inputs: readonly GrantInput[], exec: Executor = db): Promise<(GrantOutcome | AppError)[]> {
      return grantMany(ctx, actor, inputs, exec);
    },

    /** Runs the grant's checks without granting: {eligible, reasons} with machine-readable codes. */
    checkEligibility(actor: Actor, input: GrantInput, exec: Executor = db): Promise<EligibilityView> {
      return checkEligibility(ctx, actor, input, exec);
    },

    getGrant(actor: Actor, grantId: string, exec: Executor = db): Promise<GrantView> {
      return getGrant(actor, grantId, exec);
    },

    listGrants(actor: Actor, query: GrantListInput, exec: Executor = db) {
      return listGrants(actor, query, exec);
    },

    /** USED (from DELIVERED) or REVOKED; revoking reverses the grant (see grant.status.ts). */
    changeStatus(actor: Actor, grantId: string, input: StatusInput, exec: Executor = db): Promise<GrantView> {
      return changeStatus(ctx, actor, grantId, input, exec);
    },

    /** Sends a webhook grant whose delivery failed again, as a new job (see grant.status.ts). */
    retryDelivery(actor: Actor, grantId: string, exec: Executor = db): Promise<GrantView> {
      return retryDelivery(ctx, actor, grantId, exec);
    },

    /** Gives stock back to the gate's view after units returned elsewhere (reservations). */
    clearSoldOut(tenantId: string, rewardId: string): void {
      gate.clear(gateKey(tenantId, rewardId));
    },
  };
}
