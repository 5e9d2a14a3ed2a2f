import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../platform/errors.js';
import { IDEMPOTENCY_KEY_PATTERN, type IdempotencyClaim, type IdempotencyStore } from '../platform/idempotency.js';
import { fingerprint } from '../platform/secrets.js';

/**
 * Idempotency-Key for every POST: claimed after validation (a request that fails validation
 * changed nothing and is not recorded), replayed or refused before the handler runs, and settled
 * by the unit of work (same transaction as the change) or, for refusals, in onSend.
 */
export function installIdempotency(app: FastifyInstance, store: IdempotencyStore, options: { releaseRetryMs?: number } = {}): void {
  const releaseRetryMs = options.releaseRetryMs ?? 1000;
  app.decorateRequest('idempotency', null);

  // Callback style: the common call has no key and must not pay for a promise.
  app.addHook('preHandler', (request, reply, done) => {
    if (request.method !== 'POST' || request.routeOptions.config.idempotent === false) return done();
    const raw = request.headers['idempotency-key'];
    if (raw === undefined) return done();
    // A replay has been answered by claimKey: a callback hook that replied must not call done.
    claimKey(request, reply, Array.isArray(raw) ? raw[0] : raw).then(
      (replied) => (replied ? undefined : done()),
      (err: unknown) => done(err as Error),
    );
  });

  /** Claims the key for this request, or answers a replay (true: the reply is sent). */
  async function claimKey(request: FastifyRequest, reply: FastifyReply, key: string | undefined): Promise<boolean> {
    if (!key || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
      throw new AppError('invalid', 'invalid_request', 'Idempotency-Key must be 1-255 printable ASCII characters', {
        field: 'idempotency-key',
        location: 'headers',
      });
    }
    const actor = request.actor;
    const scope = actor?.kind === 'tenant' ? actor.tenantId : '_platform';
    const route = request.routeOptions.url ?? request.url;
    // The stored answer belongs to the API key that made it: the key's id is part of the
    // request, so another key (a readonly one, one limited to other products) sending the same
    // Idempotency-Key and body never gets that answer. It is refused exactly like a different body
    // (422 idempotency_key_reused, same message), so the refusal cannot confirm a guessed body.
    // Not run as a new request either: a client retrying with a rotated key would then do the
    // change twice. The master key is one actor.
    const caller = actor?.kind === 'tenant' ? actor.keyId : (actor?.kind ?? 'anonymous');
    const outcome = await store.claim({
      scope,
      key,
      method: request.method,
      route,
      requestHash: fingerprint({
        method: request.method,
        caller,
        route,
        params: request.params ?? null,
        query: request.query ?? null,
        body: request.body ?? null,
        product: request.headers['x-product-code'] ?? null,
      }),
    });
    if (outcome.kind === 'replay') {
      void reply.header('idempotent-replayed', 'true');
      void reply.code(outcome.status).send(outcome.body);
      return true;
    }
    request.idempotency = outcome.claim;
    return false;
  }

  // A request that claimed a key but did not settle it in its transaction: a refusal (4xx, after
  // its rollback) is recorded so the retry gets the same answer; a failure of ours (5xx) releases
  // the key so the retry can run. So does a 429: "retry after N seconds" is an invitation to send
  // the same request again, and replaying the 429 to that retry would refuse it for a day.
  app.addHook('onSend', (request, reply, payload, done) => {
    const claim = request.idempotency;
    if (!claim || claim.settled) return done(null, payload);
    const release = reply.statusCode >= 500 || reply.statusCode === 429;
    const settle = release ? store.release(claim) : store.completeAlone(claim, reply.statusCode, parseJson(payload));
    settle.then(
      () => done(null, payload),
      (err: unknown) => {
        request.log.error({ err }, 'could not settle idempotency key');
        // The database was away (the very failure answered): keep trying, or the client's retry
        // would be refused with request_in_progress until the claim's lock runs out.
        if (release) retryRelease(store, claim, releaseRetryMs, request);
        done(null, payload);
      },
    );
  });
}

/** Releases the claim in the background, once a `everyMs` (for at most a minute, the default lock). */
function retryRelease(store: IdempotencyStore, claim: IdempotencyClaim, everyMs: number, request: FastifyRequest, tries = Math.ceil(60_000 / everyMs)): void {
  if (tries <= 0) return;
  // Unref'd: a retry pending must not hold a stopping process.
  setTimeout(() => {
    store.release(claim).catch((err: unknown) => {
      if (tries === 1) request.log.warn({ err }, 'gave up releasing an idempotency key; its lock runs out instead');
      retryRelease(store, claim, everyMs, request, tries - 1);
    });
  }, everyMs).unref();
}

function parseJson(payload: unknown): unknown {
  if (typeof payload !== 'string') return null;
  try {
    return JSON.parse(payload);
  } catch {
    return payload;
  }
}
