import type { Database, Executor } from '../../db/client.js';
import type { Actor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { notFound } from '../../platform/errors.js';
import { pagination, toPage } from '../../platform/paging.js';
import { assertTenantAccess } from './tenant.access.js';
import { createCodeQuotaService } from './code-quota.js';
import * as repo from './tenant.repo.js';
import type { CreateTenantInput, TenantView, UpdateTenantInput } from './tenant.schemas.js';
import type { TenantType } from './tenant.tables.js';

export { assertTenantAccess } from './tenant.access.js';

export type TenantService = ReturnType<typeof createTenantService>;

export function toTenantView(row: repo.TenantRow): TenantView {
  return {
    tenant_id: row.tenant_id,
    name: row.name,
    tenant_type: row.tenant_type,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function createTenantService(deps: { db: Database; clock: Clock }) {
  const { db, clock } = deps;
  const quotas = createCodeQuotaService(deps);
  return {
    /** Code-generation quotas (code-quota.ts): chargeCodes is the port redeem-code batches call. */
    chargeCodes: quotas.chargeCodes,
    getCodeQuota: quotas.getQuota,
    setCodeQuota: quotas.setQuota,
    removeCodeQuota: quotas.removeQuota,

    /** Creates a tenant (master key only; the route enforces it). */
    async createTenant(input: CreateTenantInput, exec: Executor = db): Promise<TenantView> {
      const now = clock.now();
      const row = await repo.insertTenant(exec, {
        tenant_id: input.tenant_id,
        name: input.name,
        tenant_type: input.tenant_type ?? 'PLATFORM',
        created_at: now,
        updated_at: now,
      });
      return toTenantView(row);
    },

    /** Renames a tenant or changes its type (master key only; the route enforces it). */
    async updateTenant(tenantId: string, input: UpdateTenantInput, exec: Executor = db): Promise<TenantView> {
      const row = await repo.updateTenant(exec, tenantId, {
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.tenant_type !== undefined ? { tenant_type: input.tenant_type } : {}),
        updated_at: clock.now(),
      });
      if (!row) throw notFound('tenant', tenantId);
      return toTenantView(row);
    },

    /** The tenant's type (the partner flow's "校验租户有效性"); 404 when it does not exist. */
    async tenantType(tenantId: string, exec: Executor = db): Promise<TenantType> {
      const row = await repo.findTenant(exec, tenantId);
      if (!row) throw notFound('tenant', tenantId);
      return row.tenant_type;
    },

    /** One tenant, as seen by `actor` (another tenant's key sees a 404). */
    async getTenant(actor: Actor, tenantId: string, exec: Executor = db): Promise<TenantView> {
      assertTenantAccess(actor, tenantId, 'readonly');
      const row = await repo.findTenant(exec, tenantId);
      if (!row) throw notFound('tenant', tenantId);
      return toTenantView(row);
    },

    /** All tenants, newest first (master key only). */
    async listTenants(query: { page?: number; page_size?: number; tenant_type?: TenantType; search?: string }, exec: Executor = db) {
      const page = toPage(query);
      const { rows, total } = await repo.listTenants(exec, page, query.tenant_type, query.search?.trim() || undefined);
      return { tenants: rows.map(toTenantView), pagination: pagination(total, page) };
    },

    /** Throws tenant_not_found unless the tenant exists. */
    async requireTenantExists(tenantId: string, exec: Executor = db): Promise<void> {
      if (!(await repo.findTenant(exec, tenantId))) throw notFound('tenant', tenantId);
    },
  };
}
