import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { OutreachCampaignTable } from './outreach.tables.js';

export type CampaignRow = Selectable<OutreachCampaignTable>;

export function insertCampaign(db: Executor, row: Insertable<OutreachCampaignTable>): Promise<CampaignRow> {
  return db.insertInto('outreach_campaign').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findCampaign(db: Executor, tenantId: string, campaignId: string, options: { forUpdate?: boolean } = {}) {
  let q = db.selectFrom('outreach_campaign').selectAll().where('tenant_id', '=', tenantId).where('campaign_id', '=', campaignId);
  if (options.forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function listCampaigns(
  db: Executor,
  tenantId: string,
  filter: { status?: string | undefined; channel?: string | undefined; name?: string | undefined },
  page: { limit: number; offset: number },
) {
  let q = db.selectFrom('outreach_campaign').where('tenant_id', '=', tenantId);
  if (filter.status) q = q.where('status', '=', filter.status);
  if (filter.channel) q = q.where('channel', '=', filter.channel);
  if (filter.name) q = q.where('name', 'ilike', `%${filter.name.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  const [rows, total] = await Promise.all([
    q.selectAll().orderBy('created_at', 'desc').orderBy('campaign_id', 'desc').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

export function updateCampaign(db: Executor, tenantId: string, campaignId: string, change: Updateable<OutreachCampaignTable>) {
  return db
    .updateTable('outreach_campaign')
    .set(change)
    .where('tenant_id', '=', tenantId)
    .where('campaign_id', '=', campaignId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Campaigns whose next run is due, locked so that one process starts each (skip those another holds). */
export function claimDueCampaigns(db: Executor, now: Date, limit: number) {
  return db
    .selectFrom('outreach_campaign')
    .selectAll()
    .where('next_run_at', '<=', now)
    .orderBy('next_run_at')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}
