import { type Insertable, type Selectable, sql, type Updateable } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { PromotionItemTable, PromotionReservationTable, PromotionTable } from './promotion.tables.js';
import type { StockRow } from './promotion.terms.js';

export type PromotionRow = Selectable<PromotionTable>;
export type ItemRow = Selectable<PromotionItemTable>;
export type ReservationRow = Selectable<PromotionReservationTable>;

export function insertPromotion(db: Executor, row: Insertable<PromotionTable>) {
  return db.insertInto('promotion').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function replaceStock(db: Executor, tenantId: string, promotionId: string, rows: StockRow[]): Promise<void> {
  await db.deleteFrom('promotion_item').where('tenant_id', '=', tenantId).where('promotion_id', '=', promotionId).execute();
  if (rows.length > 0) await db.insertInto('promotion_item').values(rows.map((r) => ({ ...r, tenant_id: tenantId, promotion_id: promotionId }))).execute();
}

export function findPromotion(db: Executor, tenantId: string, promotionId: string) {
  return db.selectFrom('promotion').selectAll().where('tenant_id', '=', tenantId).where('promotion_id', '=', promotionId).executeTakeFirst();
}

export function stockOf(db: Executor, tenantId: string, promotionIds: string[]) {
  if (promotionIds.length === 0) return Promise.resolve([] as ItemRow[]);
  return db.selectFrom('promotion_item').selectAll().where('tenant_id', '=', tenantId).where('promotion_id', 'in', promotionIds).orderBy('item_id').execute();
}

/**
 * The tenant's promotions that may be active between `now` and `horizon` (not ended at `now`,
 * started by `horizon`): the quote's candidates, filtered by the clock (and slots) when read.
 */
export function livePromotions(db: Executor, tenantId: string, now: Date, horizon: Date) {
  return db.selectFrom('promotion').selectAll().where('tenant_id', '=', tenantId).where('end_time', '>', now).where('start_time', '<=', horizon).execute();
}

export interface ListFilter {
  type?: string | undefined;
  activeAt?: Date | undefined;
  /** By the window at `now`: scheduled (start_time > now), active (started, not ended), ended (end_time <= now). */
  status?: { phase: 'scheduled' | 'active' | 'ended'; now: Date } | undefined;
}

export async function listPromotions(db: Executor, tenantId: string, filter: ListFilter, page: { limit: number; offset: number }) {
  let q = db.selectFrom('promotion').where('tenant_id', '=', tenantId);
  if (filter.type) q = q.where('promotion_type', '=', filter.type as 'gift');
  if (filter.activeAt) q = q.where('start_time', '<=', filter.activeAt).where('end_time', '>', filter.activeAt);
  const status = filter.status;
  if (status?.phase === 'scheduled') q = q.where('start_time', '>', status.now);
  if (status?.phase === 'active') q = q.where('start_time', '<=', status.now).where('end_time', '>', status.now);
  if (status?.phase === 'ended') q = q.where('end_time', '<=', status.now);
  const [rows, count] = await Promise.all([
    q.selectAll().orderBy('start_time', 'desc').orderBy('promotion_id').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** Changes a promotion only while it has not started (checked in the same statement). */
export function updateNotStarted(db: Executor, tenantId: string, promotionId: string, changes: Updateable<PromotionTable>, now: Date) {
  return db
    .updateTable('promotion')
    .set(changes)
    .where('tenant_id', '=', tenantId)
    .where('promotion_id', '=', promotionId)
    .where('start_time', '>', now)
    .returningAll()
    .executeTakeFirst();
}

/** Ends a promotion now (a scheduled one ends before it starts: its window becomes [now - 1 ms, now)). */
export function endNow(db: Executor, tenantId: string, promotionId: string, now: Date) {
  return db
    .updateTable('promotion')
    .set({ end_time: now, start_time: sql`least(start_time, ${new Date(now.getTime() - 1)}::timestamptz)`, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('promotion_id', '=', promotionId)
    .where('end_time', '>', now)
    .returningAll()
    .executeTakeFirst();
}

export function userCount(db: Executor, tenantId: string, promotionId: string, itemId: string, userId: string) {
  return db
    .selectFrom('promotion_user_count')
    .select('n')
    .where('tenant_id', '=', tenantId)
    .where('promotion_id', '=', promotionId)
    .where('item_id', '=', itemId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}
