import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { Actor, Role } from '../actor.js';
import type { IdempotencyClaim } from '../idempotency.js';

/** The Fastify instance with TypeBox types, as every route module receives it. */
export type Api = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/**
 * Who may call a route. `tenant` (the default under /v1): a tenant key with at least `role`
 * (default: readonly for GET, service otherwise). `master`: the master key only. `any`: any valid
 * key; the service decides (used where both the master key and a tenant's admin key may act).
 * `public`: no key. `optional`: no key (the route scopes the call itself, e.g. to a published
 * campaign), or a tenant key checked as for `tenant`.
 */
export type RouteAuth = 'public' | 'tenant' | 'master' | 'any' | 'optional';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
    role?: Role;
    /** POSTs honour Idempotency-Key unless this is false. */
    idempotent?: boolean;
  }
  interface FastifyRequest {
    actor: Actor | null;
    idempotency: IdempotencyClaim | null;
  }
}
