/**
 * Coupons on an order: lock all of them or none (one SELECT, the rules, one conditional UPDATE),
 * then commit, release or refund every coupon of the order (one statement each). The per-coupon
 * routes (lock, commit, release, refund, the document's use) go through these same functions
 * with one coupon, so one path decides for one coupon or many.
 */
import type { Counter } from 'prom-client';
import { afterCommit, type Executor } from '../../db/client.js';
import type { Clock } from '../../platform/clock.js';
import { couponErrors } from './coupon.errors.js';
import * as orderRepo from './coupon.order.repo.js';
import type { CouponWithTerms } from './coupon.repo.js';
import { type Cart, type Evaluation, effectiveStatus, evaluateCoupon } from './coupon.rules.js';
import type { CouponView } from './coupon.schemas.js';
import { termsOf, toCouponView } from './coupon.view.js';

export type SettleAction = orderRepo.SettleAction;

export interface LockForOrderInput {
  user_id: string;
  order_id: string;
  coupon_ids: string[];
  /** How long the order holds the coupons (default 900 s); a repeated lock by the same order keeps its TTL. */
  ttl_seconds?: number | undefined;
  /** Lines may carry `amount` (price after earlier offers): the rules price on it. */
  cart: Cart;
}

/** A coupon held for an order and what it gives on the order's cart. */
export interface LockedCoupon {
  coupon: CouponView;
  discount: number | null;
  shipping_discount: number | null;
  eligible_amount: number | null;
  gift_item_id: string | null;
}

export interface OrderMetrics {
  used: Counter;
  released?: Counter<'reason'> | undefined;
  refunded?: Counter | undefined;
}

/** Coupons one order may lock at once. */
export const MAX_ORDER_COUPONS = 50;
const DEFAULT_TTL_SECONDS = 900;

export function amountsOf(v: Evaluation & { usable: true }) {
  return { discount: v.discount, shipping_discount: v.shipping_discount, eligible_amount: v.eligible_amount, gift_item_id: v.gift_item_id };
}

/** Why the lock refuses a coupon the rules did not accept: the same codes as ever. */
function refusal(row: CouponWithTerms, v: Evaluation & { usable: false }, now: Date) {
  if (v.reason === 'expired') return couponErrors.expired(row.coupon_id);
  if (v.reason === 'not_available') {
    const status = effectiveStatus(row, now);
    return status === 'locked' ? couponErrors.locked(row.coupon_id) : couponErrors.notAvailable(row.coupon_id, status);
  }
  return couponErrors.notUsable(row.coupon_id, v.reason, v.details);
}

/** Why the UPDATE did not take a coupon the rules accepted: it changed in between (another order, the sweep, an admin). */
function lostRace(row: CouponWithTerms | undefined, id: string, userId: string, now: Date) {
  if (!row) return couponErrors.couponNotFound(id);
  if (row.user_id !== userId) return couponErrors.ownerMismatch(id);
  const status = effectiveStatus(row, now);
  if (status === 'locked') return couponErrors.locked(id);
  if (status === 'expired' || (row.valid_until && row.valid_until <= now)) return couponErrors.expired(id);
  return couponErrors.notAvailable(id, status);
}

export function createCouponOrders(deps: {
  clock: Clock;
  metrics?: OrderMetrics | undefined;
  /** The users' coupons changed in this transaction (drops their quote cache). */
  changed: (exec: Executor, tenantId: string, userIds: Iterable<string>) => void;
}) {
  const { clock } = deps;

  /**
   * Locks every coupon of `coupon_ids` for the order, or none: the rows are read once with their
   * templates, each is evaluated with the others (and the coupons the order holds already) as
   * `others`, exactly as `available` does, then ONE conditional UPDATE takes them all. A refusal
   * throws the first coupon's error (coupon_not_found, coupon_owner_mismatch, coupon_expired,
   * coupon_locked, coupon_not_available, coupon_not_usable with the reason); the caller's
   * transaction must roll back (it does when the error leaves it). The same order again: the same
   * locks, TTL unchanged.
   */
  async function lockForOrder(tenantId: string, input: LockForOrderInput, trx: Executor): Promise<LockedCoupon[]> {
    const ids = [...new Set(input.coupon_ids)];
    if (ids.length === 0) return [];
    if (ids.length > MAX_ORDER_COUPONS) throw couponErrors.invalid('coupon_ids', `at most ${MAX_ORDER_COUPONS} coupons per order`);
    const now = clock.now();
    const rows = await orderRepo.couponsForLock(trx, tenantId, ids, input.order_id, input.user_id);
    const byId = new Map(rows.map((r) => [r.coupon_id, r]));
    const wanted = ids.map((id) => byId.get(id) ?? notFound(id));
    const asked = new Set(ids);
    // The order's coupons held from an earlier lock (not lapsed) count for stacking as well.
    const held = rows.filter((r) => !asked.has(r.coupon_id) && r.order_id === input.order_id && r.locked_until !== null && r.locked_until > now).map(termsOf);
    const terms = wanted.map(termsOf);
    const verdicts = wanted.map((row, i) => {
      if (row.user_id !== input.user_id) throw couponErrors.ownerMismatch(row.coupon_id);
      const others = terms.filter((_, j) => j !== i).concat(held);
      const v = evaluateCoupon(terms[i]!, now, input.cart, others, input.order_id);
      if (!v.usable) throw refusal(row, v, now);
      return v;
    });
    const until = new Date(now.getTime() + (input.ttl_seconds ?? DEFAULT_TTL_SECONDS) * 1000);
    const locked = await orderRepo.lockCoupons(trx, tenantId, ids, input.user_id, input.order_id, until, now);
    if (locked.length < ids.length) {
      const taken = new Set(locked.map((r) => r.coupon_id));
      const missing = ids.filter((id) => !taken.has(id));
      const latest = new Map((await orderRepo.couponsForLock(trx, tenantId, missing, input.order_id, input.user_id)).map((r) => [r.coupon_id, r]));
      throw lostRace(latest.get(missing[0]!), missing[0]!, input.user_id, now);
    }
    deps.changed(trx, tenantId, [input.user_id]);
    const lockedById = new Map(locked.map((r) => [r.coupon_id, r]));
    return wanted.map((row, i) => ({ coupon: toCouponView({ ...row, ...lockedById.get(row.coupon_id)! }, now), ...amountsOf(verdicts[i] as Evaluation & { usable: true }) }));
  }

  function notFound(id: string): never {
    throw couponErrors.couponNotFound(id);
  }

  /** The action in one statement; the changed coupons' owners get a fresh quote wallet; counters after the commit. */
  async function settle(tenantId: string, orderId: string, action: SettleAction, couponId: string | null, trx: Executor) {
    const changed = await orderRepo.settleCoupons(trx, tenantId, orderId, action, couponId, clock.now());
    if (changed.length > 0) {
      deps.changed(trx, tenantId, changed.map((c) => c.user_id));
      const n = changed.length;
      afterCommit(trx, () => {
        if (action === 'commit') deps.metrics?.used.inc(n);
        else if (action === 'release') deps.metrics?.released?.inc({ reason: 'order' }, n);
        else deps.metrics?.refunded?.inc(n);
      });
    }
    return changed;
  }

  /**
   * Every coupon of the order: commit locked -> used (used_count of each template + 1 per
   * coupon), release locked -> available, refund used -> available (expired when past validity)
   * where the template's refund_returns, else it stays used. Idempotent: again, nothing changes.
   * Answers the coupons it changed and those the order still holds. A commit that finds a lock of
   * the order lapsed refuses with 409 coupon_lock_expired (lock again).
   */
  async function settleOrder(tenantId: string, orderId: string, action: SettleAction, trx: Executor): Promise<CouponView[]> {
    const changed = await settle(tenantId, orderId, action, null, trx);
    const now = clock.now();
    const rows = await orderRepo.couponsAfterSettle(trx, tenantId, orderId, changed.map((c) => c.coupon_id));
    if (action === 'commit') {
      const lapsed = rows.find((r) => r.status === 'locked' && r.order_id === orderId);
      if (lapsed) throw couponErrors.lockExpired(lapsed.coupon_id);
    }
    return rows.map((r) => toCouponView(r, now));
  }

  /** One coupon of the order (the per-coupon routes): whether it changed. */
  async function settleCoupon(tenantId: string, orderId: string, couponId: string, action: SettleAction, trx: Executor): Promise<boolean> {
    return (await settle(tenantId, orderId, action, couponId, trx)).length > 0;
  }

  return { lockForOrder, settleOrder, settleCoupon };
}

export type CouponOrders = ReturnType<typeof createCouponOrders>;
