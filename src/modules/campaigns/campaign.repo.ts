import type { Insertable, Selectable, SelectQueryBuilder, Updateable } from 'kysely';
import type { Executor } from '../../db/client.js';
import { constraintName, escapeLike, isCheckViolation, isForeignKeyViolation } from '../../db/errors.js';
import type { DB } from '../../db/schema.js';
import { invalidRequest } from '../../platform/errors.js';
import { campaignErrors } from './campaign.errors.js';
import { type CampaignAction, type CampaignStatus, statusCondition, transitionCondition, transitions } from './campaign.status.js';
import type { CampaignTable } from './campaign.tables.js';

export type CampaignRow = Selectable<CampaignTable>;
export type NewCampaignRow = Insertable<CampaignTable>;
export type CampaignChanges = Omit<Updateable<CampaignTable>, 'tenant_id' | 'campaign_id' | 'version'>;

/** Which campaigns a caller can see: its tenant, live rows, and its products if the key is restricted. */
export interface Visibility {
  tenantId: string;
  productCodes: readonly string[] | null;
}

function visible<O>(query: SelectQueryBuilder<DB, 'campaign', O>, v: Visibility) {
  let q = query.where('tenant_id', '=', v.tenantId).where('deleted_at', 'is', null);
  if (v.productCodes) q = q.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  return q;
}

/** The key from campaign.audience_id to the tenant's audiences (migration 0023). */
export const AUDIENCE_KEY = 'campaign_audience_fk';

function translate(err: unknown, audienceId: string | null | undefined, productCode: string | undefined): never {
  if (isCheckViolation(err) && constraintName(err) === 'campaign_window_order') {
    throw invalidRequest('end_time', 'must be after start_time');
  }
  if (isForeignKeyViolation(err) && constraintName(err) === AUDIENCE_KEY) {
    // Another tenant's audience fails the same (tenant_id, audience_id) key: it looks missing.
    throw campaignErrors.unknownAudience(audienceId);
  }
  if (isForeignKeyViolation(err)) {
    throw campaignErrors.unknownProductCode(productCode);
  }
  throw err;
}

export async function insertCampaign(db: Executor, row: NewCampaignRow): Promise<CampaignRow> {
  try {
    return await db.insertInto('campaign').values(row).returningAll().executeTakeFirstOrThrow();
  } catch (err) {
    translate(err, row.audience_id, row.product_code);
  }
}

export function findCampaign(db: Executor, v: Visibility, campaignId: string, options: { forUpdate?: boolean } = {}) {
  let query = visible(db.selectFrom('campaign').selectAll(), v).where('campaign_id', '=', campaignId);
  if (options.forUpdate) query = query.forUpdate();
  return query.executeTakeFirst();
}

/** The visible campaigns among `campaignIds` (one statement; unknown ids are left out). */
export function findCampaigns(db: Executor, v: Visibility, campaignIds: readonly string[]) {
  if (campaignIds.length === 0) return Promise.resolve([]);
  return visible(db.selectFrom('campaign').selectAll(), v).where('campaign_id', 'in', campaignIds).execute();
}

export interface CampaignFilter {
  status?: CampaignStatus | undefined;
  campaignType?: string | undefined;
  productCode?: string | undefined;
  nameContains?: string | undefined;
  startFrom?: Date | undefined;
  startTo?: Date | undefined;
  endFrom?: Date | undefined;
  endTo?: Date | undefined;
}

export async function listCampaigns(
  db: Executor,
  v: Visibility,
  filter: CampaignFilter,
  page: { limit: number; offset: number },
  now: Date,
) {
  let query = visible(db.selectFrom('campaign'), v);
  const { status, campaignType, productCode, nameContains, startFrom, startTo, endFrom, endTo } = filter;
  if (status) query = query.where((eb) => statusCondition(eb, status, now));
  if (campaignType) query = query.where('campaign_type', '=', campaignType);
  if (productCode) query = query.where('product_code', '=', productCode);
  if (nameContains) query = query.where('campaign_name', 'ilike', `%${escapeLike(nameContains)}%`);
  if (startFrom) query = query.where('start_time', '>=', startFrom);
  if (startTo) query = query.where('start_time', '<', startTo);
  if (endFrom) query = query.where('end_time', '>=', endFrom);
  if (endTo) query = query.where('end_time', '<', endTo);
  const [rows, total] = await Promise.all([
    query.selectAll().orderBy('created_at', 'desc').orderBy('campaign_id', 'desc').limit(page.limit).offset(page.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}

export async function updateCampaign(
  db: Executor,
  v: Visibility,
  campaignId: string,
  changes: CampaignChanges,
): Promise<CampaignRow | undefined> {
  try {
    return await db
      .updateTable('campaign')
      .set((eb) => ({ ...changes, version: eb('version', '+', 1) }))
      .where('tenant_id', '=', v.tenantId)
      .where('campaign_id', '=', campaignId)
      .where('deleted_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
  } catch (err) {
    translate(err, changes.audience_id, changes.product_code);
  }
}

/**
 * Applies a lifecycle action in one conditional UPDATE: it happens only if the campaign is, at
 * this instant, in a status the action is allowed from. No read-modify-write, so two racing
 * actions cannot both win from the same state.
 */
export function applyTransition(db: Executor, v: Visibility, campaignId: string, action: CampaignAction, now: Date) {
  const stamp =
    action === 'publish'
      ? { published_at: now }
      : action === 'pause'
        ? { paused_at: now }
        : action === 'archive'
          ? { archived_at: now }
          : { paused_at: null };
  let query = db
    .updateTable('campaign')
    .set((eb) => ({ lifecycle_state: transitions[action].to, updated_at: now, version: eb('version', '+', 1), ...stamp }))
    .where('tenant_id', '=', v.tenantId)
    .where('campaign_id', '=', campaignId)
    .where('deleted_at', 'is', null)
    .where((eb) => transitionCondition(eb, action, now));
  if (v.productCodes) query = query.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  return query.returningAll().executeTakeFirst();
}

/**
 * Soft-deletes a DRAFT or ARCHIVED campaign (rows that later grants may point at stay). Its
 * audience_id goes: nothing reads a deleted campaign's audience, and the key (migration 0023)
 * would otherwise stop the audience's delete for a campaign nobody can see.
 */
export function softDeleteCampaign(db: Executor, v: Visibility, campaignId: string, now: Date) {
  let query = db
    .updateTable('campaign')
    .set({ deleted_at: now, updated_at: now, audience_id: null })
    .where('tenant_id', '=', v.tenantId)
    .where('campaign_id', '=', campaignId)
    .where('deleted_at', 'is', null)
    .where('lifecycle_state', 'in', ['DRAFT', 'ARCHIVED']);
  if (v.productCodes) query = query.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  return query.returning('campaign_id').executeTakeFirst();
}

/** The live campaigns of the tenant whose audience is `audienceId` (any status, ARCHIVED too), oldest first. */
export function findCampaignsUsingAudience(db: Executor, tenantId: string, audienceId: string) {
  return db
    .selectFrom('campaign')
    .select(['campaign_id', 'product_code'])
    .where('tenant_id', '=', tenantId)
    .where('audience_id', '=', audienceId)
    .where('deleted_at', 'is', null)
    .orderBy('created_at')
    .orderBy('campaign_id')
    .execute();
}
