import { type Database, type Executor } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import { createSnapshotCache } from '../../platform/snapshot-cache.js';
import { createLiveCache } from './promotion-live.js';
import { createReservationService, nowAndAfterCommit, type ReserveLinesInput, type SettleAction } from './promotion-reservation.service.js';
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
  /** How long a promotion (and a tenant's live list) is kept in this process (config promotions.cache_ttl_ms). */
  cacheTtlMs?: number;
}) {
  const { db, clock } = deps;
  const ttlMs = deps.cacheTtlMs ?? 5000;
  const cache = createSnapshotCache<Cached>({ ttlMs, maxEntries: 5000, now: () => clock.now().getTime() });
  const key = (tenantId: string, id: string) => `${tenantId}:${id}`;
  const liveCache = createLiveCache({ db, clock, ttlMs });
  /** A change by this process: the promotion's entry and the tenant's live list are dropped, now and after the commit. */
  const forget = (tenantId: string, exec: Executor, id?: string) =>
    nowAndAfterCommit(exec, () => {
      if (id !== undefined) cache.delete(key(tenantId, id));
      liveCache.drop(tenantId);
    });

  async function loadFresh(exec: Executor, tenantId: string, id: string): Promise<Cached> {
    const row = await repo.findPromotion(exec, tenantId, id);
    if (!row) throw promotionErrors.notFound(id);
    return { row, stock: await repo.stockOf(exec, tenantId, [id]) };
  }

  /** The promotion as cached (a change by this process drops the entry; other processes see it within the TTL). */
  async function loadCached(tenantId: string, id: string, exec: Executor = db, fresh = false): Promise<Cached> {
    const hit = fresh ? undefined : cache.get(key(tenantId, id));
    if (hit) return hit;
    const loaded = await loadFresh(exec, tenantId, id);
    cache.set(key(tenantId, id), loaded);
    return loaded;
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

  const reservations = createReservationService({
    db,
    clock,
    load: (tenantId, id, exec, fresh) => loadCached(tenantId, id, exec, fresh),
    inAudience,
    changed: (tenantId, exec) => forget(tenantId, exec),
  });

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
      forget(tenantId, exec);
      return toPromotionView(row, await repo.stockOf(exec, tenantId, [row.promotion_id]), now);
    },

    async get(actor: Actor, id: string) {
      const { row, stock } = await loadFresh(db, requireTenant(actor).tenantId, id);
      return toPromotionView(row, stock, clock.now());
    },

    async list(actor: Actor, query: { page?: number; page_size?: number; promotion_type?: string; active_at?: string; status?: 'scheduled' | 'active' | 'ended' }) {
      const tenantId = requireTenant(actor).tenantId;
      const page = toPage(query);
      const now = clock.now();
      const filter = { type: query.promotion_type, activeAt: query.active_at ? new Date(query.active_at) : undefined, status: query.status ? { phase: query.status, now } : undefined };
      const { rows, total } = await repo.listPromotions(db, tenantId, filter, page);
      const stock = await repo.stockOf(db, tenantId, rows.map((r) => r.promotion_id));
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
      forget(tenantId, exec, id);
      return toPromotionView(row, await repo.stockOf(exec, tenantId, [id]), now);
    },

    /** Ends the promotion now: no more eligibility, discount or reservations (held reservations can still commit or release). */
    async end(actor: Actor, id: string, exec: Executor = db) {
      const tenantId = requireTenant(actor).tenantId;
      const now = clock.now();
      const row = await repo.endNow(exec, tenantId, id, now);
      forget(tenantId, exec, id);
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

    /** Takes stock for the lines of an order, all or nothing, in the caller's transaction (see promotion-reservation.service.ts). */
    reserveLines: reservations.reserveLines,
    /** Commit, release or refund every reservation of the order (all promotions), in the caller's transaction. */
    settleOrder: reservations.settleOrder,
    /** The sweep: held reservations past expires_at are released, their stock and counts back; answers how many. */
    releaseLapsed: reservations.releaseLapsed,
    /** Every promotion of the tenant active now, by priority desc then id, cached per tenant for cache_ttl_ms. */
    live: liveCache.live,

    /** The reserve route: reserveLines over one line of this promotion. */
    async reserve(actor: Actor, id: string, input: Omit<ReserveLinesInput, 'lines'> & { item_id: string; quantity: number }, trx: Executor) {
      const { item_id, quantity, ...order } = input;
      const [view] = await reservations.reserveLines(requireTenant(actor).tenantId, { ...order, lines: [{ promotion_id: id, item_id, quantity }] }, trx);
      return view!;
    },

    /** The commit / release / refund routes: every item of the order in this promotion. */
    async settlePromotion(actor: Actor, id: string, orderId: string, action: SettleAction, trx: Executor) {
      const rows = await reservations.settle(requireTenant(actor).tenantId, orderId, action, trx, id);
      return { promotion_id: id, order_id: orderId, status: rows[0]!.status, reservations: rows };
    },
  };
}
