import type { Database, Executor } from '../../db/client.js';
import { type Actor, type Role, hasRole } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { notFound } from '../../platform/errors.js';
import { pagination, toPage } from '../../platform/paging.js';
import { tenantErrors } from './tenant.errors.js';
import * as repo from './tenant.repo.js';
import type { CreateTenantInput, TenantView } from './tenant.schemas.js';

export type TenantService = ReturnType<typeof createTenantService>;

export function toTenantView(row: repo.TenantRow): TenantView {
  return {
    tenant_id: row.tenant_id,
    name: row.name,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

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

export function createTenantService(deps: { db: Database; clock: Clock }) {
  const { db, clock } = deps;
  return {
    /** Creates a tenant (master key only; the route enforces it). */
    async createTenant(input: CreateTenantInput, exec: Executor = db): Promise<TenantView> {
      const now = clock.now();
      const row = await repo.insertTenant(exec, { tenant_id: input.tenant_id, name: input.name, created_at: now, updated_at: now });
      return toTenantView(row);
    },

    /** One tenant, as seen by `actor` (another tenant's key sees a 404). */
    async getTenant(actor: Actor, tenantId: string, exec: Executor = db): Promise<TenantView> {
      assertTenantAccess(actor, tenantId, 'readonly');
      const row = await repo.findTenant(exec, tenantId);
      if (!row) throw notFound('tenant', tenantId);
      return toTenantView(row);
    },

    /** All tenants, newest first (master key only). */
    async listTenants(query: { page?: number; page_size?: number }, exec: Executor = db) {
      const page = toPage(query);
      const { rows, total } = await repo.listTenants(exec, page);
      return { tenants: rows.map(toTenantView), pagination: pagination(total, page) };
    },

    /** Throws tenant_not_found unless the tenant exists. */
    async requireTenantExists(tenantId: string, exec: Executor = db): Promise<void> {
      if (!(await repo.findTenant(exec, tenantId))) throw notFound('tenant', tenantId);
    },
  };
}
