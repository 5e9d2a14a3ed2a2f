/**
 * The SQL of coupons held by orders: the lock of several coupons in one statement, and commit /
 * release / refund of every coupon of an order (or one of them) in one statement each, the
 * templates' used_count moving in the same statement.
 */
import { type RawBuilder, sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import { type CouponRow, type CouponWithTerms, withTerms } from './coupon.repo.js';

/** The coupons asked for (with their terms), and the coupons the order holds already (for stacking): one SELECT. */
export function couponsForLock(db: Executor, tenantId: string, ids: string[], orderId: string, userId: string): Promise<CouponWithTerms[]> {
  return withTerms(db)
    .where('c.tenant_id', '=', tenantId)
    .where((eb) => eb.or([eb('c.coupon_id', 'in', ids), eb.and([eb('c.order_id', '=', orderId), eb('c.user_id', '=', userId), eb('c.status', '=', 'locked')])]))
    .execute();
}

/**
 * Locks the coupons for the order in ONE conditional UPDATE: a coupon is taken only when it
 * belongs to the user, is within its validity, and is available, or locked with a lapsed lock, or
 * locked by this same order already (then its TTL stays as it was: the same lock). The rows are
 * row-locked in coupon_id order first, so two orders asking for overlapping coupons queue up
 * instead of deadlocking. Returns the rows taken; fewer than asked means some were not.
 */
export async function lockCoupons(db: Executor, tenantId: string, ids: string[], userId: string, orderId: string, until: Date, now: Date): Promise<CouponRow[]> {
  const held = sql`(c.status = 'locked' and c.order_id = ${orderId} and c.locked_until > ${now})`;
  const { rows } = await sql<CouponRow>`
    update coupon c set
      status = 'locked',
      order_id = ${orderId},
      locked_until = case when ${held} then c.locked_until else ${until} end,
      updated_at = case when ${held} then c.updated_at else ${now} end
    where (c.tenant_id, c.coupon_id) in (
        select tenant_id, coupon_id from coupon where tenant_id = ${tenantId} and coupon_id in (${sql.join(ids)}) order by coupon_id for update)
      and c.user_id = ${userId}
      and (c.status = 'available' or (c.status = 'locked' and (c.locked_until <= ${now} or c.order_id = ${orderId})))
      and (c.valid_from is null or c.valid_from <= ${now})
      and (c.valid_until is null or c.valid_until > ${now})
    returning c.*`.execute(db);
  return rows;
}

export type SettleAction = 'commit' | 'release' | 'refund';

/** A coupon an order action changed. */
export interface Settled {
  coupon_id: string;
  user_id: string;
}

/**
 * Moves the coupons by `delta` on their templates' used_count inside the same statement as the
 * coupon change (`changed` is the data-modifying CTE); template rows are locked in template_id
 * order so parallel settlements of orders sharing templates cannot deadlock.
 */
function withUsedCount(tenantId: string, changed: RawBuilder<unknown>, delta: 1 | -1, now: Date) {
  return sql<Settled>`
    with u as (${changed}),
    n as (select template_id, count(*)::int as n from u group by template_id),
    t_locked as (
      select tenant_id, template_id from coupon_template
      where tenant_id = ${tenantId} and template_id in (select template_id from n)
      order by template_id for update),
    bumped as (
      update coupon_template t set used_count = t.used_count + ${delta} * n.n, updated_at = ${now}
      from n where t.tenant_id = ${tenantId} and t.template_id = n.template_id
        and (t.tenant_id, t.template_id) in (select tenant_id, template_id from t_locked)
      returning 1)
    select coupon_id, user_id from u`;
}

/**
 * One action on the order's coupons (only `couponId`'s when given), one statement:
 * commit: locked (lock not lapsed) -> used, used_count + 1 per coupon;
 * release: locked -> available (a lapsed lock too: it is this order's until the sweep);
 * refund: used -> available (expired when past validity) where the template's refund_returns,
 * used_count - 1 per coupon; a coupon whose template does not return it stays used.
 */
export async function settleCoupons(db: Executor, tenantId: string, orderId: string, action: SettleAction, couponId: string | null, now: Date): Promise<Settled[]> {
  const one = couponId === null ? sql`` : sql`and c.coupon_id = ${couponId}`;
  let statement;
  if (action === 'commit') {
    statement = withUsedCount(
      tenantId,
      sql`update coupon c set status = 'used', used_at = ${now}, locked_until = null, updated_at = ${now}
        where c.tenant_id = ${tenantId} and c.order_id = ${orderId} and c.status = 'locked' and c.locked_until > ${now} ${one}
        returning c.coupon_id, c.template_id, c.user_id`,
      1,
      now,
    );
  } else if (action === 'refund') {
    statement = withUsedCount(
      tenantId,
      sql`update coupon c set
          status = case when c.valid_until is not null and c.valid_until <= ${now} then 'expired' else 'available' end,
          order_id = null, locked_until = null, used_at = null, updated_at = ${now}
        from coupon_template t
        where t.tenant_id = c.tenant_id and t.template_id = c.template_id and t.refund_returns
          and c.tenant_id = ${tenantId} and c.order_id = ${orderId} and c.status = 'used' ${one}
        returning c.coupon_id, c.template_id, c.user_id`,
      -1,
      now,
    );
  } else {
    statement = sql<Settled>`
      update coupon c set status = 'available', order_id = null, locked_until = null, updated_at = ${now}
      where c.tenant_id = ${tenantId} and c.order_id = ${orderId} and c.status = 'locked' ${one}
      returning c.coupon_id, c.user_id`;
  }
  const { rows } = await statement.execute(db);
  return rows;
}

/** The coupons an order action changed (by id) and those the order still holds, with their terms. */
export function couponsAfterSettle(db: Executor, tenantId: string, orderId: string, changedIds: string[]): Promise<CouponWithTerms[]> {
  return withTerms(db)
    .where('c.tenant_id', '=', tenantId)
    .where((eb) => (changedIds.length > 0 ? eb.or([eb('c.order_id', '=', orderId), eb('c.coupon_id', 'in', changedIds)]) : eb('c.order_id', '=', orderId)))
    .orderBy('c.coupon_id')
    .execute();
}
