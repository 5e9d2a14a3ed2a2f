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

export async function listPromotions(db: Executor, tenantId: string, filter: { type?: string | undefined; activeAt?: Date | undefined }, page: { limit: number; offset: number }) {
  let q = db.selectFrom('promotion').where('tenant_id', '=', tenantId);
  if (filter.type) q = q.where('promotion_type', '=', filter.type as 'gift');
  if (filter.activeAt) q = q.where('start_time', '<=', filter.activeAt).where('end_time', '>', filter.activeAt);
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

/** The reservation row for the order, unless one exists (then null): the primary key decides between parallel calls. */
export async function insertReservation(db: Executor, row: Insertable<PromotionReservationTable>): Promise<ReservationRow | null> {
  const inserted = await db.insertInto('promotion_reservation').values(row).onConflict((oc) => oc.doNothing()).returningAll().executeTakeFirst();
  return inserted ?? null;
}

export function findReservation(db: Executor, tenantId: string, promotionId: string, orderId: string) {
  return db
    .selectFrom('promotion_reservation')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('promotion_id', '=', promotionId)
    .where('order_id', '=', orderId)
    .executeTakeFirst();
}

/**
 * `q` more units of the item for the user, unless they would exceed `limit`: the counter row is
 * locked by the upsert and its WHERE is checked on the latest row. Null = limit reached.
 */
export async function countUser(db: Executor, key: { tenantId: string; promotionId: string; itemId: string; userId: string }, q: number, limit: number): Promise<number | null> {
  if (q > limit) return null;
  const { rows } = await sql<{ n: number }>`
    insert into promotion_user_count (tenant_id, promotion_id, item_id, user_id, n)
    values (${key.tenantId}, ${key.promotionId}, ${key.itemId}, ${key.userId}, ${q})
    on conflict (tenant_id, promotion_id, item_id, user_id) do update set n = promotion_user_count.n + ${q}
    where promotion_user_count.n + ${q} <= ${limit}
    returning n`.execute(db);
  return rows[0]?.n ?? null;
}

export async function uncountUser(db: Executor, key: { tenantId: string; promotionId: string; itemId: string; userId: string }, q: number): Promise<void> {
  await sql`update promotion_user_count set n = greatest(0, n - ${q})
    where tenant_id = ${key.tenantId} and promotion_id = ${key.promotionId} and item_id = ${key.itemId} and user_id = ${key.userId}`.execute(db);
}

/** `q` units of the item's stock: one conditional UPDATE (sold + q <= stock). Undefined = not enough left. */
export function takeStock(db: Executor, tenantId: string, promotionId: string, itemId: string, q: number) {
  return db
    .updateTable('promotion_item')
    .set((eb) => ({ sold: eb('sold', '+', q) }))
    .where('tenant_id', '=', tenantId)
    .where('promotion_id', '=', promotionId)
    .where('item_id', '=', itemId)
    .where(sql<boolean>`sold + ${q} <= stock`)
    .returningAll()
    .executeTakeFirst();
}

export async function giveStockBack(db: Executor, tenantId: string, promotionId: string, itemId: string, q: number): Promise<void> {
  await sql`update promotion_item set sold = greatest(0, sold - ${q})
    where tenant_id = ${tenantId} and promotion_id = ${promotionId} and item_id = ${itemId}`.execute(db);
}

/** reserved -> committed or released, only from reserved (one conditional UPDATE). */
export function setReservationStatus(db: Executor, tenantId: string, promotionId: string, orderId: string, status: 'committed' | 'released', now: Date) {
  return db
    .updateTable('promotion_reservation')
    .set({ status, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('promotion_id', '=', promotionId)
    .where('order_id', '=', orderId)
    .where('status', '=', 'reserved')
    .returningAll()
    .executeTakeFirst();
}
