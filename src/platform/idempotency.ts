import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Database, Executor } from '../db/client.js';
import type { Clock } from './clock.js';
import { AppError } from './errors.js';
import { HEARTBEAT_STALE_SECONDS, PROCESS_INSTANCE_ID } from './instance-heartbeat.js';

/** A request's hold on an Idempotency-Key, from claim until its response is recorded. */
export interface IdempotencyClaim {
  scope: string;
  key: string;
  requestHash: string;
  /** This claim's identity in the row: a retry that took the key over holds another. */
  token: string;
  settled: boolean;
}

export type ClaimOutcome =
  | { kind: 'claimed'; claim: IdempotencyClaim }
  | { kind: 'replay'; status: number; body: unknown };

export interface IdempotencyStore {
  claim(input: { scope: string; key: string; requestHash: string; method: string; route: string }): Promise<ClaimOutcome>;
  /**
   * Records the response inside the transaction that made the change, so both commit or neither.
   * The caller marks the claim settled once that transaction has committed.
   */
  complete(trx: Executor, claim: IdempotencyClaim, status: number, body: unknown): Promise<void>;
  /** Records a response that changed nothing (a refusal after rollback). */
  completeAlone(claim: IdempotencyClaim, status: number, body: unknown): Promise<void>;
  /** Gives the key back after a failure on our side (5xx), so the client's retry can run. */
  release(claim: IdempotencyClaim): Promise<void>;
  purgeExpired(): Promise<number>;
}

export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * Stripe-style idempotency keys in the database. Keys are per tenant (`scope`), live
 * `ttlHours`. A claim abandoned by a crashed process can be taken over by the same request as soon
 * as that process's heartbeat is stale (instance-heartbeat.ts), or after `lockSeconds` when its
 * owner never beat (a process without the heartbeat: tests, older rows). Safe, because its work
 * never committed (the response is written in the same transaction), and a slow owner taken for
 * dead cannot commit later: its claim token no longer matches, so recording its answer fails.
 */
export function createIdempotencyStore(deps: {
  db: Database;
  clock: Clock;
  ttlHours: number;
  lockSeconds: number;
  /** The owner recorded on claims; this process by default. */
  instanceId?: string;
}): IdempotencyStore {
  const { db, clock } = deps;
  const instanceId = deps.instanceId ?? PROCESS_INSTANCE_ID;
  const ttlMs = deps.ttlHours * 3_600_000;
  const lockMs = deps.lockSeconds * 1000;

  return {
    async claim({ scope, key, requestHash, method, route }) {
      const now = clock.now();
      const token = randomUUID();
      const fresh = {
        tenant_id: scope,
        idem_key: key,
        request_hash: requestHash,
        method,
        route,
        status: 'IN_PROGRESS' as const,
        locked_until: new Date(now.getTime() + lockMs),
        response_status: null,
        response_body: null,
        created_at: now,
        expires_at: new Date(now.getTime() + ttlMs),
        owner_instance: instanceId,
        claim_token: token,
      };
      // One statement: insert, or take over a row that expired or whose holder vanished with the
      // same request (its lock ran out, or its process's heartbeat stopped). Two racing callers
      // cannot both get a row back.
      const won = await db
        .insertInto('idempotency_key')
        .values(fresh)
        .onConflict((oc) =>
          oc.columns(['tenant_id', 'idem_key']).doUpdateSet(fresh).where((eb) =>
            eb.or([
              eb('idempotency_key.expires_at', '<=', now),
              eb.and([
                eb('idempotency_key.status', '=', 'IN_PROGRESS'),
                eb('idempotency_key.request_hash', '=', requestHash),
                eb.or([
                  eb('idempotency_key.locked_until', '<=', now),
                  eb.exists(
                    eb
                      .selectFrom('process_instance')
                      .select('process_instance.instance_id')
                      .whereRef('process_instance.instance_id', '=', 'idempotency_key.owner_instance')
                      .where('process_instance.heartbeat_at', '<', sql<Date>`now() - make_interval(secs => ${HEARTBEAT_STALE_SECONDS})`),
                  ),
                ]),
              ]),
            ]),
          ),
        )
        .returning('idem_key')
        .executeTakeFirst();
      if (won) return { kind: 'claimed', claim: { scope, key, requestHash, token, settled: false } };

      const existing = await db
        .selectFrom('idempotency_key')
        .select(['request_hash', 'status', 'response_status', 'response_body'])
        .where('tenant_id', '=', scope)
        .where('idem_key', '=', key)
        .executeTakeFirst();
      if (!existing) {
        // Purged between the two statements: extremely rare; the client may simply retry.
        throw new AppError('conflict', 'request_in_progress', 'The request with this Idempotency-Key is being processed; retry shortly');
      }
      if (existing.request_hash !== requestHash) {
        throw new AppError(
          'unprocessable',
          'idempotency_key_reused',
          'This Idempotency-Key was already used with a different request or by another API key; use a new key for a new request',
        );
      }
      if (existing.status === 'IN_PROGRESS') {
        throw new AppError('conflict', 'request_in_progress', 'The request with this Idempotency-Key is still being processed; retry shortly');
      }
      return { kind: 'replay', status: existing.response_status ?? 200, body: existing.response_body };
    },

    async complete(trx, claim, status, body) {
      if (!(await settle(trx, claim, status, body))) {
        // A retry took the key over (this process was taken for dead): throwing rolls this
        // change back, so only the retry's change commits.
        throw new AppError('conflict', 'request_in_progress', 'A retry of this request took over its Idempotency-Key; its answer is the one kept');
      }
    },

    async completeAlone(claim, status, body) {
      await settle(db, claim, status, body);
      claim.settled = true;
    },

    async release(claim) {
      claim.settled = true;
      await db
        .deleteFrom('idempotency_key')
        .where('tenant_id', '=', claim.scope)
        .where('idem_key', '=', claim.key)
        .where('status', '=', 'IN_PROGRESS')
        .where('claim_token', '=', claim.token)
        .execute();
    },

    async purgeExpired() {
      const result = await db.deleteFrom('idempotency_key').where('expires_at', '<=', clock.now()).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };

  /** Records the answer if the claim is still this request's; false when a retry took it over. */
  async function settle(executor: Executor, claim: IdempotencyClaim, status: number, body: unknown): Promise<boolean> {
    const result = await executor
      .updateTable('idempotency_key')
      .set({
        status: 'COMPLETED',
        locked_until: null,
        response_status: status,
        response_body: JSON.stringify(body ?? null),
      })
      .where('tenant_id', '=', claim.scope)
      .where('idem_key', '=', claim.key)
      .where('request_hash', '=', claim.requestHash)
      .where('status', '=', 'IN_PROGRESS')
      .where('claim_token', '=', claim.token)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}
