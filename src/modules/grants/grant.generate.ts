import { randomBytes, randomUUID } from 'node:crypto';
import type { LedgerAsset } from '../ledger/index.js';
import type { RewardConfig, RewardType } from '../rewards/index.js';

export interface GeneratedUnit {
  /** What the user got, as stored on the grant and sent to webhooks. */
  payload: Record<string, unknown>;
  /** The ledger credit it makes when distributed AUTO, if any. */
  credit: { asset: LedgerAsset; amount: number } | null;
}

const ALPHABETS = {
  RANDOM_NUM: '0123456789',
  ALPHANUM: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ALPHANUM_MIXED: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
} as const;
const LOOK_ALIKES = '0O1IL';

/** A code from a cryptographically secure source, by rejection sampling (no modulo bias). */
export function randomCode(rule: { code_type: string; length?: number; prefix?: string; exclude_chars?: string }): string {
  if (rule.code_type === 'UUID') return randomUUID();
  const exclude = rule.exclude_chars ?? LOOK_ALIKES;
  const base = ALPHABETS[rule.code_type as keyof typeof ALPHABETS] ?? ALPHABETS.ALPHANUM;
  const alphabet = [...base].filter((c) => !exclude.includes(c)).join('') || base;
  const length = rule.length ?? 12;
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit) out += alphabet[byte % alphabet.length];
      if (out.length === length) break;
    }
  }
  return `${rule.prefix ?? ''}${out}`;
}

/** Generates `quantity` units of a reward (the reward config's `generator`). */
export function generateUnits(type: RewardType, config: RewardConfig, quantity: number, now: Date): GeneratedUnit {
  const g = config.generator;
  switch (type) {
    case 'POINTS': {
      const amount = Number(g.points) * quantity;
      return { payload: { points: amount }, credit: { asset: 'POINTS', amount } };
    }
    case 'BALANCE': {
      const amount = Number(g.amount) * quantity;
      return { payload: { amount, currency: g.currency ?? 'CNY' }, credit: { asset: 'BALANCE', amount } };
    }
    case 'SUBSCRIPTION': {
      const days = Number(g.days) * quantity;
      return { payload: { days, ...(g.plan ? { plan: g.plan } : {}) }, credit: { asset: 'SUBSCRIPTION_DAYS', amount: days } };
    }
    case 'COUPON': {
      // A coupon template's coupons are issued into the wallet in the grant's transaction, and
      // the payload then lists them (grant.coupon.ts); nothing is generated here.
      if (typeof g.coupon_template_id === 'string') return { payload: { coupon_template_id: g.coupon_template_id, coupons: [] }, credit: null };
      const expiresAt = g.valid_days ? new Date(now.getTime() + Number(g.valid_days) * 86_400_000).toISOString() : null;
      const { valid_days: _days, ...terms } = g;
      const coupons = Array.from({ length: quantity }, () => ({
        coupon_code: randomCode({ code_type: 'ALPHANUM', length: 12, prefix: 'CP' }),
        ...terms,
        expires_at: expiresAt,
      }));
      return { payload: { coupons }, credit: null };
    }
    case 'REDEEM_CODE':
      return { payload: { codes: Array.from({ length: quantity }, () => randomCode(g as { code_type: string })) }, credit: null };
    case 'PHYSICAL':
      return { payload: { sku: g.sku, item_name: g.item_name ?? null, quantity, ...(g.payload ? { details: g.payload } : {}) }, credit: null };
    case 'CUSTOM':
      return { payload: { ...(g.payload as Record<string, unknown>), quantity }, credit: null };
  }
}
