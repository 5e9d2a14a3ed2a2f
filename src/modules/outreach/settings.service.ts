import type { Database, Executor } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { isTimeZone } from './campaign.checks.js';
import { outreachErrors } from './outreach.errors.js';
import * as repo from './settings.repo.js';

export interface SettingsInput {
  frequency_cap?: { count: number; period: 'hour' | 'day' | 'week' } | null | undefined;
  quiet_hours?: { start: string; end: string } | null | undefined;
  default_time_zone?: string | undefined;
}

/** The tenant's outreach defaults: frequency cap, quiet hours, time zone (campaigns may override the first two). */
export function createSettingsService(deps: { db: Database; clock: Clock }) {
  const view = (row: Awaited<ReturnType<typeof repo.findSettings>>, tenantId: string) => ({
    tenant_id: tenantId,
    frequency_cap: (row?.frequency_cap ?? null) as Exclude<SettingsInput['frequency_cap'], undefined>,
    quiet_hours: (row?.quiet_hours ?? null) as Exclude<SettingsInput['quiet_hours'], undefined>,
    default_time_zone: row?.default_time_zone ?? 'UTC',
    updated_at: row?.updated_at.toISOString() ?? null,
  });
  return {
    async get(actor: Actor, exec: Executor = deps.db) {
      const tenantId = requireTenant(actor).tenantId;
      return view(await repo.findSettings(exec, tenantId), tenantId);
    },
    /** Replaces the fields given; the others keep their value. */
    async put(actor: Actor, input: SettingsInput, exec: Executor = deps.db) {
      const tenantId = requireTenant(actor).tenantId;
      if (input.default_time_zone !== undefined && !isTimeZone(input.default_time_zone)) {
        throw outreachErrors.invalidSchedule('default_time_zone', `unknown time zone ${input.default_time_zone}`);
      }
      const current = view(await repo.findSettings(exec, tenantId), tenantId);
      const next = {
        frequency_cap: input.frequency_cap !== undefined ? input.frequency_cap : current.frequency_cap,
        quiet_hours: input.quiet_hours !== undefined ? input.quiet_hours : current.quiet_hours,
        default_time_zone: input.default_time_zone ?? current.default_time_zone,
      };
      const row = await repo.putSettings(exec, {
        tenant_id: tenantId,
        frequency_cap: next.frequency_cap ? JSON.stringify(next.frequency_cap) : null,
        quiet_hours: next.quiet_hours ? JSON.stringify(next.quiet_hours) : null,
        default_time_zone: next.default_time_zone,
        updated_at: deps.clock.now(),
      });
      return view(row, tenantId);
    },
  };
}
