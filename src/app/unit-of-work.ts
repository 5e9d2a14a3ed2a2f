import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import type { Database } from '../db/client.js';
import type { DB } from '../db/schema.js';
import type { IdempotencyStore } from '../platform/idempotency.js';
import { pgErrorCode } from '../db/errors.js';

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

const TRANSIENT = new Set(['40P01', '40001']);
const ATTEMPTS = 5;

/**
 * Runs a transaction again when PostgreSQL aborted it as a deadlock victim or for a serialization
 * failure: nothing of it was committed, so running it again is safe.
 */
export async function retryTransient<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= ATTEMPTS || !TRANSIENT.has(pgErrorCode(err) ?? '')) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
    }
  }
}

/**
 * Runs a write in one transaction and, when the request holds an Idempotency-Key, records the
 * response in that same transaction: the change and its recorded answer commit together, so a
 * crash can never leave a change whose retry would do it twice.
 */
export function createUnitOfWork(deps: { db: Database; idempotency: IdempotencyStore }): UnitOfWork {
  return async (request, reply, status, work, options) => {
    const claim = request.idempotency;
    const run = () =>
      deps.db.transaction().execute(async (trx) => {
        const value = await work(trx);
        const code = typeof status === 'number' ? status : status(value);
        reply.code(code);
        if (claim) await deps.idempotency.complete(trx, claim, code, options?.recordAs ? options.recordAs(value) : value);
        return value;
      });
    const result = await retryTransient(run);
    // Only now is the recorded answer durable; if the commit had failed, onSend would release
    // (5xx) or record (4xx) the key instead.
    if (claim) claim.settled = true;
    return result;
  };
}
