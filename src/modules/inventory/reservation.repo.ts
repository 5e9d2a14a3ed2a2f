import { type Insertable, type Selectable, sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { ReservationStatus, ReservationTable } from './inventory.tables.js';

export type ReservationRow = Selectable<ReservationTable>;

export function insertReservation(db: Executor, row: Insertable<ReservationTable>) {
  return db.insertInto('inventory_reservation').values(row).returningAll().executeTakeFirstOrThrow();
}

/** Which reservations a caller may see: its tenant's, and of only some products for a limited key. */
export interface Visibility {
  tenantId: string;
  /** null = every product of the tenant. */
  productCodes: readonly string[] | null;
}

export function findReservation(db: Executor, v: Visibility, reservationId: string) {
  let q = db.selectFrom('inventory_reservation').selectAll().where('tenant_id', '=', v.tenantId).where('reservation_id', '=', reservationId);
  if (v.productCodes) q = q.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  return q.executeTakeFirst();
}

/** RESERVED -> `to`, only while still RESERVED (and, for confirm, not yet expired). */
export function settleReservation(db: Executor, tenantId: string, reservationId: string, to: 'CONFIRMED' | 'CANCELLED', now: Date) {
  let q = db
    .updateTable('inventory_reservation')
    .set(to === 'CONFIRMED' ? { status: to, confirmed_at: now, updated_at: now } : { status: to, released_at: now, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('reservation_id', '=', reservationId)
    .where('status', '=', 'RESERVED');
  if (to === 'CONFIRMED') q = q.where('expires_at', '>', now);
  return q.returningAll().executeTakeFirst();
}

/** Marks up to `limit` overdue reservations EXPIRED (any tenant); the caller gives their units back. */
export async function expireDue(db: Executor, now: Date, limit: number): Promise<ReservationRow[]> {
  const r = await sql<ReservationRow>`
    update inventory_reservation r set status = 'EXPIRED', released_at = ${now}, updated_at = ${now}
    from (
      select tenant_id, reservation_id from inventory_reservation
      where status = 'RESERVED' and expires_at <= ${now}
      order by expires_at limit ${limit}
      for update skip locked
    ) due
    where r.tenant_id = due.tenant_id and r.reservation_id = due.reservation_id
    returning r.*`.execute(db);
  return r.rows;
}

export async function listReservations(
  db: Executor,
  v: Visibility,
  f: { rewardId?: string | undefined; userId?: string | undefined; status?: ReservationStatus | undefined },
  page: { limit: number; offset: number },
) {
  let q = db.selectFrom('inventory_reservation').where('tenant_id', '=', v.tenantId);
  if (v.productCodes) q = q.where('product_code', 'in', v.productCodes.length ? v.productCodes : ['']);
  if (f.rewardId) q = q.where('reward_id', '=', f.rewardId);
  if (f.userId) q = q.where('user_id', '=', f.userId);
  if (f.status) q = q.where('status', '=', f.status);
  const [rows, total] = await Promise.all([
    q.selectAll().orderBy('created_at', 'desc').orderBy('reservation_id', 'desc').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(total.n) };
}
