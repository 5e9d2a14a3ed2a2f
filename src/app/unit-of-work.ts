import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import type { Database } from '../db/client.js';
import type { DB } from '../db/schema.js';
import type { IdempotencyStore } from '../platform/idempotency.js';

export type UnitOfWork = <T>(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  work: (trx: Transaction<DB>) => Promise<T>,
) => Promise<T>;

/**
 * Runs a write in one transaction and, when the request holds an Idempotency-Key, records the
 * response in that same transaction: the change and its recorded answer commit together, so a
 * crash can never leave a change whose retry would do it twice.
 */
export function createUnitOfWork(deps: { db: Database; idempotency: IdempotencyStore }): UnitOfWork {
  return async (request, reply, status, work) => {
    reply.code(status);
    return deps.db.transaction().execute(async (trx) => {
      const result = await work(trx);
      const claim = request.idempotency;
      if (claim) await deps.idempotency.complete(trx, claim, status, result);
      return result;
    });
  };
}
