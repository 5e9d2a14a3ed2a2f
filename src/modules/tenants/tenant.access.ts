import { type Actor, type Role, hasRole } from '../../platform/actor.js';
import { notFound } from '../../platform/errors.js';
import { tenantErrors } from './tenant.errors.js';

/**
 * Lets the master key, or a key of this very tenant with at least `role`, act on the tenant.
 * A key of another tenant gets the same 404 as for a tenant that does not exist.
 */
export function assertTenantAccess(actor: Actor, tenantId: string, role: Role): void {
  if (actor.kind === 'master') return;
  if (actor.tenantId !== tenantId) throw notFound('tenant', tenantId);
  if (!hasRole(actor, role)) {
    throw tenantErrors.insufficientRole(role, actor.role);
  }
}
