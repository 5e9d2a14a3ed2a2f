import type { Executor } from '../../db/client.js';
import type { SettingsRow } from './referral.repo.js';

/** The tenant's referral settings rows that are not deleted, newest first. */
export function listLive(exec: Executor, tenantId: string): Promise<SettingsRow[]> {
  return exec
    .selectFrom('referral_campaign')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('deleted_at', 'is', null)
    .orderBy('created_at', 'desc')
    .orderBy('campaign_id', 'desc')
    .execute();
}

/** True when the tenant's campaign has referral settings that are not deleted. */
export async function isLive(exec: Executor, tenantId: string, campaignId: string): Promise<boolean> {
  const row = await exec
    .selectFrom('referral_campaign')
    .select('campaign_id')
    .where('tenant_id', '=', tenantId)
    .where('campaign_id', '=', campaignId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return row !== undefined;
}

/** Marks the settings deleted in one statement; false when already deleted or unknown (so one of racing deletes wins). */
export async function markDeleted(exec: Executor, tenantId: string, campaignId: string, now: Date): Promise<boolean> {
  const row = await exec
    .updateTable('referral_campaign')
    .set({ deleted_at: now, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('campaign_id', '=', campaignId)
    .where('deleted_at', 'is', null)
    .returning('campaign_id')
    .executeTakeFirst();
  return row !== undefined;
}
