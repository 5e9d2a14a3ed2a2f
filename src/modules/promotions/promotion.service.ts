import { type Database, type Executor } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import { createSnapshotCache } from '../../platform/snapshot-cache.js';
import { promotionErrors, reasonMessages } from './promotion.errors.js';
import * as repo from './promotion.repo.js';
import { type Cart, calculateDiscount, inScope } from './promotion.rules.js';
import type { CreatePromotionInput, UpdatePromotionInput } from './promotion.schemas.js';
import { checkWindow, normalizeScope, normalizeTerms } from './promotion.terms.js';
import { phaseOf, toPromotionView } from './promotion.view.js';

export type PromotionService = ReturnType<typeof createPromotionService>;

/** Membership of a user in an audience of the tenant; null when the tenant has no such audience. */
export type AudienceMembership = (tenantId: string, audienceId: string, userId: string, exec: Executor) => Promise<{ member: boolean } | null>;

interface Cached {
  row: repo.PromotionRow;
  stock: repo.ItemRow[];
}

export function createPromotionService(deps: {
  db: Database;
  clock: Clock;
  membership: AudienceMembership;
  /** How long a promotion read for eligibility, discount and get is kept in this process (config promotions.cache_ttl_ms). */
  cacheTtlMs?: number;
}) {
  const { db, clock } = deps;
  const cache = createSnapshotCache<Cached>({ ttlMs: deps.cacheTtlMs ?? 5000, maxEntries: 5000, now: () => clock.now().getTime() });
  const key = (tenantId: string, id: string) => `${tenantId}:${id}`;

  async function loadFresh(exec: Executor, tenantId: string, id: string): Promise<Cached> {
    const row = await repo.findPromotion(exec, tenantId, id);
    if (!row) throw promotionErrors.notFound(id);
    return { row, stock: await repo.stockOf(exec, tenantId, [id]) };
  }

  /** The promotion as cached (a change by this process drops the entry; other processes see it within the TTL). */
  async function loadCached(tenantId: string, id: string): Promise<Cached> {
    const hit = cache.get(key(tenantId, id));
    if (hit) return hit;
    const fresh = await loadFresh(db, tenantId, id);
    cache.set(key(tenantId, id), fresh);
    return fresh;
  }

  async function checkAudienceExists(tenantId: string, audienceId: string | null | undefined, exec: Executor) {
    if (audienceId && !(await deps.membership(tenantId, audienceId, '', exec))) throw promotionErrors.unknownAudience(audienceId);
  }

  async function inAudience(tenantId: string, row: repo.PromotionRow, userId: string, exec: Executor): Promise<boolean> {
    if (!row.audience_id) return true;
    return (await deps.membership(tenantId, row.audience_id, userId, exec))?.member ?? false;
  }

  function requireActive(row: repo.PromotionRow, now: Date) {
    const phase = phaseOf(row, now);
    if (phase !== 'active') throw promotionErrors.notActive(row.promotion_id, phase === 'scheduled' ? 'not_started' : 'ended');
  }

  return {
    async create(actor: Actor, input: CreatePromotionInput, exec: Executor = db) {
      const tenantId = requireTenant(actor).tenantId;
      const start = new Date(input.start_time);
      const end = new Date(input.end_time);
      checkWindow(start, end);
      const { terms, stock } = normalizeTerms(input.promotion_type, input, { start, end });
      await checkAudienceExists(tenantId, input.audience_id, exec);
      const now = clock.now();
      const row = await repo.insertPromotion(exec, {
        tenant_id: tenantId,
        promotion_id: newId('prm', now.getTime()),
        name: input.name,
        promotion_type: input.promotion_type,
        terms: JSON.stringify(terms),
        scope: JSON.stringify(normalizeScope(input.scope)),
        audience_id: input.audience_id ?? null,
        start_time: start,
        end_time: end,
        priority: input.priority ?? 0,
        stacking_group: input.stacking_group ?? null,
        exclusive: input.exclusive ?? false,
        created_at: now,
        updated_at: now,
      });
      await repo.replaceStock(exec, tenantId, row.promotion_id, stock);
      return toPromotionView(row, await repo.stockOf(exec, tenantId, [row.promotion_id]), now);
    },

    async get(actor: Actor, id: string) {
      const { row, stock } = await loadFresh(db, requireTenant(actor).tenantId, id);
      return toPromotionView(row, stock, clock.now());
    },

    async list(actor: Actor, query: { page?: number; page_size?: number; promotion_type?: string; active_at?: string }) {
      const tenantId = requireTenant(actor).tenantId;
      const page = toPage(query);
      const { rows, total } = await repo.listPromotions(db, tenantId, { type: query.promotion_type, activeAt: query.active_at ? new Date(query.active_at) : undefined }, page);
      const stock = await repo.stockOf(db, tenantId, rows.map((r) => r.promotion_id));
      const now = clock.now();
      return { promotions: rows.map((r) => toPromotionView(r, stock.filter((s) => s.promotion_id === r.promotion_id), now)), pagination: pagination(total, page) };
    },

    /** Changes a promotion that has not started (its stock rows are replaced: nothing was sold yet). */
    async update(actor: Actor, id: string, input: UpdatePromotionInput, exec: Executor = db) {
      const tenantId = requireTenant(actor).tenantId;
      const now = clock.now();
      const current = await repo.findPromotion(exec, tenantId, id);
      if (!current) throw promotionErrors.notFound(id);
      if (current.start_time <= now) throw promotionErrors.started(id);
      const start = input.start_time ? new Date(input.start_time) : current.start_time;
      const end = input.end_time ? new Date(input.end_time) : current.end_time;
      checkWindow(start, end);
      const typeKey = current.promotion_type;
      const given = input[typeKey] !== undefined;
      const { type: _t, ...currentTerms } = current.terms;
      const { terms, stock } = normalizeTerms(typeKey, given ? input : { [typeKey]: currentTerms }, { start, end });
      if (input.audience_id !== undefined) await checkAudienceExists(tenantId, input.audience_id, exec);
      const row = await repo.updateNotStarted(
        exec,
        tenantId,
        id,
        {
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.audience_id !== undefined ? { audience_id: input.audience_id } : {}),
          ...(input.scope !== undefined ? { scope: JSON.stringify(normalizeScope(input.scope)) } : {}),
          ...(input.priority !== undefined ? { priority: input.priority } : {}),
          ...(input.stacking_group !== undefined ? { stacking_group: input.stacking_group } : {}),
          ...(input.exclusive !== undefined ? { exclusive: input.exclusive } : {}),
          terms: JSON.stringify(terms),
          start_time: start,
          end_time: end,
          updated_at: now,
        },
        now,
      );
      if (!row) throw promotionErrors.started(id);
      if (given) await repo.replaceStock(exec, tenantId, id, stock);
      cache.delete(key(tenantId, id));
      return toPromotionView(row, await repo.stockOf(exec, tenantId, [id]), now);
    },

    /** Ends the promotion now: no more eligibility, discount or reservations (held reservations can still commit or release). */
    async end(actor: Actor, id: string, exec: Executor = db) {
      const tenantId = requireTenant(actor).tenantId;
      const now = clock.now();
      const row = await repo.endNow(exec, tenantId, id, now);
      cache.delete(key(tenantId, id));
      if (!row) {
        if (!(await repo.findPromotion(exec, tenantId, id))) throw promotionErrors.notFound(id);
        throw promotionErrors.alreadyEnded(id);
      }
      return toPromotionView(row, await repo.stockOf(exec, tenantId, [id]), now);
    },

    /** The document's check_promotion_eligibility: every reason the user (and item) cannot take part now. */
    async eligibility(actor: Actor, id: string, input: { user_id: string; item_id?: string | undefined; category_id?: string | undefined }, chinese: boolean) {
      const tenantId = requireTenant(actor).tenantId;
      const { row, stock } = await loadCached(tenantId, id);
      const now = clock.now();
      const reasons: string[] = [];
      const phase = phaseOf(row, now);
      if (phase !== 'active') reasons.push(phase === 'scheduled' ? 'not_started' : 'ended');
      if (!(await inAudience(tenantId, row, input.user_id, db))) reasons.push('not_in_audience');
      let stockLeft: number | null = null;
      let userRemaining: number | null = null;
      const live = await repo.stockOf(db, tenantId, [id]);
      if (input.item_id !== undefined) {
        const flash = stock.find((s) => s.kind === 'flash' && s.item_id === input.item_id);
        const line = { item_id: input.item_id, category_id: input.category_id };
        if (!inScope(row.scope, line) || (row.promotion_type === 'flash_sale' && !flash)) reasons.push('out_of_scope');
        if (flash) {
          const current = live.find((s) => s.item_id === flash.item_id);
          stockLeft = current ? current.stock - current.sold : 0;
          if (flash.per_user_limit !== null) {
            const n = (await repo.userCount(db, tenantId, id, flash.item_id, input.user_id))?.n ?? 0;
            userRemaining = Math.max(0, flash.per_user_limit - n);
            if (userRemaining === 0) reasons.push('per_user_limit_reached');
          }
        }
      }
      if (stockLeft === null && live.length > 0) stockLeft = live.reduce((a, s) => a + Math.max(0, s.stock - s.sold), 0);
      if (stockLeft === 0) reasons.push('sold_out');
      const lang = chinese ? 'zh' : 'en';
      return {
        promotion_id: id,
        eligible: reasons.length === 0,
        reasons: reasons.map((code) => ({ code, message: reasonMessages[code]?.[lang] ?? code })),
        stock_left: stockLeft,
        user_remaining: userRemaining,
      };
    },

    /** The document's calculate_discount: what this promotion gives on the cart, per line (400 promotion_not_active outside its time). */
    async discount(actor: Actor, id: string, input: { user_id: string; cart?: Cart | undefined; order_amount?: number | undefined }) {
      const tenantId = requireTenant(actor).tenantId;
      if ((input.cart === undefined) === (input.order_amount === undefined)) throw promotionErrors.invalid('cart', 'give exactly one of cart, order_amount');
      // The document's order_amount: one line whose item id no scope can name (ids are non-empty).
      const cart: Cart = input.cart ?? { lines: [{ item_id: '', unit_price: input.order_amount ?? 0, quantity: 1 }] };
      const { row } = await loadCached(tenantId, id);
      requireActive(row, clock.now());
      if (!(await inAudience(tenantId, row, input.user_id, db))) {
        return { promotion_id: id, applicable: false, reason: 'not_in_audience', eligible_amount: 0, discount: 0, lines: [], gifts: [] };
      }
      return { promotion_id: id, ...calculateDiscount(row.terms, row.scope, cart) };
    },

    /**
     * Takes `quantity` of the item's stock for an order: the reservation row (its primary key makes
     * the order id idempotent), the user's counter (n + q <= per_user_limit) and the stock
     * (sold + q <= stock), each one conditional statement, in the caller's transaction: a refusal
     * rolls back all three.
     */
    async reserve(actor: Actor, id: string, input: { user_id: string; order_id: string; item_id: string; quantity: number }, trx: Executor) {
      const tenantId = requireTenant(actor).tenantId;
      const now = clock.now();
      const { row, stock } = await loadFresh(trx, tenantId, id);
      const item = stock.find((s) => s.item_id === input.item_id);
      const existing = await repo.findReservation(trx, tenantId, id, input.order_id);
      if (existing) return sameOrMismatch(existing, input);
      requireActive(row, now);
      if (!(await inAudience(tenantId, row, input.user_id, trx))) throw promotionErrors.notInAudience(id);
      if (!item) throw promotionErrors.itemNotInPromotion(id, input.item_id);
      const inserted = await repo.insertReservation(trx, { tenant_id: tenantId, promotion_id: id, ...input, status: 'reserved', created_at: now, updated_at: now });
      if (!inserted) {
        const raced = await repo.findReservation(trx, tenantId, id, input.order_id);
        if (!raced) throw promotionErrors.orderMismatch(id, input.order_id);
        return sameOrMismatch(raced, input);
      }
      if (item.per_user_limit !== null) {
        const n = await repo.countUser(trx, { tenantId, promotionId: id, itemId: item.item_id, userId: input.user_id }, input.quantity, item.per_user_limit);
        if (n === null) throw promotionErrors.perUserLimitReached(id, item.item_id, item.per_user_limit);
      }
      if (!(await repo.takeStock(trx, tenantId, id, item.item_id, input.quantity))) throw promotionErrors.soldOut(id, item.item_id);
      cache.delete(key(tenantId, id));
      return toReservationView(inserted);
    },

    async commit(actor: Actor, id: string, orderId: string, trx: Executor) {
      const tenantId = requireTenant(actor).tenantId;
      const row = await repo.setReservationStatus(trx, tenantId, id, orderId, 'committed', clock.now());
      if (row) return toReservationView(row);
      return settled(await repo.findReservation(trx, tenantId, id, orderId), id, orderId, 'committed');
    },

    /** The order is cancelled: the stock and the user's count come back (once; again answers the same). */
    async release(actor: Actor, id: string, orderId: string, trx: Executor) {
      const tenantId = requireTenant(actor).tenantId;
      const row = await repo.setReservationStatus(trx, tenantId, id, orderId, 'released', clock.now());
      if (!row) return settled(await repo.findReservation(trx, tenantId, id, orderId), id, orderId, 'released');
      await repo.uncountUser(trx, { tenantId, promotionId: id, itemId: row.item_id, userId: row.user_id }, row.quantity);
      await repo.giveStockBack(trx, tenantId, id, row.item_id, row.quantity);
      cache.delete(key(tenantId, id));
      return toReservationView(row);
    },
  };
}

function sameOrMismatch(r: repo.ReservationRow, input: { user_id: string; order_id: string; item_id: string; quantity: number }) {
  if (r.user_id !== input.user_id || r.item_id !== input.item_id || r.quantity !== input.quantity) throw promotionErrors.orderMismatch(r.promotion_id, r.order_id);
  return toReservationView(r);
}

function settled(r: repo.ReservationRow | undefined, id: string, orderId: string, wanted: 'committed' | 'released') {
  if (!r) throw promotionErrors.reservationNotFound(id, orderId);
  if (r.status !== wanted) throw promotionErrors.reservationState(id, orderId, r.status);
  return toReservationView(r);
}

function toReservationView(r: repo.ReservationRow) {
  return {
    promotion_id: r.promotion_id,
    order_id: r.order_id,
    user_id: r.user_id,
    item_id: r.item_id,
    quantity: r.quantity,
    status: r.status,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}
