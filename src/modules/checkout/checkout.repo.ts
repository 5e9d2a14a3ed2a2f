import { type Insertable, type Selectable, sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { CheckoutOrderOfferTable, CheckoutOrderTable, OrderStatus } from './checkout.tables.js';

export type OrderRow = Selectable<CheckoutOrderTable>;

/** The order row, unless one exists for the order id (then undefined): the primary key decides between parallel checkouts. */
export function insertOrder(db: Executor, row: Insertable<CheckoutOrderTable>) {
  return db.insertInto('checkout_order').values(row).onConflict((oc) => oc.doNothing()).returningAll().executeTakeFirst();
}

export function findOrder(db: Executor, tenantId: string, orderId: string) {
  return db.selectFrom('checkout_order').selectAll().where('tenant_id', '=', tenantId).where('order_id', '=', orderId).executeTakeFirst();
}

export async function insertOffers(db: Executor, rows: Insertable<CheckoutOrderOfferTable>[]): Promise<void> {
  if (rows.length > 0) await db.insertInto('checkout_order_offer').values(rows).execute();
}

/** from -> to in one conditional UPDATE; a commit also needs the order not past its TTL. */
export function transition(db: Executor, tenantId: string, orderId: string, from: OrderStatus, to: OrderStatus, now: Date, options: { unexpired?: boolean } = {}) {
  let q = db.updateTable('checkout_order').set({ status: to, updated_at: now }).where('tenant_id', '=', tenantId).where('order_id', '=', orderId).where('status', '=', from);
  if (options.unexpired) q = q.where('expires_at', '>', now);
  return q.returningAll().executeTakeFirst();
}

/** Orders still reserved past their TTL become expired (one statement; SKIP LOCKED keeps two sweepers apart). */
export async function expireDue(db: Executor, now: Date, limit: number): Promise<OrderRow[]> {
  const { rows } = await sql<OrderRow>`
    update checkout_order o set status = 'expired', updated_at = ${now}
    from (select tenant_id, order_id from checkout_order where status = 'reserved' and expires_at <= ${now}
          order by expires_at limit ${limit} for update skip locked) due
    where o.tenant_id = due.tenant_id and o.order_id = due.order_id and o.status = 'reserved'
    returning o.*`.execute(db);
  return rows;
}

/** Adds quote counts in one statement. */
export async function addQuoteCounts(db: Executor, rows: { tenant_id: string; offer_kind: 'promotion' | 'coupon'; offer_id: string; quotes: number }[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('checkout_offer_quotes')
    .values(rows)
    .onConflict((oc) => oc.columns(['tenant_id', 'offer_kind', 'offer_id']).doUpdateSet((eb) => ({ quotes: eb('checkout_offer_quotes.quotes', '+', eb.ref('excluded.quotes')) })))
    .execute();
}

export interface StatRow {
  offer_kind: 'promotion' | 'coupon';
  offer_id: string;
  quotes: string | number | null;
  orders: string | number;
  paid_orders: string | number;
  participants: string | number;
  discount_spent: string | number;
  revenue: string | number;
}

/** Per offer: quotes, orders, paid orders, distinct paying users, discount on and revenue of paid orders. One query. */
export async function stats(db: Executor, tenantId: string, filter: { kind?: string | undefined; offerId?: string | undefined }): Promise<StatRow[]> {
  const kind = filter.kind ?? null;
  const offerId = filter.offerId ?? null;
  const { rows } = await sql<StatRow>`
    with orders as (
      select f.offer_kind, f.offer_id,
             count(*) as orders,
             count(*) filter (where o.status = 'committed') as paid_orders,
             count(distinct f.user_id) filter (where o.status = 'committed') as participants,
             coalesce(sum(f.discount) filter (where o.status = 'committed'), 0) as discount_spent,
             coalesce(sum(o.total) filter (where o.status = 'committed'), 0) as revenue
      from checkout_order_offer f join checkout_order o on o.tenant_id = f.tenant_id and o.order_id = f.order_id
      where f.tenant_id = ${tenantId}
        and (${kind}::text is null or f.offer_kind = ${kind}) and (${offerId}::text is null or f.offer_id = ${offerId})
      group by f.offer_kind, f.offer_id
    ), quotes as (
      select offer_kind, offer_id, quotes from checkout_offer_quotes
      where tenant_id = ${tenantId}
        and (${kind}::text is null or offer_kind = ${kind}) and (${offerId}::text is null or offer_id = ${offerId})
    )
    select coalesce(o.offer_kind, q.offer_kind) as offer_kind, coalesce(o.offer_id, q.offer_id) as offer_id, q.quotes,
           coalesce(o.orders, 0) as orders, coalesce(o.paid_orders, 0) as paid_orders, coalesce(o.participants, 0) as participants,
           coalesce(o.discount_spent, 0) as discount_spent, coalesce(o.revenue, 0) as revenue
    from orders o full join quotes q on q.offer_kind = o.offer_kind and q.offer_id = o.offer_id
    order by 1, 2
    limit 1000`.execute(db);
  return rows;
}
