import type { FastifyReply, FastifyRequest } from 'fastify';
import { sql, type Transaction } from 'kysely';
import { type Database, type Executor, runTransaction } from '../../db/client.js';
import type { DB } from '../../db/schema.js';
import type { IdempotencyStore } from '../idempotency.js';
import { retryTransient } from '../../db/retry.js';

export interface UnitOfWorkOptions<T> {
  /**
   * What the Idempotency-Key record keeps of the response, when that must differ from what the
   * caller gets (a secret shown once must not be kept in the record).
   */
  recordAs?: (result: T) => unknown;
  /**
   * The work is atomic on its own (one statement, like the grant): without an Idempotency-Key
   * there is nothing to record with it, so it runs without a wrapping transaction and saves the
   * BEGIN and COMMIT round trips. With a key it still runs in the transaction that records it.
   */
  selfContained?: boolean;
}

type Status<T> = number | ((result: T) => number);

/**
 * The recording half of a unit of work, for a service that opens its own transaction because part
 * of its work must stay outside one (a redemption calls Redis before and after it).
 */
export interface AnswerRecorder<T> {
  /** Records the answer in the work's transaction, serialized before the commit as the unit of work does. */
  record(trx: Transaction<DB>, value: T): Promise<void>;
  /** After the commit: the recorded answer is durable. */
  committed(): void;
}

export interface UnitOfWork {
  /** `status`: the success status, or a function of the result (e.g. 201 created / 200 already there). */
  <T>(request: FastifyRequest, reply: FastifyReply, status: Status<T>, work: (trx: Transaction<DB>) => Promise<T>, options?: UnitOfWorkOptions<T>): Promise<T>;
  /** Work that is atomic on its own gets the root database when there is nothing to record. */
  <T>(
    request: FastifyRequest,
    reply: FastifyReply,
    status: Status<T>,
    work: (exec: Executor) => Promise<T>,
    options: UnitOfWorkOptions<T> & { selfContained: true },
  ): Promise<T>;
  /**
   * For a service that opens its own transaction: null without an Idempotency-Key (the status is
   * set and the work needs no transaction for it), else what records the answer in that transaction.
   */
  recorder<T>(request: FastifyRequest, reply: FastifyReply, status: number): AnswerRecorder<T> | null;
}

/**
 * Runs a write in one transaction and, when the request holds an Idempotency-Key, records the
 * response in that same transaction: the change and its recorded answer commit together, so a
 * crash can never leave a change whose retry would do it twice. The answer is serialized inside
 * the transaction too. A self-contained write without a key (one statement, such as a grant)
 * commits on its own; its answer is built from rows the database returned.
 */
export function createUnitOfWork(deps: { db: Database; idempotency: IdempotencyStore }): UnitOfWork {
  return Object.assign(implementation(deps), { recorder: recorder(deps) }) as UnitOfWork;
}

function recorder(deps: { idempotency: IdempotencyStore }) {
  return <T>(request: FastifyRequest, reply: FastifyReply, status: number): AnswerRecorder<T> | null => {
    reply.code(status);
    const claim = request.idempotency;
    if (!claim) return null;
    return {
      async record(trx, value) {
        // As in the unit of work: an answer that cannot be sent rolls the change back.
        reply.serialize(value);
        await deps.idempotency.complete(trx, claim, status, value);
      },
      committed() {
        claim.settled = true;
      },
    };
  };
}

/**
 * The console operator a request acts for (its session, set by src/app/auth.ts), else null: an
 * API key, the master key or a client request.
 */
export function actingOperator(request: FastifyRequest): string | null {
  return (request as { operatorSession?: { operatorId?: string } | null }).operatorSession?.operatorId ?? null;
}

/**
 * Names the console operator to the database for the rest of the transaction: the triggers of
 * 0059_actor_stamps.sql (mh_stamp_actor) stamp created_by / updated_by from it. One statement,
 * run only for an operator's change; API keys and the grant path never run it.
 */
export async function stampActor(trx: Transaction<DB>, operatorId: string): Promise<void> {
  await sql`select set_config('mh.actor', ${operatorId}, true)`.execute(trx);
}

function implementation(deps: { db: Database; idempotency: IdempotencyStore }) {
  // One implementation behind both signatures: `work` gets a Transaction, or the root database
  // when it declared itself self-contained.
  return async <T>(request: FastifyRequest, reply: FastifyReply, status: Status<T>, work: (exec: Executor) => Promise<T>, options?: UnitOfWorkOptions<T>) => {
    const claim = request.idempotency;
    const operator = actingOperator(request);
    // An operator's change always runs in a transaction, which names the operator for the stamps.
    if (!claim && !operator && options?.selfContained) {
      const value = await work(deps.db);
      reply.code(typeof status === 'number' ? status : status(value));
      return value;
    }
    const run = () =>
      runTransaction(deps.db, async (trx) => {
        if (operator) await stampActor(trx, operator);
        const value = await work(trx);
        const code = typeof status === 'number' ? status : status(value);
        reply.code(code);
        // The answer (what the Idempotency-Key record keeps: the body, less any secret shown once)
        // is serialized by the route's response schema before the commit, so an answer that cannot
        // be sent rolls the change back: never a 500 for a change that stayed.
        const answer = options?.recordAs ? options.recordAs(value) : value;
        reply.serialize(answer);
        if (claim) await deps.idempotency.complete(trx, claim, code, answer);
        return value;
      });
    const result = await retryTransient(run);
    // Only now is the recorded answer durable; if the commit had failed, onSend would release
    // (5xx) or record (4xx) the key instead.
    if (claim) claim.settled = true;
    return result;
  };
}
