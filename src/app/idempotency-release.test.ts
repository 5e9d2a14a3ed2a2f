import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { AppError } from '../platform/errors.js';
import type { IdempotencyClaim, IdempotencyStore } from '../platform/idempotency.js';
import { installErrorHandling } from './error-handler.js';
import { installIdempotency } from './idempotency-hooks.js';

/**
 * A request that failed because the database was away could not release its Idempotency-Key
 * either (the release needs the database too). It keeps trying in the background, so the
 * client's retry runs once the database is back instead of getting request_in_progress until
 * the claim's lock runs out.
 */
describe('an Idempotency-Key claimed by a request the database failed', () => {
  it('is released in the background once the database answers again', async () => {
    const released: string[] = [];
    let failuresLeft = 3;
    const store: IdempotencyStore = {
      claim: async ({ scope, key, requestHash }) => ({ kind: 'claimed', claim: { scope, key, requestHash, token: 't1', settled: false } }),
      complete: async () => {},
      completeAlone: async () => {},
      release: async (claim: IdempotencyClaim) => {
        if (failuresLeft-- > 0) throw Object.assign(new Error('connect ECONNREFUSED'), { databaseUnavailable: true });
        released.push(claim.key);
      },
      purgeExpired: async () => 0,
    };
    const app = Fastify();
    installErrorHandling(app);
    installIdempotency(app, store, { releaseRetryMs: 20 });
    app.post('/grant', async () => {
      throw new AppError('unavailable', 'database_unavailable', 'The database is unavailable');
    });
    try {
      const reply = await app.inject({ method: 'POST', url: '/grant', headers: { 'idempotency-key': 'k1' }, payload: {} });
      expect(reply.statusCode).toBe(503);
      expect(reply.json().error.code).toBe('database_unavailable');
      // The first release failed with the request; the retries fail twice more, then succeed.
      const until = Date.now() + 5000;
      while (released.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(released).toEqual(['k1']);
      expect(failuresLeft).toBe(-1);
    } finally {
      await app.close();
    }
  });
});
