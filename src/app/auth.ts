import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hasRole } from '../platform/actor.js';
import { AppError } from '../platform/errors.js';
import type { ApiKeyService } from '../modules/tenants/index.js';

function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) {
    throw new AppError('unauthorized', 'unauthorized', 'Send an API key as `Authorization: Bearer <key>`');
  }
  return match[1]!;
}

/**
 * Authenticates every /v1 call and applies the route's `auth` / `role` config. Runs onRequest,
 * before the body is parsed, so an anonymous caller learns nothing about validation.
 */
export function installAuth(app: FastifyInstance, apiKeys: ApiKeyService): void {
  app.decorateRequest('actor', null);

  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    const isApi = request.routeOptions.url?.startsWith('/v1/') ?? false;
    const auth = config.auth ?? (isApi ? 'tenant' : 'public');
    if (auth === 'public') return;

    const actor = await apiKeys.authenticate(bearerToken(request));
    request.actor = actor;

    if (auth === 'master' && actor.kind !== 'master') {
      throw new AppError('forbidden', 'master_key_required', 'This call needs the platform master key');
    }
    if (auth === 'tenant') {
      if (actor.kind !== 'tenant') {
        throw new AppError('forbidden', 'tenant_key_required', 'This call needs an API key of a tenant, not the master key');
      }
      const role = config.role ?? (request.method === 'GET' || request.method === 'HEAD' ? 'readonly' : 'service');
      if (!hasRole(actor, role)) {
        throw new AppError(
          'forbidden',
          role === 'service' && actor.role === 'readonly' ? 'read_only_key' : 'insufficient_role',
          `This call needs a key with the ${role} role; this key is ${actor.role}`,
          { required_role: role, key_role: actor.role },
        );
      }
    }
  });

  // The tenant comes from the key, never from the request: a body or query naming another tenant
  // is refused rather than silently ignored.
  app.addHook('preValidation', async (request) => {
    const actor = request.actor;
    if (!actor || actor.kind !== 'tenant') return;
    for (const source of [request.body, request.query]) {
      const claimed = (source as { tenant_id?: unknown } | undefined)?.tenant_id;
      if (claimed !== undefined && claimed !== actor.tenantId) {
        throw new AppError('forbidden', 'tenant_mismatch', 'tenant_id does not match the tenant of the API key', {
          field: 'tenant_id',
        });
      }
    }
  });
}
