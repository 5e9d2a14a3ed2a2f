import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Actor, hasRole } from '../platform/actor.js';
import { AppError } from '../platform/errors.js';
import type { RouteAuth } from '../platform/http/types.js';
import type { ApiKeyService } from '../modules/tenants/index.js';
import { operatorErrors, readCookie, type ResolvedSession, sameToken, SESSION_COOKIE, type SessionService } from '../modules/operators/index.js';
import { authenticateClient, bindClientUser, type ClientAuthDeps, installClientCors, isClientRequest } from './client-auth.js';

function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) {
    throw new AppError('unauthorized', 'unauthorized', 'Send an API key as `Authorization: Bearer <key>`');
  }
  return match[1]!;
}

/** Sets the caller on the request and applies the route's `auth` / `role`: an error, or none. */
function admit(request: FastifyRequest, actor: Actor, auth: Exclude<RouteAuth, 'public' | 'optional'>): AppError | undefined {
  request.actor = actor;
  if (auth === 'master' && actor.kind !== 'master') {
    return new AppError('forbidden', 'master_key_required', 'This call needs the platform master key');
  }
  if (auth === 'any' && actor.kind === 'tenant') {
    // The service decides `any` routes (master key, or a key of the tenant in the path), but a
    // route that names a least role has it checked here too, before the Idempotency-Key is looked
    // at: a readonly key resending an admin's request is refused for its role, as without the key.
    // A key of another tenant is left to the service, which answers it 404 like a missing tenant.
    const role = request.routeOptions.config.role;
    const pathTenant = (request.params as { tenant_id?: string } | undefined)?.tenant_id;
    if (role && (pathTenant === undefined || pathTenant === actor.tenantId) && !hasRole(actor, role)) {
      return new AppError('forbidden', 'insufficient_role', `This call needs a key with the ${role} role`, { required_role: role, key_role: actor.role });
    }
  }
  if (auth === 'tenant') {
    if (actor.kind !== 'tenant') {
      return new AppError('forbidden', 'tenant_key_required', 'This call needs an API key of a tenant, not the master key');
    }
    const role = request.routeOptions.config.role ?? (request.method === 'GET' || request.method === 'HEAD' ? 'readonly' : 'service');
    if (!hasRole(actor, role)) {
      return new AppError(
        'forbidden',
        role === 'service' && actor.role === 'readonly' ? 'read_only_key' : 'insufficient_role',
        `This call needs a key with the ${role} role; this key is ${actor.role}`,
        { required_role: role, key_role: actor.role },
      );
    }
  }
  return undefined;
}

/**
 * Admits a console session (the mh_session cookie) as its operator's actor, through the same
 * checks as a key; a change must carry the session's X-CSRF-Token (403 csrf_token_invalid).
 */
function admitSession(request: FastifyRequest, session: ResolvedSession, auth: Exclude<RouteAuth, 'public' | 'optional'>): AppError | undefined {
  request.operatorSession = session;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    const sent = request.headers['x-csrf-token'];
    if (!sameToken(typeof sent === 'string' ? sent : undefined, session.csrfToken)) {
      request.actor = session.actor;
      return operatorErrors.csrfInvalid();
    }
  }
  return admit(request, session.actor, auth);
}

/**
 * Authenticates every /v1 call and applies the route's `auth` / `role` config. Runs onRequest,
 * before the body is parsed, so an anonymous caller learns nothing about validation. A request
 * with X-Publishable-Key is a client request (client-auth.ts): its Authorization header is an
 * end-user token, never an API key, and only routes with `config.client` accept it.
 */
export function installAuth(app: FastifyInstance, apiKeys: ApiKeyService, client: ClientAuthDeps, sessions?: SessionService): void {
  app.decorateRequest('actor', null);
  app.decorateRequest('operatorSession', null);
  installClientCors(app, client.clientAccess);

  // Callback style, not async: most calls come with a key verified a moment ago, and answering
  // those without a promise is a measurable part of a cheap request (a sold-out refusal).
  app.addHook('onRequest', (request, reply, done) => {
    const config = request.routeOptions.config;
    const isApi = request.routeOptions.url?.startsWith('/v1/') ?? false;
    const declared = config.auth ?? (isApi ? 'tenant' : 'public');
    if (isClientRequest(request) && request.method !== 'OPTIONS' && request.routeOptions.url !== undefined) {
      const auth = declared === 'public' || declared === 'optional' ? 'tenant' : declared;
      authenticateClient(request, reply, client).then(
        (actor) => done(admit(request, actor, auth)),
        (err: unknown) => done(err as Error),
      );
      return;
    }
    if (declared === 'public') return done();
    // `optional`: without an Authorization header the route scopes the call itself; with one, it is a tenant route.
    if (declared === 'optional' && request.headers.authorization === undefined) return done();
    const auth = declared === 'optional' ? 'tenant' : declared;
    // No Authorization header but a console session cookie (never on `optional` routes, which
    // serve public pages keyless): the operator's actor. An Authorization header always wins.
    const cookie = sessions && declared !== 'optional' && request.headers.authorization === undefined ? readCookie(request.headers.cookie, SESSION_COOKIE) : undefined;
    if (cookie !== undefined) {
      const known = sessions!.known(cookie);
      if (known) return done(admitSession(request, known, auth));
      sessions!.resolve(cookie).then(
        (session) => done(admitSession(request, session, auth)),
        (err: unknown) => done(err as Error),
      );
      return;
    }
    let token: string;
    try {
      token = bearerToken(request);
      const known = apiKeys.knownActor(token);
      if (known) return done(admit(request, known, auth));
    } catch (err) {
      return done(err as Error);
    }
    apiKeys.authenticate(token).then(
      (actor) => done(admit(request, actor, auth)),
      (err: unknown) => done(err as Error),
    );
  });

  // The tenant comes from the key, never from the request: a body or query naming another tenant
  // is refused rather than silently ignored.
  app.addHook('preValidation', (request, _reply, done) => {
    const actor = request.actor;
    if (!actor || actor.kind !== 'tenant') return done();
    if (actor.client) {
      const refusal = bindClientUser(request, actor);
      if (refusal) return done(refusal);
    }
    for (const source of [request.body, request.query]) {
      const claimed = (source as { tenant_id?: unknown } | undefined)?.tenant_id;
      if (claimed !== undefined && claimed !== actor.tenantId) {
        return done(
          new AppError('forbidden', 'tenant_mismatch', 'tenant_id does not match the tenant of the API key', {
            field: 'tenant_id',
          }),
        );
      }
    }
    done();
  });
}
