import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import type { Database } from '../db/client.js';
import type { DB } from '../db/schema.js';
import type { IdempotencyStore } from '../platform/idempotency.js';

export interface UnitOfWorkOptions<T> {
  /**
   * What the Idempotency-Key record keeps of the response, when that must differ from what the
   * caller gets (a secret shown once must not be kept in the record).
   */
  recordAs?: (result: T) => unknown;
}

export type UnitOfWork = <T>(
  request: FastifyRequest,
  reply: FastifyReply,
  /** The success status, or a function of the result (e.g. 201 created / 200 already there). */
  status: number | ((result: T) => number),
  work: (trx: Transaction<DB>) => Promise<T>,
  options?: UnitOfWorkOptions<T>,
) => Promise<T>;

/**
 * Runs a write in one transaction and, when the request holds an Idempotency-Key, records the
 * response in that same transaction: the change and its recorded answer commit together, so a
 * crash can never leave a change whose retry would do it twice.
 */
export function createUnitOfWork(deps: { db: Database; idempotency: IdempotencyStore }): UnitOfWork {
  return async (request, reply, status, work, options) => {
    const claim = request.idempotency;
    const result = await deps.db.transaction().execute(async (trx) => {
      const value = await work(trx);
      const code = typeof status === 'number' ? status : status(value);
      reply.code(code);
      if (claim) await deps.idempotency.complete(trx, claim, code, options?.recordAs ? options.recordAs(value) : value);
      return value;
    });
    // Only now is the recorded answer durable; if the commit had failed, onSend would release
    // (5xx) or record (4xx) the key instead.
    if (claim) claim.settled = true;
    return result;
  };
}
