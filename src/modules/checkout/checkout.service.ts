import { createHash } from 'node:crypto';
import type { Counter } from 'prom-client';
import { type Database, type Executor, inTransaction } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Cart } from '../../platform/cart.js';
import type { Clock } from '../../platform/clock.js';
import { createSnapshotCache } from '../../platform/snapshot-cache.js';
import { checkoutErrors } from './checkout.errors.js';
import { toQuoteView } from './checkout.quote.js';
import * as repo from './checkout.repo.js';
import type { CheckoutInput, OrderView, QuoteInput, QuoteView } from './checkout.schemas.js';
import type { OrderStatus } from './checkout.tables.js';
import type { CouponOfferInput, PromotionOfferInput } from './offers.js';
import type { CheckoutPorts, OrderAction } from './ports.js';
import { type Failure, type Offer, type Priced, price, toOffers } from './stacking.js';
import { createQuoteCounter } from './checkout.stats.js';

export type CheckoutService = ReturnType<typeof createCheckoutService>;
export type PricedCheckout = StoredQuote & { priced: Priced };

const DEFAULT_TTL_SECONDS = 900;

interface StoredQuote {
  view: QuoteView;
  /** Flash-sale and gift stock the order holds, per promotion. */
  takes: { promotion_id: string; item_id: string; quantity: number }[];
  coupon_ids: string[];
  /** The cart as priced after the promotions (what the coupon lock evaluates). */
  coupon_cart: Cart;
}

export function createCheckoutService(deps: {
  db: Database;
  clock: Clock;
  ports: CheckoutPorts;
  /** How long a user's audience membership is trusted by the quote (the promotions cache TTL). */
  membershipTtlMs?: number;
  metrics?: { quotes: Counter; orders: Counter<'status'> };
}) {
  const { db, clock, ports } = deps;
  const membership = createSnapshotCache<{ member: boolean }>({ ttlMs: deps.membershipTtlMs ?? 5000, maxEntries: 20_000, now: () => clock.now().getTime() });
  const quoteCounter = createQuoteCounter(db);

  async function inAudience(tenantId: string, audienceId: string, userId: string): Promise<boolean> {
    const key = `${tenantId}\u0000${audienceId}\u0000${userId}`;
    const hit = membership.get(key);
    if (hit) return hit.member;
    const member = await ports.inAudience(tenantId, audienceId, userId);
    membership.set(key, { member });
    return member;
  }

  /** Every live promotion and the named (or wallet) coupons, priced with the best combination. */
  async function priceCart(tenantId: string, input: QuoteInput, chinese: boolean): Promise<StoredQuote & { priced: Priced }> {
    const now = clock.now();
    const wantsCoupons = (input.coupon_codes?.length ?? 0) > 0 || input.use_wallet === true;
    const [live, wallet] = await Promise.all([
      ports.livePromotions(tenantId),
      wantsCoupons ? ports.quoteCoupons(tenantId, input.user_id, { codes: input.coupon_codes ?? [], wallet: input.use_wallet ?? false }) : { coupons: [], unknown_codes: [] },
    ]);
    if (wallet.unknown_codes.length > 0) throw checkoutErrors.unknownCoupons(wallet.unknown_codes);
    const promotions: PromotionOfferInput[] = [];
    const blockedPromotions: PromotionOfferInput[] = [];
    for (const p of live) {
      const offer = { id: p.promotion_id, name: p.name, terms: p.terms, scope: p.scope, priority: p.priority, stacking_group: p.stacking_group, exclusive: p.exclusive, stock: p.stock.map((s) => ({ item_id: s.item_id, left: s.left })) };
      if (p.audience_id && !(await inAudience(tenantId, p.audience_id, input.user_id))) blockedPromotions.push(offer);
      else promotions.push(offer);
    }
    const coupons: CouponOfferInput[] = wallet.coupons.map((c) => ({ id: c.coupon_id, name: c.name, code: c.code, template_id: c.template_id, terms: c }));
    const blocked: { offer: Offer; failure: Failure }[] = toOffers(blockedPromotions, []).map((offer) => ({ offer, failure: { reason: 'not_in_audience', details: {} } }));
    const priced = price(input.cart, toOffers(promotions, coupons), now, blocked);
    const view = toQuoteView(input.user_id, input.cart, priced, now, chinese);
    const takes = priced.result.applied.filter((a) => a.kind === 'promotion').flatMap((a) => a.takes.map((t) => ({ promotion_id: a.id, ...t })));
    const couponIds = priced.result.applied.filter((a) => a.kind === 'coupon').map((a) => a.id);
    // The coupon lock evaluates each coupon on the cart as the promotions left it.
    const promoDiscounts = input.cart.lines.map(() => 0);
    for (const a of priced.result.applied) if (a.kind === 'promotion') for (const l of a.lines) promoDiscounts[l.line_index] = (promoDiscounts[l.line_index] ?? 0) + l.discount;
    const couponCart: Cart = { ...input.cart, lines: input.cart.lines.map((l, i) => ({ ...l, amount: l.unit_price * l.quantity - (promoDiscounts[i] ?? 0) })) };
    return { view, takes, coupon_ids: couponIds, coupon_cart: couponCart, priced };
  }

  function toOrderView(row: repo.OrderRow, now: Date): OrderView {
    const stored = row.quote as StoredQuote;
    const status: OrderStatus = row.status === 'reserved' && row.expires_at <= now ? 'expired' : row.status;
    return { order_id: row.order_id, user_id: row.user_id, status, expires_at: row.expires_at.toISOString(), quote: stored.view, created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString() };
  }

  function requestHash(input: CheckoutInput): string {
    const { ttl_seconds: _ttl, ...rest } = input;
    return createHash('sha256').update(JSON.stringify({ ...rest, coupon_codes: [...(rest.coupon_codes ?? [])].sort() })).digest('hex');
  }

  async function settleParts(tenantId: string, row: repo.OrderRow, action: OrderAction, trx: Executor): Promise<void> {
    const stored = row.quote as StoredQuote;
    if (stored.takes.length > 0) await ports.settlePromotions(tenantId, row.order_id, action, trx);
    if (stored.coupon_ids.length > 0) await ports.settleCoupons(tenantId, row.order_id, action, trx);
  }

  const transitions: Record<OrderAction, { from: OrderStatus; to: OrderStatus }> = {
    commit: { from: 'reserved', to: 'committed' },
    release: { from: 'reserved', to: 'released' },
    refund: { from: 'committed', to: 'refunded' },
  };

  return {
    /** Prices the cart (nothing changes). A hot quote reads no database row: live promotions and wallets come from their caches. */
    async quote(actor: Actor, input: QuoteInput, chinese = false): Promise<QuoteView> {
      const tenantId = requireTenant(actor).tenantId;
      const { view, priced } = await priceCart(tenantId, input, chinese);
      deps.metrics?.quotes.inc();
      quoteCounter.count(tenantId, priced.result.applied.map((a) => ({ kind: a.kind, id: a.kind === 'coupon' ? (a.template_id ?? a.id) : a.id })));
      return view;
    },

    /**
     * Prices the cart for a checkout, before its transaction opens (pricing reads caches and,
     * when they are cold, the database outside any transaction). The checkout then acts on it.
     */
    async priceForCheckout(actor: Actor, input: CheckoutInput, chinese = false): Promise<PricedCheckout> {
      return priceCart(requireTenant(actor).tenantId, input, chinese);
    },

    /**
     * When the price is the one the customer saw (quote_hash), holds the order's coupons and its
     * flash-sale and gift stock, all in the caller's transaction: any refusal (sold out, limit
     * reached, coupon used) rolls back everything. The same order id and request answers the
     * same order. The hot stock rows are taken last, so they stay locked the shortest time.
     */
    async checkout(actor: Actor, input: CheckoutInput, priced: PricedCheckout, trx: Executor): Promise<OrderView> {
      const tenantId = requireTenant(actor).tenantId;
      const now = clock.now();
      const hash = requestHash(input);
      const existing = await repo.findOrder(trx, tenantId, input.order_id);
      if (existing) {
        if (existing.request_hash !== hash) throw checkoutErrors.orderMismatch(input.order_id);
        return toOrderView(existing, now);
      }
      const { view } = priced;
      if (view.quote_hash !== input.quote_hash) {
        throw checkoutErrors.quoteChanged({ quote_hash: view.quote_hash, total: view.total, applied: view.applied.map((a) => a.id), not_applied: view.not_applied.map((n) => ({ id: n.id, reason: n.reason })) });
      }
      const stored: StoredQuote = { view, takes: priced.takes, coupon_ids: priced.coupon_ids, coupon_cart: priced.coupon_cart };
      const ttl = input.ttl_seconds ?? DEFAULT_TTL_SECONDS;
      const row = await repo.insertOrder(trx, {
        tenant_id: tenantId,
        order_id: input.order_id,
        user_id: input.user_id,
        status: 'reserved',
        request_hash: hash,
        quote_hash: view.quote_hash,
        quote: JSON.stringify(stored),
        subtotal: view.subtotal,
        discount: view.discount,
        shipping_discount: view.shipping_discount,
        total: view.total,
        expires_at: new Date(now.getTime() + ttl * 1000),
        created_at: now,
        updated_at: now,
      });
      if (!row) {
        // A parallel checkout of the same order id won: the same request gets its answer.
        const raced = await repo.findOrder(trx, tenantId, input.order_id);
        if (!raced || raced.request_hash !== hash) throw checkoutErrors.orderMismatch(input.order_id);
        return toOrderView(raced, now);
      }
      await repo.insertOffers(
        trx,
        priced.priced.result.applied.map((a) => ({ tenant_id: tenantId, order_id: input.order_id, offer_kind: a.kind, offer_id: a.kind === 'coupon' ? (a.template_id ?? a.id) : a.id, user_id: input.user_id, discount: a.discount + a.shipping_discount, created_at: now })),
      );
      if (priced.coupon_ids.length > 0) await ports.lockCoupons(tenantId, { user_id: input.user_id, order_id: input.order_id, coupon_ids: priced.coupon_ids, ttl_seconds: ttl, cart: priced.coupon_cart }, trx);
      if (priced.takes.length > 0) await ports.reservePromotions(tenantId, { user_id: input.user_id, order_id: input.order_id, ttl_seconds: ttl, lines: priced.takes }, trx);
      deps.metrics?.orders.inc({ status: 'reserved' });
      return toOrderView(row, now);
    },

    async get(actor: Actor, orderId: string): Promise<OrderView> {
      const row = await repo.findOrder(db, requireTenant(actor).tenantId, orderId);
      if (!row) throw checkoutErrors.orderNotFound(orderId);
      return toOrderView(row, clock.now());
    },

    /** commit (paid), release (cancelled) or refund (after payment): the order and everything it holds, in one transaction. */
    async settle(actor: Actor, orderId: string, action: OrderAction, trx: Executor): Promise<OrderView> {
      const tenantId = requireTenant(actor).tenantId;
      const now = clock.now();
      const { from, to } = transitions[action];
      const row = await repo.transition(trx, tenantId, orderId, from, to, now, { unexpired: action === 'commit' });
      if (!row) {
        const current = await repo.findOrder(trx, tenantId, orderId);
        if (!current) throw checkoutErrors.orderNotFound(orderId);
        const view = toOrderView(current, now);
        if (current.status === to) return view;
        throw checkoutErrors.orderState(orderId, view.status, from);
      }
      await settleParts(tenantId, row, action, trx);
      deps.metrics?.orders.inc({ status: to });
      return toOrderView(row, now);
    },

    /** Sweep: orders unpaid at their TTL give back their coupons and stock. */
    async releaseLapsed(limit = 500): Promise<number> {
      return inTransaction(db, async (trx) => {
        const rows = await repo.expireDue(trx, clock.now(), limit);
        for (const row of rows) await settleParts(row.tenant_id, row, 'release', trx);
        if (rows.length > 0) deps.metrics?.orders.inc({ status: 'expired' }, rows.length);
        return rows.length;
      });
    },

    /** Per promotion and coupon template: quotes, orders, paid orders, participants, conversion, discount spent, revenue, ROI. */
    async stats(actor: Actor, query: { offer_kind?: string | undefined; offer_id?: string | undefined }) {
      const rows = await repo.stats(db, requireTenant(actor).tenantId, { kind: query.offer_kind, offerId: query.offer_id });
      return {
        offers: rows.map((r) => {
          const quotes = Number(r.quotes ?? 0);
          const paid = Number(r.paid_orders);
          const discount = Number(r.discount_spent);
          const revenue = Number(r.revenue);
          return {
            offer_kind: r.offer_kind,
            offer_id: r.offer_id,
            quotes,
            orders: Number(r.orders),
            paid_orders: paid,
            participants: Number(r.participants),
            conversion: quotes > 0 ? paid / quotes : null,
            discount_spent: discount,
            revenue,
            roi: discount > 0 ? revenue / discount : null,
          };
        }),
      };
    },

    /** Adds the quote counts gathered in memory to the database (the runner calls it every few seconds). */
    flushQuoteCounts: () => quoteCounter.flush(),
  };
}
