/**
 * The coupons a quote prices with, without reading the database on the hot path: each user's
 * wallet terms are kept in this process for `coupons.quote_cache_ttl_ms` (2 s by default).
 *
 * Why a stale entry is safe: the checkout locks the coupons with `lockForOrder`, which evaluates
 * them again from the rows under the lock, so a cached wallet can only make a quote optimistic
 * (a coupon used a moment ago still shown), never a checkout wrong. To keep it from being
 * pessimistic (a coupon claimed a moment ago missing), every change of a user's coupons in this
 * process puts a tombstone in the entry, at once and again when its transaction commits; while
 * the tombstone lives (one TTL) the wallet is read from the database and not cached, so a read
 * that raced the change's transaction cannot keep an old wallet. Other processes see a change
 * within the TTL.
 */
import { afterCommit, type Database, type Executor } from '../../db/client.js';
import type { Clock } from '../../platform/clock.js';
import { createSnapshotCache } from '../../platform/snapshot-cache.js';
import { couponErrors } from './coupon.errors.js';
import * as repo from './coupon.repo.js';
import type { CouponTerms } from './coupon.rules.js';
import { termsOf } from './coupon.view.js';

/** A coupon as a quote needs it: exactly what evaluateCoupon takes, plus how to name it. Read-only (shared by the cache). */
export type QuoteCoupon = CouponTerms & { code: string; template_id: string; name: string };

export interface QuoteCouponsInput {
  /** Codes the customer typed: the user's coupons with these codes, whatever their status. */
  codes?: string[] | undefined;
  /** Also every coupon of the wallet that could be usable now. */
  wallet?: boolean | undefined;
}

export interface QuoteCoupons {
  coupons: QuoteCoupon[];
  /** Codes that are no coupon of this user (unknown, or another user's: never revealed). */
  unknown_codes: string[];
}

/** Coupons a quote considers from the wallet, newest first. */
export const QUOTE_WALLET_MAX = 1000;
const MAX_CODES = 100;

/** Codes are stored upper-case; what a customer types may not be. */
const normalizeCode = (code: string) => code.trim().toUpperCase();

function toQuoteCoupon(row: repo.CouponWithTerms): QuoteCoupon {
  return Object.freeze({ ...termsOf(row), code: row.code, template_id: row.template_id, name: row.name });
}

export function createQuoteWallets(deps: { db: Database; clock: Clock; ttlMs: number }) {
  const { db, clock } = deps;
  // coupons null: a tombstone (the user's coupons changed within the TTL).
  const cache = createSnapshotCache<{ coupons: readonly QuoteCoupon[] | null }>({ ttlMs: deps.ttlMs, maxEntries: 50_000, now: () => clock.now().getTime() });
  const TOMBSTONE = Object.freeze({ coupons: null });
  const key = (tenantId: string, userId: string) => `${tenantId}\u0000${userId}`;

  async function walletOf(tenantId: string, userId: string): Promise<readonly QuoteCoupon[]> {
    const k = key(tenantId, userId);
    const hit = cache.get(k);
    if (hit?.coupons) return hit.coupons;
    const coupons = Object.freeze((await repo.quoteWallet(db, tenantId, userId, clock.now(), QUOTE_WALLET_MAX)).map(toQuoteCoupon));
    // Only into an empty entry: a tombstone set during the read means the read may predate a change.
    if (!hit && cache.get(k) === undefined) cache.set(k, { coupons });
    return coupons;
  }

  return {
    /**
     * The user's coupons for a quote: those named by `codes` first (in the order given), then,
     * with `wallet`, the rest of the wallet that could be usable now, newest first; each once.
     */
    async forQuote(tenantId: string, userId: string, input: QuoteCouponsInput): Promise<QuoteCoupons> {
      const codes = [...new Set(input.codes ?? [])];
      if (codes.length > MAX_CODES) throw couponErrors.invalid('coupon_codes', `at most ${MAX_CODES} codes`);
      if (codes.length === 0 && !input.wallet) return { coupons: [], unknown_codes: [] };
      const wallet = await walletOf(tenantId, userId);
      const byCode = new Map(wallet.map((c) => [c.code, c]));
      // A code not in the cached wallet (used, expired, voided, or not this user's): one read for all of them.
      const missing = codes.map(normalizeCode).filter((c) => c !== '' && !byCode.has(c));
      if (missing.length > 0) {
        for (const row of await repo.couponsByCodes(db, tenantId, userId, [...new Set(missing)])) byCode.set(row.code, toQuoteCoupon(row));
      }
      const coupons: QuoteCoupon[] = [];
      const seen = new Set<string>();
      const unknown: string[] = [];
      for (const code of codes) {
        const c = byCode.get(normalizeCode(code));
        if (!c) unknown.push(code);
        else if (!seen.has(c.coupon_id)) {
          seen.add(c.coupon_id);
          coupons.push(c);
        }
      }
      if (input.wallet) {
        for (const c of wallet) {
          if (seen.has(c.coupon_id)) continue;
          seen.add(c.coupon_id);
          coupons.push(c);
        }
      }
      return { coupons, unknown_codes: unknown };
    },

    /** The users' coupons changed (in `exec`'s transaction): their cached wallets go, now and at the commit. */
    changed(exec: Executor, tenantId: string, userIds: Iterable<string>): void {
      const keys = [...new Set(userIds)].map((u) => key(tenantId, u));
      if (keys.length === 0) return;
      for (const k of keys) cache.set(k, TOMBSTONE);
      if (exec.isTransaction) afterCommit(exec, () => keys.forEach((k) => cache.set(k, TOMBSTONE)));
    },
  };
}

export type QuoteWallets = ReturnType<typeof createQuoteWallets>;
