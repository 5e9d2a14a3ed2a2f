/**
 * Code-generation quotas per tenant: how many redeem codes a tenant may generate per local day
 * and in all. The master key sets them; the tenant reads them. A batch of codes charges its
 * count with ONE conditional UPDATE in the batch's own transaction (chargeCodes), so parallel
 * batches can never pass the quota together, and a refused batch writes nothing.
 */
import { type Selectable, sql } from 'kysely';
import type { Database, Executor } from '../../db/client.js';
import { type Actor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { notFound } from '../../platform/errors.js';
import { tenantErrors } from './tenant.errors.js';
import { findTenant } from './tenant.repo.js';
import type { CodeQuotaView, SetCodeQuotaInput } from './tenant.schemas.js';
import { assertTenantAccess } from './tenant.access.js';
import type { TenantCodeQuotaTable } from './tenant.tables.js';

export type CodeQuotaRow = Selectable<TenantCodeQuotaTable>;

/** The zone a quota's day is counted in unless the master names another: the document's market. */
export const DEFAULT_QUOTA_TIME_ZONE = 'Asia/Shanghai';

/** The charge a batch of codes makes on its tenant's quota, inside the batch's transaction. */
export type ChargeCodes = (exec: Executor, tenantId: string, count: number) => Promise<CodeQuotaView | null>;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The local day (YYYY-MM-DD) of `at` in `zone`. */
export function localDay(at: Date, zone: string): string {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(zone, f);
  }
  return f.format(at);
}

export function isKnownTimeZone(zone: string): boolean {
  try {
    localDay(new Date(0), zone);
    return true;
  } catch {
    return false;
  }
}

/** The first instant after `at` that falls on another local day in `zone` (to the minute). */
export function nextDayStart(at: Date, zone: string): Date {
  const today = localDay(at, zone);
  const step = 15 * 60_000;
  let t = Math.floor(at.getTime() / 60_000) * 60_000;
  while (localDay(new Date(t + step), zone) === today) t += step;
  while (localDay(new Date(t), zone) === today) t += 60_000;
  return new Date(t);
}

function toView(row: CodeQuotaRow, now: Date): CodeQuotaView {
  const today = localDay(now, row.time_zone);
  const usedToday = row.day >= today ? Number(row.used_today) : 0;
  const usedTotal = Number(row.used_total);
  const daily = row.daily_limit === null ? null : Number(row.daily_limit);
  const total = row.total_limit === null ? null : Number(row.total_limit);
  return {
    tenant_id: row.tenant_id,
    daily_limit: daily,
    total_limit: total,
    time_zone: row.time_zone,
    day: today,
    used_today: usedToday,
    used_total: usedTotal,
    remaining_today: daily === null ? null : Math.max(0, daily - usedToday),
    remaining_total: total === null ? null : Math.max(0, total - usedTotal),
    resets_at: nextDayStart(now, row.time_zone).toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/**
 * ONE statement: restarts the day's counter when the local day moved on, adds `count` to both
 * counters, and only if neither limit is passed; the row it returns is the quota after the charge.
 * No row back: no quota (unlimited), or refused (the caller reads why).
 */
async function chargeRow(exec: Executor, tenantId: string, count: number, day: string, now: Date): Promise<CodeQuotaRow | undefined> {
  const { rows } = await sql<CodeQuotaRow>`
    update tenant_code_quota q set
      used_today = case when q.day >= ${day} then q.used_today + ${count} else ${count} end,
      day = greatest(q.day, ${day}),
      used_total = q.used_total + ${count},
      updated_at = ${now}
    where q.tenant_id = ${tenantId}
      and (q.total_limit is null or q.used_total + ${count} <= q.total_limit)
      and (q.daily_limit is null or (case when q.day >= ${day} then q.used_today else 0 end) + ${count} <= q.daily_limit)
    returning q.*`.execute(exec);
  return rows[0];
}

function findQuota(exec: Executor, tenantId: string): Promise<CodeQuotaRow | undefined> {
  return exec.selectFrom('tenant_code_quota').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
}

export type CodeQuotaService = ReturnType<typeof createCodeQuotaService>;

export function createCodeQuotaService(deps: { db: Database; clock: Clock }) {
  const { db, clock } = deps;

  /** The zone of the tenant's quota, so the charge's day is computed once, before the statement. */
  async function zoneOf(exec: Executor, tenantId: string): Promise<string | null> {
    const row = await exec.selectFrom('tenant_code_quota').select('time_zone').where('tenant_id', '=', tenantId).executeTakeFirst();
    return row?.time_zone ?? null;
  }

  /**
   * Charges `count` codes to the tenant's quota in `exec` (the batch's transaction). Answers the
   * quota after the charge, or null when the tenant has no quota. Throws code_quota_exceeded
   * (429 for the day's limit, 409 for the total) naming the limit and what is left; nothing is
   * charged then, and the caller's transaction rolls back the rest.
   */
  const chargeCodes: ChargeCodes = async (exec, tenantId, count) => {
    const zone = await zoneOf(exec, tenantId);
    if (zone === null) return null;
    const now = clock.now();
    const charged = await chargeRow(exec, tenantId, count, localDay(now, zone), now);
    if (charged) return toView(charged, now);
    const current = await findQuota(exec, tenantId);
    if (!current) return null; // removed between the two reads: no quota any more
    const view = toView(current, now);
    const total = view.remaining_total !== null && count > view.remaining_total;
    throw tenantErrors.codeQuotaExceeded(total ? 'total' : 'daily', count, view);
  };

  return {
    chargeCodes,

    /** The tenant's quota and what is left (the master key, or a key of the tenant). 404 when none is set. */
    async getQuota(actor: Actor, tenantId: string, exec: Executor = db): Promise<CodeQuotaView> {
      assertTenantAccess(actor, tenantId, 'readonly');
      const row = await findQuota(exec, tenantId);
      if (!row) {
        if (!(await findTenant(exec, tenantId))) throw notFound('tenant', tenantId);
        throw tenantErrors.noCodeQuota(tenantId);
      }
      return toView(row, clock.now());
    },

    /** Sets (or replaces) the limits; the counters stay. Master key only (the route enforces it). */
    async setQuota(tenantId: string, input: SetCodeQuotaInput, exec: Executor = db): Promise<CodeQuotaView> {
      if (!(await findTenant(exec, tenantId))) throw notFound('tenant', tenantId);
      const zone = input.time_zone ?? DEFAULT_QUOTA_TIME_ZONE;
      if (!isKnownTimeZone(zone)) throw tenantErrors.unknownTimeZone(zone);
      const now = clock.now();
      const row = await exec
        .insertInto('tenant_code_quota')
        .values({
          tenant_id: tenantId,
          daily_limit: input.daily_limit,
          total_limit: input.total_limit,
          time_zone: zone,
          day: localDay(now, zone),
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc.column('tenant_id').doUpdateSet({ daily_limit: input.daily_limit, total_limit: input.total_limit, time_zone: zone, updated_at: now }),
        )
        .returningAll()
        .executeTakeFirstOrThrow();
      return toView(row, now);
    },

    /** Removes the quota: the tenant generates without limit again. */
    async removeQuota(tenantId: string, exec: Executor = db): Promise<void> {
      const deleted = await exec.deleteFrom('tenant_code_quota').where('tenant_id', '=', tenantId).executeTakeFirst();
      if (Number(deleted.numDeletedRows) === 0) {
        if (!(await findTenant(exec, tenantId))) throw notFound('tenant', tenantId);
        throw tenantErrors.noCodeQuota(tenantId);
      }
    },
  };
}
