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
import { type Cart, evaluateCoupon } from './coupon.rules.js';
import type { AvailableInput, CouponView, LockInput } from './coupon.schemas.js';
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
  metrics?: { claimed: Counter<'source'>; used: Counter };
  /** Anti-abuse limits on claims and uses (absent: none). */
  guard?: CouponGuard;
}) {
  const { db, clock } = deps;

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
     * Holds the coupon for an order: the same evaluation as `available` (with the order's other
     * locked coupons for stacking), then one conditional UPDATE. Repeating with the same order id
     * answers the same lock; another order gets 409 coupon_locked.
     */
    async lock(actor: Actor, couponId: string, input: LockInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      return inTransaction(exec, (trx) => lockIn(trx, tenant.tenantId, couponId, input));
    },

    async commit(actor: Actor, couponId: string, orderId: string, exec: Executor = db) {
      const tenant = requireTenant(actor);
      return inTransaction(exec, (trx) => commitIn(trx, tenant.tenantId, couponId, orderId));
    },

    async release(actor: Actor, couponId: string, orderId: string, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const now = clock.now();
      const row = await repo.transition(exec, tenant.tenantId, couponId, { status: 'locked', orderId }, { status: 'available', order_id: null, locked_until: null, updated_at: now });
      const current = await load(exec, tenant.tenantId, couponId);
      if (row) return toCouponView(current, now);
      const status = toCouponView(current, now).status;
      // Released already (by this call before, or by the sweep): the same answer.
      if (status === 'available' || status === 'expired') return toCouponView(current, now);
      if (status === 'locked') throw couponErrors.locked(couponId);
      throw couponErrors.orderMismatch(couponId, 'locked');
    },

    /** After a refund of the order: back to the wallet if the template says so (expired if past validity), else stays used. */
    async refund(actor: Actor, couponId: string, orderId: string, exec: Executor = db) {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const now = clock.now();
        const current = await load(trx, tenant.tenantId, couponId);
        if (current.status !== 'used' || current.order_id !== orderId) throw couponErrors.orderMismatch(couponId, 'used');
        if (!current.refund_returns) return toCouponView(current, now);
        const back = current.valid_until && current.valid_until <= now ? 'expired' : 'available';
        const row = await repo.transition(trx, tenant.tenantId, couponId, { status: 'used', orderId }, { status: back, order_id: null, locked_until: null, used_at: null, updated_at: now });
        if (!row) throw couponErrors.orderMismatch(couponId, 'used');
        await repo.bumpUsed(trx, tenant.tenantId, current.template_id, -1, now);
        return toCouponView({ ...current, ...row }, now);
      });
    },

    /** The product document's "use": lock and commit for the order in one transaction. */
    async use(actor: Actor, couponId: string, input: LockInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const current = await load(trx, tenant.tenantId, couponId);
        if (current.status === 'used' && current.order_id === input.order_id && current.user_id === input.user_id) {
          // Used by this order already: the same answer (the amounts as they were at the use).
          const now = clock.now();
          const v = evaluateCoupon({ ...termsOf(current), status: 'available', valid_from: null, valid_until: null }, now, input.cart as Cart);
          const amounts = v.usable ? { discount: v.discount, shipping_discount: v.shipping_discount, eligible_amount: v.eligible_amount, gift_item_id: v.gift_item_id } : { discount: 0, shipping_discount: 0, eligible_amount: 0, gift_item_id: null };
          return { coupon: toCouponView(current, now), ...amounts };
        }
        const locked = await lockIn(trx, tenant.tenantId, couponId, input);
        const coupon = await commitIn(trx, tenant.tenantId, couponId, input.order_id);
        return { ...locked, coupon };
      });
    },

    checkIntervalMs: deps.checkIntervalMs ?? 300_000,
    /** Sweep: lapsed locks back to available. */
    releaseLapsedLocks: (limit = 5000) => repo.releaseLapsedLocks(db, clock.now(), limit),
    /** Sweep: available coupons past validity become expired. */
    expireDue: (limit = 5000) => repo.expireDue(db, clock.now(), limit),
  };

  async function lockIn(trx: Executor, tenantId: string, couponId: string, input: LockInput) {
    const now = clock.now();
    const current = await load(trx, tenantId, couponId);
    if (current.user_id !== input.user_id) throw couponErrors.ownerMismatch(couponId);
    const others = (await repo.couponsOfOrder(trx, tenantId, input.order_id, input.user_id)).filter((o) => o.coupon_id !== couponId);
    const verdict = evaluateCoupon(termsOf(current), now, input.cart as Cart, others.map(termsOf), input.order_id);
    if (!verdict.usable) {
      if (verdict.reason === 'expired') throw couponErrors.expired(couponId);
      if (verdict.reason === 'not_available') {
        const status = toCouponView(current, now).status;
        if (status === 'locked') throw couponErrors.locked(couponId);
        throw couponErrors.notAvailable(couponId, status);
      }
      throw couponErrors.notUsable(couponId, verdict.reason, verdict.details);
    }
    const amounts = { discount: verdict.discount, shipping_discount: verdict.shipping_discount, eligible_amount: verdict.eligible_amount, gift_item_id: verdict.gift_item_id };
    // Held by this order already: the same lock (its TTL unchanged).
    if (current.status === 'locked' && current.order_id === input.order_id && current.locked_until && current.locked_until > now) {
      return { coupon: toCouponView(current, now), ...amounts };
    }
    const until = new Date(now.getTime() + (input.ttl_seconds ?? 900) * 1000);
    const row = await repo.lockCoupon(trx, tenantId, couponId, input.user_id, input.order_id, until, now);
    if (!row) {
      // Lost a race: somebody else's lock (or this order's own, taken in parallel) is there now.
      const latest = await load(trx, tenantId, couponId);
      if (latest.status === 'locked' && latest.order_id === input.order_id) return { coupon: toCouponView(latest, now), ...amounts };
      const status = toCouponView(latest, now).status;
      if (status === 'locked') throw couponErrors.locked(couponId);
      if (status === 'expired') throw couponErrors.expired(couponId);
      throw couponErrors.notAvailable(couponId, status);
    }
    return { coupon: toCouponView({ ...current, ...row }, now), ...amounts };
  }

  async function commitIn(trx: Executor, tenantId: string, couponId: string, orderId: string) {
    const now = clock.now();
    const row = await repo.transition(trx, tenantId, couponId, { status: 'locked', orderId, lockedAfter: now }, { status: 'used', used_at: now, locked_until: null, updated_at: now });
    if (row) {
      await repo.bumpUsed(trx, tenantId, row.template_id, 1, now);
      deps.metrics?.used.inc();
      return toCouponView(await load(trx, tenantId, couponId), now);
    }
    const current = await load(trx, tenantId, couponId);
    if (current.status === 'used' && current.order_id === orderId) return toCouponView(current, now);
    if (current.status === 'locked' && current.order_id === orderId) throw couponErrors.lockExpired(couponId);
    const status = toCouponView(current, now).status;
    if (status === 'locked') throw couponErrors.locked(couponId);
    throw couponErrors.orderMismatch(couponId, 'locked');
  }
}
