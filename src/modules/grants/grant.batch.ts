/**
 * Many grants in one request (POST /v1/reward-grants/batch, the product document's batch reward
 * grants): every item goes through grantMany, the path a batch of task completions takes (the
 * decision per item, then ONE grant statement for the set, and any item it did not grant again
 * on its own through grantReward), all in the request's transaction. Each item is answered on
 * its own: granted, replayed (its cause granted before), refused (a business rule said no: its
 * code) or error (the item itself is wrong: an unknown reward, a missing source_id).
 *
 * Transactions: without an Idempotency-Key the batch runs on the root database: the set's
 * statement commits on its own and each item that runs again alone is its own transaction, so no
 * transaction holds a stock slot while it waits for another (several such batches in one
 * transaction each deadlocked on PostgreSQL: 13 of 20 parallel batches of 25 on one reward).
 * With an Idempotency-Key the whole batch and its recorded answer are one transaction; such
 * batches of one tenant take a transaction-level advisory lock first and so run one at a time.
 */
import { sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import { AppError } from '../../platform/errors.js';
import type { GrantOutcome } from './grant.context.js';
import type { BatchGrantInput, BatchGrantResultView, BatchGrantItemView } from './grant.schemas.js';

/** Refusals are the grant's business rules (409 and 429 kinds); any other error is the item's own fault. */
const REFUSAL_KINDS = new Set<AppError['kind']>(['conflict', 'rate_limited']);

function itemOf(index: number, outcome: GrantOutcome | AppError): BatchGrantItemView {
  if (outcome instanceof AppError) {
    const error = { code: outcome.code, message: outcome.message, status: outcome.status, details: outcome.details ?? null };
    return { index, status: REFUSAL_KINDS.has(outcome.kind) ? 'refused' : 'error', grant: null, error };
  }
  return { index, status: outcome.created ? 'granted' : 'replayed', grant: outcome.grant, error: null };
}

export async function grantBatch(
  grantMany: (actor: Actor, inputs: BatchGrantInput['grants'], exec: Executor) => Promise<(GrantOutcome | AppError)[]>,
  actor: Actor,
  input: BatchGrantInput,
  exec: Executor,
): Promise<BatchGrantResultView> {
  const tenant = requireTenant(actor);
  if (exec.isTransaction) await sql`select pg_advisory_xact_lock(hashtext(${`reward-grant-batch:${tenant.tenantId}`}))`.execute(exec);
  const outcomes = await grantMany(actor, input.grants, exec);
  const results = outcomes.map((o, i) => itemOf(i, o));
  const count = (status: BatchGrantItemView['status']) => results.filter((r) => r.status === status).length;
  return { results, summary: { granted: count('granted'), replayed: count('replayed'), refused: count('refused'), error: count('error') } };
}
