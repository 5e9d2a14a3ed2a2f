import type { Role } from '../../platform/actor.js';
import { AppError } from '../../platform/errors.js';

/**
 * The tenants module's error codes and messages (tenants and API keys), one factory per refusal.
 * `code` is the contract with clients: never change an existing one.
 */
export const tenantErrors = {
  /** 409: a tenant with this id exists already (unique index). */
  alreadyExists: (tenantId: string) =>
    new AppError('conflict', 'tenant_already_exists', `Tenant ${tenantId} already exists`, {
      tenant_id: tenantId,
    }),

  /** 403: the key belongs to the tenant but its role is below the one the call needs. */
  insufficientRole: (required: Role, keyRole: Role) =>
    new AppError('forbidden', 'insufficient_role', `This call needs a key with the ${required} role`, {
      required_role: required,
      key_role: keyRole,
    }),

  /** 401: the bearer token is no API key this service knows (malformed, unknown or wrong secret). */
  unknownApiKey: () => new AppError('unauthorized', 'unauthorized', 'Unknown API key'),

  /** 401: the API key exists but was revoked. */
  revokedApiKey: () => new AppError('unauthorized', 'unauthorized', 'This API key was revoked'),
};
