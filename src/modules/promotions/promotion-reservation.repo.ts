import { type RawBuilder, sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { ReservationRow } from './promotion.repo.js';
import type { ReservationStatus } from './promotion.tables.js';

/**
 * The reservation statements of a checkout, each set-based (one statement for one line or many).
 * Every counter changes in one conditional statement; what comes back says which lines passed.
 */

export interface LineKey {
  promotion_id: string;
  item_id: string;
}
export interface QuantityLine extends LineKey {
  quantity: number;
}

export const lineKey = (l: LineKey): string => `${l.promotion_id}\u0000${l.item_id}`;

const keysOf = (rows: LineKey[]): Set<string> => new Set(rows.map(lineKey));

/** `(promotion_id, item_id, q[, extra])` rows of a VALUES list, typed so PostgreSQL needs no guess. */
function values<L extends QuantityLine>(lines: L[], extra?: (l: L) => RawBuilder<unknown>): RawBuilder<unknown> {
  return sql.join(lines.map((l) => (extra ? sql`(${l.promotion_id}::text, ${l.item_id}::text, ${l.quantity}::int, ${extra(l)})` : sql`(${l.promotion_id}::text, ${l.item_id}::text, ${l.quantity}::int)`)));
}

/**
 * The reservation rows of the lines that are new for the order (ON CONFLICT DO NOTHING: a line the
 * order already holds comes back from `orderReservations`). A line is inserted only while its
 * promotion is in its window, still has the version the caller checked (`updated_at`) and holds
 * the item; a line filtered out that the order does not hold means the caller's copy is stale.
 */
export async function insertReservations(
  db: Executor,
  tenantId: string,
  order: { order_id: string; user_id: string; expires_at: Date | null; now: Date },
  lines: (QuantityLine & { version: Date })[],
): Promise<ReservationRow[]> {
  const { rows } = await sql<ReservationRow>`
    insert into promotion_reservation (tenant_id, promotion_id, order_id, user_id, item_id, quantity, status, expires_at, created_at, updated_at)
    select ${tenantId}, v.promotion_id, ${order.order_id}, ${order.user_id}, v.item_id, v.q, 'reserved', ${order.expires_at}::timestamptz, ${order.now}::timestamptz, ${order.now}::timestamptz
    from (values ${values(lines, (l) => sql`${l.version}::timestamptz`)}) as v (promotion_id, item_id, q, version)
    join promotion p on p.tenant_id = ${tenantId} and p.promotion_id = v.promotion_id
      and p.updated_at = v.version and p.start_time <= ${order.now}::timestamptz and p.end_time > ${order.now}::timestamptz
    join promotion_item i on i.tenant_id = ${tenantId} and i.promotion_id = v.promotion_id and i.item_id = v.item_id
    order by v.promotion_id, v.item_id
    on conflict do nothing
    returning *`.execute(db);
  return rows;
}

/** The order's reservations (of the given promotions, or all), by promotion then item. */
export function orderReservations(db: Executor, tenantId: string, orderId: string, promotionIds?: string[]): Promise<ReservationRow[]> {
  let q = db.selectFrom('promotion_reservation').selectAll().where('tenant_id', '=', tenantId).where('order_id', '=', orderId);
  if (promotionIds) q = q.where('promotion_id', 'in', promotionIds);
  return q.orderBy('promotion_id').orderBy('item_id').execute();
}

/**
 * `quantity` more units for the user of each line's item, unless the user would pass the item's
 * per_user_limit: one conditional upsert (the counter row is locked by it and its WHERE checked on
 * the latest row; rows in key order, so two orders of one user never wait on each other in a
 * circle). Lines of items without a limit are not given. Answers the keys that passed.
 */
export async function countUser(db: Executor, tenantId: string, userId: string, lines: QuantityLine[]): Promise<Set<string>> {
  if (lines.length === 0) return new Set();
  const { rows } = await sql<LineKey>`
    insert into promotion_user_count (tenant_id, promotion_id, item_id, user_id, n)
    select ${tenantId}, v.promotion_id, v.item_id, ${userId}, v.q
    from (values ${values(lines)}) as v (promotion_id, item_id, q)
    join promotion_item i on i.tenant_id = ${tenantId} and i.promotion_id = v.promotion_id and i.item_id = v.item_id
    where i.per_user_limit is not null and v.q <= i.per_user_limit
    order by v.promotion_id, v.item_id
    on conflict (tenant_id, promotion_id, item_id, user_id) do update set n = promotion_user_count.n + excluded.n
    where promotion_user_count.n + excluded.n <= (
      select l.per_user_limit from promotion_item l
      where l.tenant_id = excluded.tenant_id and l.promotion_id = excluded.promotion_id and l.item_id = excluded.item_id)
    returning promotion_id, item_id`.execute(db);
  return keysOf(rows);
}

/** Locks the stock rows of the lines in key order first (several lines: no two orders wait on each other in a circle). */
function lockedInOrder(tenantId: string, keys: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`and (i.tenant_id, i.promotion_id, i.item_id) in (
      select s.tenant_id, s.promotion_id, s.item_id from promotion_item s
      where s.tenant_id = ${tenantId} and (s.promotion_id, s.item_id) in (${keys})
      order by s.promotion_id, s.item_id for update)`;
}

/**
 * The stock of every line: one conditional UPDATE (sold + q <= stock, and the promotion still in
 * its window at `now`). Answers the keys that got their units; a missing one is sold out (or its
 * promotion ended meanwhile).
 */
export async function takeStock(db: Executor, tenantId: string, now: Date, lines: QuantityLine[]): Promise<Set<string>> {
  if (lines.length === 0) return new Set();
  const keys = sql.join(lines.map((l) => sql`(${l.promotion_id}::text, ${l.item_id}::text)`));
  const { rows } = await sql<LineKey>`
    update promotion_item i set sold = i.sold + v.q
    from (values ${values(lines)}) as v (promotion_id, item_id, q), promotion p
    where i.tenant_id = ${tenantId} and i.promotion_id = v.promotion_id and i.item_id = v.item_id
      and p.tenant_id = ${tenantId} and p.promotion_id = v.promotion_id
      and p.start_time <= ${now}::timestamptz and p.end_time > ${now}::timestamptz
      and i.sold + v.q <= i.stock
      ${lines.length > 1 ? lockedInOrder(tenantId, keys) : sql``}
    returning i.promotion_id, i.item_id`.execute(db);
  return keysOf(rows);
}

/**
 * Gives back the stock and the users' counts of the reservations the CTE `moved` returns (those
 * that just left reserved or committed): only what transitioned in this statement comes back,
 * so no reservation gives its units back twice.
 */
const giveBack = sql`
  , stock as (
    update promotion_item i set sold = greatest(0, i.sold - m.q)
    from (select tenant_id, promotion_id, item_id, sum(quantity)::int as q from moved group by 1, 2, 3) m
    where i.tenant_id = m.tenant_id and i.promotion_id = m.promotion_id and i.item_id = m.item_id
      and (i.tenant_id, i.promotion_id, i.item_id) in (
        select s.tenant_id, s.promotion_id, s.item_id from promotion_item s
        where (s.tenant_id, s.promotion_id, s.item_id) in (select tenant_id, promotion_id, item_id from moved)
        order by s.tenant_id, s.promotion_id, s.item_id for update)
    returning 1)
  , counts as (
    update promotion_user_count c set n = greatest(0, c.n - m.q)
    from (select tenant_id, promotion_id, item_id, user_id, sum(quantity)::int as q from moved group by 1, 2, 3, 4) m
    where c.tenant_id = m.tenant_id and c.promotion_id = m.promotion_id and c.item_id = m.item_id and c.user_id = m.user_id
    returning 1)`;

/**
 * The order's reservations (of one promotion, or all) in `from` move to `to` in one statement;
 * with `giveBack` their stock and counts come back in the same statement. `notLapsedAt`: a held
 * reservation whose TTL passed does not move (a commit after the TTL is refused).
 */
export async function transition(
  db: Executor,
  tenantId: string,
  target: { orderId: string; promotionId?: string | undefined },
  move: { from: ReservationStatus; to: ReservationStatus; now: Date; giveBack: boolean; notLapsedAt?: Date | undefined },
): Promise<ReservationRow[]> {
  const { rows } = await sql<ReservationRow>`
    with moved as (
      update promotion_reservation r set status = ${move.to}, updated_at = ${move.now}::timestamptz
      where r.tenant_id = ${tenantId} and r.order_id = ${target.orderId} and r.status = ${move.from}
        ${target.promotionId !== undefined ? sql`and r.promotion_id = ${target.promotionId}` : sql``}
        ${move.notLapsedAt ? sql`and (r.expires_at is null or r.expires_at > ${move.notLapsedAt}::timestamptz)` : sql``}
      returning r.*)
    ${move.giveBack ? giveBack : sql``}
    select * from moved`.execute(db);
  return rows;
}

/**
 * The sweep: held reservations past expires_at become released and give their units back, at
 * most `limit` per call, oldest deadline first. Rows another transaction holds (a release or
 * commit of the same order in flight) are skipped, and each row moves only from reserved, so a
 * release racing the sweep gives back once. Answers how many moved, by tenant.
 */
export async function releaseLapsed(db: Executor, now: Date, limit: number): Promise<{ tenant_id: string; n: number }[]> {
  const { rows } = await sql<{ tenant_id: string; n: number }>`
    with lapsed as (
      select tenant_id, promotion_id, order_id, item_id from promotion_reservation
      where status = 'reserved' and expires_at <= ${now}::timestamptz
      order by expires_at limit ${limit} for update skip locked),
    moved as (
      update promotion_reservation r set status = 'released', updated_at = ${now}::timestamptz
      from lapsed l
      where r.tenant_id = l.tenant_id and r.promotion_id = l.promotion_id and r.order_id = l.order_id and r.item_id = l.item_id
        and r.status = 'reserved'
      returning r.*)
    ${giveBack}
    select tenant_id, count(*)::int as n from moved group by tenant_id`.execute(db);
  return rows;
}
