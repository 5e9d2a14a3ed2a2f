import type { Database, Executor } from '../../db/client.js';
import { type Actor, canSeeProduct, requireTenant, type TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { notFound } from '../../platform/errors.js';
import { pagination, toPage } from '../../platform/paging.js';
import { createSnapshotCache } from '../../platform/snapshot-cache.js';
import { appErrors } from './app.errors.js';
import * as repo from './app.repo.js';
import type { AppRateLimitsType, AppView, CreateAppInput, UpdateAppInput } from './app.schemas.js';

export type AppService = ReturnType<typeof createAppService>;

function toAppView(row: repo.AppRow): AppView {
  return {
    tenant_id: row.tenant_id,
    product_code: row.product_code,
    name: row.name,
    rate_limits: toRateLimits(row.rate_limits),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** Only the known quota fields of the stored JSON (it is written by this module alone). */
function toRateLimits(stored: unknown): AppRateLimitsType {
  const out: AppRateLimitsType = {};
  if (stored && typeof stored === 'object') {
    const value = stored as Record<string, unknown>;
    for (const field of ['redeem_per_hour', 'redeem_per_day'] as const) {
      const v = value[field];
      if (v === null || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) out[field] = v;
    }
  }
  return out;
}

export function createAppService(deps: { db: Database; clock: Clock; /** How long an app's quotas are reused by the rate limiter (default 5 s; 0: read every time). */ quotaCacheMs?: number }) {
  const { db, clock } = deps;
  // Read on every redemption that names a product: kept briefly, and dropped in this process when
  // the app changes (other processes see a change within quotaCacheMs).
  const quotaCache = createSnapshotCache<{ limits: AppRateLimitsType | null }>({ ttlMs: deps.quotaCacheMs ?? 5_000 });
  const quotaKey = (tenantId: string, productCode: string) => `${tenantId}\u0000${productCode}`;

  async function requireProductsExist(tenantId: string, codes: readonly string[], exec: Executor = db): Promise<void> {
    const found = await repo.findExistingCodes(exec, tenantId, codes);
    const missing = codes.filter((c) => !found.has(c));
    if (missing.length > 0) throw appErrors.unknownProductCode(missing);
  }

  return {
    /** Registers a product line (app) of the caller's tenant. */
    async createApp(actor: Actor, input: CreateAppInput, exec: Executor = db): Promise<AppView> {
      const tenant = requireTenant(actor);
      const now = clock.now();
      const row = await repo.insertApp(exec, {
        tenant_id: tenant.tenantId,
        product_code: input.product_code,
        name: input.name,
        rate_limits: input.rate_limits ? JSON.stringify(input.rate_limits) : null,
        created_at: now,
        updated_at: now,
      });
      quotaCache.delete(quotaKey(tenant.tenantId, input.product_code));
      return toAppView(row);
    },

    async getApp(actor: Actor, productCode: string, exec: Executor = db): Promise<AppView> {
      const tenant = requireTenant(actor);
      const row = canSeeProduct(tenant, productCode) ? await repo.findApp(exec, tenant.tenantId, productCode) : undefined;
      if (!row) throw notFound('app', productCode);
      return toAppView(row);
    },

    async listApps(actor: Actor, query: { page?: number; page_size?: number }, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const page = toPage(query);
      const { rows, total } = await repo.listApps(exec, tenant.tenantId, { ...page, onlyCodes: tenant.productCodes });
      return { apps: rows.map(toAppView), pagination: pagination(total, page) };
    },

    /** Renames the app and / or replaces its quota overrides (`rate_limits`). */
    async updateApp(actor: Actor, productCode: string, input: UpdateAppInput, exec: Executor = db): Promise<AppView> {
      const tenant = requireTenant(actor);
      if (input.name === undefined && input.rate_limits === undefined) {
        throw appErrors.emptyUpdate();
      }
      const change = {
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.rate_limits !== undefined ? { rate_limits: JSON.stringify(input.rate_limits) } : {}),
      };
      const row = canSeeProduct(tenant, productCode)
        ? await repo.updateApp(exec, tenant.tenantId, productCode, change, clock.now())
        : undefined;
      if (!row) throw notFound('app', productCode);
      quotaCache.delete(quotaKey(tenant.tenantId, productCode));
      return toAppView(row);
    },

    /**
     * The app's own redemption quotas (fields it does not set are absent), or null when the
     * tenant has no such app. For the rate limiter; no actor check, the caller has resolved the
     * product code already.
     */
    async getRateLimits(tenantId: string, productCode: string, exec: Executor = db): Promise<AppRateLimitsType | null> {
      const key = quotaKey(tenantId, productCode);
      const cached = exec === db ? quotaCache.get(key) : undefined;
      if (cached) return cached.limits;
      const row = await repo.findRateLimits(exec, tenantId, productCode);
      const limits = row ? toRateLimits(row.rate_limits) : null;
      if (exec === db) quotaCache.set(key, { limits });
      return limits;
    },

    /** Throws unknown_product_code (400) naming every code that is not an app of the tenant. */
    requireProductsExist,

    /**
     * The product line a write applies to: from the body or the X-Product-Code header (they must
     * agree), one of the tenant's apps, and one the key may use.
     */
    async resolveProductCode(
      actor: TenantActor,
      fromBody: string | undefined,
      fromHeader: string | undefined,
      exec: Executor = db,
    ): Promise<string> {
      if (fromBody && fromHeader && fromBody !== fromHeader) {
        throw appErrors.productCodeMismatch(fromBody, fromHeader);
      }
      const code = fromBody ?? fromHeader;
      if (!code) {
        throw appErrors.productCodeRequired();
      }
      if (!canSeeProduct(actor, code)) {
        throw appErrors.productNotAllowed(code, actor.productCodes);
      }
      await requireProductsExist(actor.tenantId, [code], exec);
      return code;
    },
  };
}
