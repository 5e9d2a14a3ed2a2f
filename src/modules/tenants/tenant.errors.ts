import type { Role } from '../../platform/actor.js';
import { AppError } from '../../platform/errors.js';
import type { CodeQuotaView } from './tenant.schemas.js';

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

  /**
   * A batch of codes would pass the tenant's code-generation quota: 429 for the day's limit
   * (it comes back at resets_at), 409 for the total. Names the limit and what is left.
   */
  codeQuotaExceeded: (limit: 'daily' | 'total', requested: number, quota: CodeQuotaView) => {
    const left = limit === 'daily' ? quota.remaining_today : quota.remaining_total;
    const what = limit === 'daily' ? `today's limit of ${quota.daily_limit} codes (${quota.time_zone})` : `the total limit of ${quota.total_limit} codes`;
    return new AppError(limit === 'daily' ? 'rate_limited' : 'conflict', 'code_quota_exceeded', `${requested} codes would pass ${what}: ${left} left`, {
      limit,
      requested,
      remaining: left,
      daily_limit: quota.daily_limit,
      total_limit: quota.total_limit,
      remaining_today: quota.remaining_today,
      remaining_total: quota.remaining_total,
      time_zone: quota.time_zone,
      resets_at: limit === 'daily' ? quota.resets_at : null,
    });
  },

  /** 404: the tenant has no code-generation quota (it generates without limit). */
  noCodeQuota: (tenantId: string) =>
    new AppError('not_found', 'code_quota_not_found', `Tenant ${tenantId} has no code quota: it generates codes without limit`, { tenant_id: tenantId }),

  /** 400: a time zone the runtime does not know. */
  unknownTimeZone: (zone: string) =>
    new AppError('invalid', 'invalid_request', `time_zone: unknown time zone ${JSON.stringify(zone)}; use an IANA name such as Asia/Shanghai`, { field: 'time_zone' }),
};
