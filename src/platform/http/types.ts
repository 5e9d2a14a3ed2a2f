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

/** Where a client route names its end user: `body.user_id`, `query.user_id`, `params.user_id`, ... */
export type ClientUserField = `body.${string}` | `query.${string}` | `params.${string}`;

/**
 * A route a client (X-Publishable-Key, docs/clients.md) may call. `user`: the field(s) naming the
 * end user; each must equal the token's `sub` (403 user_mismatch) and a missing body / query
 * field is filled from it before validation. `anonymous`: the route reads nothing personal and
 * also answers a client without an end-user token (default: 401 user_token_required).
 */
export interface ClientRouteConfig {
  user?: ClientUserField | readonly ClientUserField[];
  anonymous?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
    /** Set: the route also accepts client requests (a publishable key); unset: they get 403 client_route_not_allowed. */
    client?: ClientRouteConfig;
    role?: Role;
    /** POSTs honour Idempotency-Key unless this is false. */
    idempotent?: boolean;
  }
  interface FastifyRequest {
    actor: Actor | null;
    idempotency: IdempotencyClaim | null;
  }
}
