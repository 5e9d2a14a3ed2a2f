import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normalizeIp } from '../platform/client-ip.js';
import type { TenantActor } from '../platform/actor.js';
import type { AppError } from '../platform/errors.js';
import type { ClientUserField } from '../platform/http/types.js';
import { type ClientAccessService, clientErrors, type ClientGuard } from '../modules/client-access/index.js';

/**
 * Client requests (docs/clients.md): a browser or app sends `X-Publishable-Key`, an end-user JWT
 * as `Authorization: Bearer`, and optionally `X-Device-Id` and `X-Product-Code`. It becomes a
 * tenant actor of role `service` limited to the key's app, acting for the token's `sub` only.
 */
export interface ClientAuthDeps {
  clientAccess: ClientAccessService;
  guard: ClientGuard;
}

/** The request headers a client page may send (answered to every allowed preflight). */
const ALLOWED_HEADERS = 'authorization, content-type, x-publishable-key, x-device-id, x-product-code, idempotency-key, accept-language, x-request-id';
const EXPOSED_HEADERS = 'retry-after, x-request-id, idempotent-replayed';
const DEVICE_ID = /^[\x21-\x7e]{1,128}$/;

const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

export const isClientRequest = (request: FastifyRequest): boolean => request.headers['x-publishable-key'] !== undefined;

function allowOrigin(reply: FastifyReply, origin: string): void {
  void reply.header('access-control-allow-origin', origin);
  void reply.header('access-control-expose-headers', EXPOSED_HEADERS);
  void reply.header('vary', 'Origin');
}

/**
 * Resolves the key, checks the Origin, the route, X-Product-Code, the user token and the rate
 * limits, in this order; answers the caller's actor or throws the refusal. The Origin is checked
 * before anything else is said, and once it is allowed every answer (refusals too) carries
 * Access-Control-Allow-Origin, so the page can read the error code.
 */
export async function authenticateClient(request: FastifyRequest, reply: FastifyReply, deps: ClientAuthDeps): Promise<TenantActor> {
  const info = await deps.clientAccess.resolveKey(header(request, 'x-publishable-key') ?? '');
  const origin = header(request, 'origin');
  if (origin !== undefined) {
    if (!info.allowedOrigins.has(origin)) throw clientErrors.originNotAllowed(origin);
    allowOrigin(reply, origin);
  }
  const route = request.routeOptions.config.client;
  if (!route) throw clientErrors.clientRouteNotAllowed();
  const product = header(request, 'x-product-code');
  if (product !== undefined && product !== info.productCode) throw clientErrors.productNotAllowed(product, [info.productCode]);
  // The app's product for the routes that read it from the header (its quotas then apply).
  request.headers['x-product-code'] = info.productCode;
  const deviceId = header(request, 'x-device-id') ?? null;
  if (deviceId !== null && !DEVICE_ID.test(deviceId)) throw clientErrors.invalidDeviceId();

  // The token is verified first, but a refusal of it is answered after the limits are charged: a
  // flood of forged tokens is rate limited like any other request.
  let userId: string | null = null;
  let refusal: AppError | undefined;
  const authorization = header(request, 'authorization');
  const bearer = authorization === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
  if (authorization === undefined) {
    if (!route.anonymous) refusal = clientErrors.userTokenRequired();
  } else if (bearer === undefined) {
    refusal = clientErrors.userTokenInvalid('malformed');
  } else {
    try {
      userId = (await deps.clientAccess.endUser(info, bearer)).userId;
    } catch (err) {
      refusal = err as AppError;
    }
  }
  const ip = normalizeIp(request.ip);
  await deps.guard.admit({ tenantId: info.tenantId, keyId: info.keyId, productCode: info.productCode, userId, deviceId, ip });
  if (refusal) throw refusal;
  return Object.freeze({
    kind: 'tenant',
    tenantId: info.tenantId,
    keyId: info.keyId,
    role: 'service',
    productCodes: Object.freeze([info.productCode]),
    client: Object.freeze({ publishableKeyId: info.keyId, productCode: info.productCode, endUserId: userId, deviceId }),
  });
}

type Located = { location: 'body' | 'query' | 'params'; name: string; label: string };

function located(field: ClientUserField): Located {
  const dot = field.indexOf('.');
  const location = field.slice(0, dot) as Located['location'];
  const name = field.slice(dot + 1);
  return { location, name, label: location === 'params' ? name : `${location === 'body' ? 'body' : 'query'}.${name}` };
}

/**
 * Before validation, for a client actor: every user field the route names must be the token's
 * sub (403 user_mismatch), and a missing body / query field is filled with it; without a token
 * (an anonymous-safe route) naming a user at all needs one (401 user_token_required). A
 * `client_ip` the body schema takes is the request's own address: a client cannot choose it.
 */
export function bindClientUser(request: FastifyRequest, actor: TenantActor): AppError | undefined {
  const client = actor.client!;
  const spec = request.routeOptions.config.client?.user;
  const fields = spec === undefined ? [] : typeof spec === 'string' ? [spec as ClientUserField] : spec;
  for (const field of fields) {
    const { location, name, label } = located(field);
    let source = request[location] as Record<string, unknown> | undefined | null;
    const value = source?.[name];
    if (client.endUserId === null) {
      if (value !== undefined) return clientErrors.userTokenRequired();
      continue;
    }
    if (value === undefined) {
      if (location === 'params') return clientErrors.userMismatch(label);
      if (source === undefined || source === null || typeof source !== 'object' || Array.isArray(source)) {
        if (location !== 'body' || (source !== undefined && source !== null)) continue;
        source = {};
        request.body = source;
      }
      source[name] = client.endUserId;
    } else if (value !== client.endUserId) {
      return clientErrors.userMismatch(label);
    }
  }
  const bodySchema = request.routeOptions.schema?.body as { properties?: Record<string, unknown> } | undefined;
  const body = request.body as Record<string, unknown> | undefined;
  if (bodySchema?.properties?.client_ip !== undefined && body && typeof body === 'object' && !Array.isArray(body)) {
    const ip = normalizeIp(request.ip);
    if (ip) body.client_ip = ip;
    else delete body.client_ip;
  }
  return undefined;
}

/**
 * CORS preflight for client pages: OPTIONS on any path with Origin and Access-Control-Request-Method
 * (any other OPTIONS is 404 route_not_found, as before), answered 204 with the allowed methods and
 * headers when the Origin is registered on some active publishable key, else 403
 * origin_not_allowed (no CORS headers, so the browser blocks the request). The real request is
 * then checked against its own key's origins (authenticateClient).
 */
export function installClientCors(app: FastifyInstance, clientAccess: ClientAccessService): void {
  app.options('*', { schema: { hide: true }, config: { auth: 'public' } }, async (request, reply) => {
    const origin = header(request, 'origin');
    // Not a CORS preflight: as without this route (404 route_not_found).
    if (origin === undefined || request.headers['access-control-request-method'] === undefined) return reply.callNotFound();
    if (!(await clientAccess.originRegistered(origin))) throw clientErrors.originNotAllowed(origin);
    allowOrigin(reply, origin);
    void reply.header('access-control-allow-methods', 'GET, POST');
    void reply.header('access-control-allow-headers', ALLOWED_HEADERS);
    void reply.header('access-control-max-age', '600');
    void reply.header('vary', 'Origin, Access-Control-Request-Headers');
    return reply.code(204).send();
  });
}
