import { randomBytes } from 'node:crypto';
import type { Counter } from 'prom-client';
import { type Database, type Executor, inTransaction } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import { couponErrors } from './coupon.errors.js';
import type { CouponAction, CouponGuard } from './coupon.limits.js';
import * as repo from './coupon.repo.js';
import { type CouponOrders, createCouponOrders, type LockForOrderInput, type LockedCoupon, type SettleAction, amountsOf } from './coupon.order.js';
import { createQuoteWallets, type QuoteCoupons, type QuoteCouponsInput } from './coupon.quote.js';
import { effectiveStatus, evaluateCoupon } from './coupon.rules.js';
import type { AvailableInput, CouponView, LockInput, TemplateStats } from './coupon.schemas.js';
import { type TemplateInput, normalizeTemplate } from './coupon.template.js';
import { termsOf, toCouponView, toTemplateView } from './coupon.view.js';

export type CouponService = ReturnType<typeof createCouponService>;
export type CouponSource = 'claim' | 'issue' | 'grant';

/** Membership of a user in an audience of the tenant; null when the tenant has no such audience. */
export type AudienceMembership = (tenantId: string, audienceId: string, userId: string, exec: Executor) => Promise<{ member: boolean } | null>;

const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
/** A 10-character code of an unambiguous alphabet (50 bits): short to type, unique per tenant by index. */
function newCode(): string {
  const bytes = randomBytes(10);
  let out = '';
  for (const b of bytes) out += CODE_ALPHABET[b & 31];
  return out;
}

const MAX_WALLET_SCAN = 1000;
const DAY_MS = 86_400_000;

export function createCouponService(deps: {
  db: Database;
  clock: Clock;
  membership: AudienceMembership;
  /** How often the expiry sweep runs (config coupons.check_interval_seconds). */
  checkIntervalMs?: number;
  metrics?: { claimed: Counter<'source'>; used: Counter; released?: Counter<'reason'>; refunded?: Counter; expired?: Counter };
  /** How long a user's wallet terms are kept for quotes in this process (config coupons.quote_cache_ttl_ms). */
  quoteCacheTtlMs?: number;
  /** Anti-abuse limits on claims and uses (absent: none). */
  guard?: CouponGuard;
}) {
  const { db, clock } = deps;
  const quotes = createQuoteWallets({ db, clock, ttlMs: deps.quoteCacheTtlMs ?? 2000 });
  const orders: CouponOrders = createCouponOrders({ clock, metrics: deps.metrics, changed: quotes.changed });

  async function load(exec: Executor, tenantId: string, couponId: string) {
    const row = await repo.findCoupon(exec, tenantId, couponId);
    if (!row) throw couponErrors.couponNotFound(couponId);
    return row;
  }

  async function checkAudience(tenantId: string, policy: string, audienceId: string | null, exec: Executor) {
    if (policy !== 'audience') return;
    if (!audienceId) throw couponErrors.invalid('audience_id', 'is required with claim_policy audience');
    if (!(await deps.membership(tenantId, audienceId, '', exec))) throw couponErrors.unknownAudience(audienceId);
  }

  /** A coupon of the template for the user: per-user counter, then the template's usage count, then the coupon, in one transaction. */
  async function claimIn(trx: Executor, tenantId: string, templateId: string, userId: string, source: CouponSource): Promise<CouponView> {
    const now = clock.now();
    const template = await repo.findTemplate(trx, tenantId, templateId);
    if (!template) throw couponErrors.templateNotFound(templateId);
    if (template.status !== 'active') throw couponErrors.templateNotClaimable(templateId, 'disabled');
    if (template.valid_until && template.valid_until <= now) throw couponErrors.templateNotClaimable(templateId, 'ended');
    if (source === 'claim' && template.claim_policy === 'admin_only') throw couponErrors.claimNotAllowed(templateId, 'admin_only');
    if (source === 'claim' && template.claim_policy === 'audience') {
      const found = template.audience_id ? await deps.membership(tenantId, template.audience_id, userId, trx) : null;
      if (!found?.member) throw couponErrors.claimNotAllowed(templateId, 'audience');
    }
    // The user's counter row first (locked by the upsert), then the template row: every claim
    // takes them in this order. A refusal by the template rolls the counter back with it.
    if (template.per_user_limit !== null) {
      const n = await repo.countUserClaim(trx, tenantId, templateId, userId, template.per_user_limit);
      if (n === null) throw couponErrors.perUserLimitReached(templateId, template.per_user_limit);
    }
    const taken = await repo.takeFromTemplate(trx, tenantId, templateId, now);
    if (!taken) {
      const current = await repo.findTemplate(trx, tenantId, templateId);
      if (current && current.status !== 'active') throw couponErrors.templateNotClaimable(templateId, 'disabled');
      throw couponErrors.usageLimitReached(templateId, template.usage_limit);
    }
    let validFrom = taken.valid_from;
    let validUntil = taken.valid_until;
    if (taken.valid_days !== null) {
      validFrom = taken.valid_from && taken.valid_from > now ? taken.valid_from : now;
      const end = new Date(validFrom.getTime() + taken.valid_days * DAY_MS);
      validUntil = taken.valid_until && taken.valid_until < end ? taken.valid_until : end;
    }
    const base = { tenant_id: tenantId, template_id: templateId, user_id: userId, status: 'available' as const, source, valid_from: validFrom, valid_until: validUntil };
    const stamps = { order_id: null, locked_until: null, used_at: null, created_at: now, updated_at: now };
    // 50 random bits per code: a clash with the unique index is astronomically rare and fails the claim (nothing is counted).
    const row = await repo.insertCoupon(trx, { ...base, ...stamps, coupon_id: newId('cpn', now.getTime()), code: newCode() });
    quotes.changed(trx, tenantId, [userId]);
    deps.metrics?.claimed.inc({ source });
    return toCouponView({ ...taken, ...row, template_status: taken.status }, now);
  }

  return {
    /** Charges one claim or use attempt of the user (and of the end-user IP when known); 429 rate_limited beyond the limits. */
    async admit(actor: Actor, action: CouponAction, userId: string, clientIp: string | null): Promise<void> {
      await deps.guard?.admit(action, requireTenant(actor).tenantId, userId, clientIp);
    },

    async createTemplate(actor: Actor, input: TemplateInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const t = normalizeTemplate(input);
      await checkAudience(tenant.tenantId, t.claim_policy, t.audience_id, exec);
      const now = clock.now();
      const row = await repo.insertTemplate(exec, {
        ...t,
        scope: JSON.stringify(t.scope),
        tenant_id: tenant.tenantId,
        template_id: newId('cpt', now.getTime()),
        created_at: now,
        updated_at: now,
      });
      return toTemplateView(row);
    },

    async getTemplate(actor: Actor, templateId: string, exec: Executor = db) {
      const row = await repo.findTemplate(exec, requireTenant(actor).tenantId, templateId);
      if (!row) throw couponErrors.templateNotFound(templateId);
      return toTemplateView(row);
    },

    async listTemplates(actor: Actor, query: { page?: number; page_size?: number; status?: string; coupon_type?: string }, exec: Executor = db) {
      const page = toPage(query);
      const { rows, total } = await repo.listTemplates(exec, requireTenant(actor).tenantId, { status: query.status, couponType: query.coupon_type }, page);
      return { templates: rows.map(toTemplateView), pagination: pagination(total, page) };
    },

    /** Changes a template while no coupon of it was claimed (the check is in the UPDATE itself). */
    async updateTemplate(actor: Actor, templateId: string, input: Partial<TemplateInput>, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const current = await repo.findTemplate(exec, tenant.tenantId, templateId);
      if (!current) throw couponErrors.templateNotFound(templateId);
      const merged = { ...toTemplateView(current), ...input } as TemplateInput;
      const t = normalizeTemplate(merged);
      await checkAudience(tenant.tenantId, t.claim_policy, t.audience_id, exec);
      const row = await repo.updateUnusedTemplate(exec, tenant.tenantId, templateId, { ...t, scope: JSON.stringify(t.scope), updated_at: clock.now() });
      if (!row) throw couponErrors.templateInUse(templateId, current.claimed_count);
      return toTemplateView(row);
    },

    /** No more claims or issues; coupons already held stay usable. */
    async disableTemplate(actor: Actor, templateId: string, exec: Executor = db) {
      const row = await repo.setTemplateStatus(exec, requireTenant(actor).tenantId, templateId, 'disabled', clock.now());
      if (!row) throw couponErrors.templateNotFound(templateId);
      return toTemplateView(row);
    },

    /** The user claims (claim_policy applies), an admin issues (it does not), or a grant issues: the limits always apply. */
    async claim(actor: Actor, templateId: string, userId: string, source: CouponSource, exec: Executor = db) {
      const tenant = requireTenant(actor);
      return inTransaction(exec, (trx) => claimIn(trx, tenant.tenantId, templateId, userId, source));
    },

    /** For other modules (a reward of type COUPON): one coupon of the template for the user. */
    async issueForTenant(tenantId: string, templateId: string, userId: string, exec: Executor = db) {
      return inTransaction(exec, (trx) => claimIn(trx, tenantId, templateId, userId, 'grant'));
    },

    async getCoupon(actor: Actor, couponId: string, exec: Executor = db) {
      return toCouponView(await load(exec, requireTenant(actor).tenantId, couponId), clock.now());
    },

    async wallet(actor: Actor, query: { user_id: string; status?: string; page?: number; page_size?: number }, exec: Executor = db) {
      const page = toPage(query);
      const now = clock.now();
      const { rows, total } = await repo.listWallet(exec, requireTenant(actor).tenantId, query.user_id, query.status, now, page);
      return { coupons: rows.map((r) => toCouponView(r, now)), pagination: pagination(total, page) };
    },

    async voidCoupon(actor: Actor, couponId: string, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const now = clock.now();
      const row = await repo.voidCoupon(exec, tenant.tenantId, couponId, now);
      if (row) quotes.changed(exec, tenant.tenantId, [row.user_id]);
      const current = await load(exec, tenant.tenantId, couponId);
      if (!row && current.status !== 'voided') throw couponErrors.notAvailable(couponId, current.status);
      return toCouponView(current, now);
    },

    /** The user's coupons that can be used now (on `cart`, if given), and the others with a reason each. */
    async available(actor: Actor, input: AvailableInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const now = clock.now();
      const rows = await repo.usableCandidates(exec, tenant.tenantId, input.user_id, now, MAX_WALLET_SCAN);
      const selectedIds = new Set(input.selected ?? []);
      const selected = rows.filter((r) => selectedIds.has(r.coupon_id)).map(termsOf);
      const usable = [];
      const notUsable = [];
      for (const row of rows) {
        const verdict = evaluateCoupon(termsOf(row), now, input.cart, selected);
        const coupon = toCouponView(row, now);
        if (verdict.usable) usable.push({ coupon, discount: verdict.discount, shipping_discount: verdict.shipping_discount, eligible_amount: verdict.eligible_amount, gift_item_id: verdict.gift_item_id });
        else notUsable.push({ coupon, reason: verdict.reason, details: verdict.details });
      }
      return { usable, not_usable: notUsable };
    },

    /**
     * Holds the coupon for an order: lockForOrder with this one coupon (the same evaluation as
     * `available`, then one conditional UPDATE). Repeating with the same order id answers the
     * same lock; another order gets 409 coupon_locked.
     */
    async lock(actor: Actor, couponId: string, input: LockInput, exec: Executor = db): Promise<LockedCoupon> {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => (await orders.lockForOrder(tenant.tenantId, { ...input, coupon_ids: [couponId] }, trx))[0]!);
    },

    /** The order is paid: this coupon locked -> used (the order's other coupons are left alone). */
    async commit(actor: Actor, couponId: string, orderId: string, exec: Executor = db) {
      const tenant = requireTenant(actor);
      return inTransaction(exec, (trx) => commitOne(trx, tenant.tenantId, couponId, orderId));
    },

    /** The order is cancelled: this coupon locked -> available; again (or after the sweep): the same answer. */
    async release(actor: Actor, couponId: string, orderId: string, exec: Executor = db) {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const changed = await orders.settleCoupon(tenant.tenantId, orderId, couponId, 'release', trx);
        const current = await load(trx, tenant.tenantId, couponId);
        const view = toCouponView(current, clock.now());
        if (changed || view.status === 'available' || view.status === 'expired') return view;
        if (view.status === 'locked') throw couponErrors.locked(couponId);
        throw couponErrors.orderMismatch(couponId, 'locked');
      });
    },

    /** After a refund of the order: back to the wallet if the template says so (expired if past validity), else stays used. */
    async refund(actor: Actor, couponId: string, orderId: string, exec: Executor = db) {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const changed = await orders.settleCoupon(tenant.tenantId, orderId, couponId, 'refund', trx);
        const current = await load(trx, tenant.tenantId, couponId);
        if (!changed && (current.status !== 'used' || current.order_id !== orderId)) throw couponErrors.orderMismatch(couponId, 'used');
        return toCouponView(current, clock.now());
      });
    },

    /** The product document's "use": lock and commit for the order in one transaction. */
    async use(actor: Actor, couponId: string, input: LockInput, exec: Executor = db): Promise<LockedCoupon> {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const current = await load(trx, tenant.tenantId, couponId);
        if (current.status === 'used' && current.order_id === input.order_id && current.user_id === input.user_id) {
          // Used by this order already: the same answer (the amounts as they were at the use).
          const now = clock.now();
          const v = evaluateCoupon({ ...termsOf(current), status: 'available', valid_from: null, valid_until: null }, now, input.cart);
          const amounts = v.usable ? amountsOf(v) : { discount: 0, shipping_discount: 0, eligible_amount: 0, gift_item_id: null };
          return { coupon: toCouponView(current, now), ...amounts };
        }
        const [locked] = await orders.lockForOrder(tenant.tenantId, { ...input, coupon_ids: [couponId] }, trx);
        const coupon = await commitOne(trx, tenant.tenantId, couponId, input.order_id);
        return { ...locked!, coupon };
      });
    },

    /** The coupons a quote prices with (see coupon.quote.ts: cached per user for a short TTL; the checkout checks again under locks). */
    forQuote: (tenantId: string, userId: string, input: QuoteCouponsInput): Promise<QuoteCoupons> => quotes.forQuote(tenantId, userId, input),

    /** Locks all the coupons for the order or none, in the caller's transaction (see coupon.order.ts). */
    lockForOrder: (tenantId: string, input: LockForOrderInput, trx: Executor): Promise<LockedCoupon[]> => orders.lockForOrder(tenantId, input, trx),

    /** Commit, release or refund every coupon of the order, in the caller's transaction; idempotent. */
    settleOrder: (tenantId: string, orderId: string, action: SettleAction, trx: Executor): Promise<CouponView[]> => orders.settleOrder(tenantId, orderId, action, trx),

    /** For code that changes coupons outside this service (a grant's void): the users' quote wallets are read again. */
    walletChanged: (exec: Executor, tenantId: string, userIds: Iterable<string>): void => quotes.changed(exec, tenantId, userIds),

    /** A template's claim and use figures, counted by the database. */
    async templateStats(actor: Actor, templateId: string, exec: Executor = db): Promise<TemplateStats> {
      const row = await repo.templateStats(exec, requireTenant(actor).tenantId, templateId, clock.now());
      if (!row) throw couponErrors.templateNotFound(templateId);
      return row;
    },

    checkIntervalMs: deps.checkIntervalMs ?? 300_000,
    /** Sweep: lapsed locks back to available; how many. */
    async releaseLapsedLocks(limit = 5000): Promise<number> {
      const touched = await repo.releaseLapsedLocks(db, clock.now(), limit);
      forgetWallets(touched);
      if (touched.length > 0) deps.metrics?.released?.inc({ reason: 'lapsed' }, touched.length);
      return touched.length;
    },
    /** Sweep: available coupons past validity become expired; how many. */
    async expireDue(limit = 5000): Promise<number> {
      const touched = await repo.expireDue(db, clock.now(), limit);
      forgetWallets(touched);
      if (touched.length > 0) deps.metrics?.expired?.inc(touched.length);
      return touched.length;
    },
  };

  function forgetWallets(touched: repo.TouchedUser[]) {
    const byTenant = new Map<string, string[]>();
    for (const t of touched) byTenant.set(t.tenant_id, [...(byTenant.get(t.tenant_id) ?? []), t.user_id]);
    for (const [tenantId, users] of byTenant) quotes.changed(db, tenantId, users);
  }

  async function commitOne(trx: Executor, tenantId: string, couponId: string, orderId: string) {
    const changed = await orders.settleCoupon(tenantId, orderId, couponId, 'commit', trx);
    const now = clock.now();
    const current = await load(trx, tenantId, couponId);
    if (changed || (current.status === 'used' && current.order_id === orderId)) return toCouponView(current, now);
    if (current.status === 'locked' && current.order_id === orderId) throw couponErrors.lockExpired(couponId);
    if (effectiveStatus(current, now) === 'locked') throw couponErrors.locked(couponId);
    throw couponErrors.orderMismatch(couponId, 'locked');
  }
}
