import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { clientRules } from '../src/modules/client-access/index.js';
import { createCouponGuard } from '../src/modules/coupons/index.js';
import { createGroupBuyGuard } from '../src/modules/group-buys/index.js';
import { mirrorKeys } from '../src/modules/redeem-codes/index.js';
import { createReferralGuard } from '../src/modules/referrals/referral.limits.js';
import { lockoutKeys, redemptionRules } from '../src/platform/rate-limit/redemption.js';
import type { RateLimiter, RateRule } from '../src/platform/rate-limit/index.js';

/**
 * Redis Cluster readiness of the keys the service builds. A multi-key call (a Lua script, a
 * limiter's several rules checked as one step) works on a cluster only when all its keys hash to
 * one slot, which a hash tag `{...}` decides; per-tenant keys tagged `{tenant}` also keep a
 * tenant's keys on one node, next to nothing of other tenants'. docs/scaling.md lists the same.
 */

/** The hash tag Redis Cluster hashes a key by: the text between the first `{` and the next `}`, if not empty. */
function hashTag(key: string): string | null {
  const open = key.indexOf('{');
  if (open < 0) return null;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : null;
}

const WINDOW = { limit: 10, window_seconds: 60 };

/** A limiter that records the keys of every call and allows everything. */
function recordingLimiter(): RateLimiter & { calls: string[][] } {
  const calls: string[][] = [];
  const allow = { allowed: true, remaining: 1, retryAfterMs: 0, rule: null };
  const open = { locked: false, retryAfterMs: 0 };
  return {
    calls,
    hit: async (key) => (calls.push([key]), allow),
    hitAll: async (rules: readonly RateRule[]) => (calls.push(rules.map((r) => r.key)), allow),
    recordFailure: async (keys) => (calls.push([...keys]), open),
    checkLockout: async (keys) => (calls.push([...keys]), open),
    admit: async (lockout, rules) => (calls.push([...lockout, ...rules.map((r) => r.key)]), allow),
    prepareAdmit: () => null,
    prepareFailure: () => null,
    noteRedisFailure: () => undefined,
    backend: () => 'memory',
  };
}

/**
 * Every file that uses the rate limiter (imports it), and whether its keys carry the tenant's
 * hash tag. The untagged ones are today's gaps or need no tag; a new caller fails the last test
 * until it is added here.
 */
const KEY_BUILDERS: Record<string, string> = {
  'src/platform/rate-limit/redemption.ts': 'tagged: redeem:{tenant}:...',
  'src/modules/redeem-codes/redemption.guard.ts': 'tagged: through platform/rate-limit/redemption.ts',
  'src/modules/client-access/client-access.limits.ts': 'tagged: client:{tenant}:...',
  'src/modules/operators/sign-in-guard.ts': 'e-mail key tagged operator:{tenant}:...; IP key untagged, alone in its call (its own limiter)',
  'src/modules/referrals/referral.limits.ts': 'untagged, needs none: one key per call, a keyless page before any tenant is known',
  'src/modules/group-buys/group-buy.limits.ts': 'tagged: group_buy_join:{tenant}:user / :ip, two keys in one call',
  'src/modules/coupons/coupon.limits.ts': 'tagged: coupon_<action>:{tenant}:user / :ip, two keys in one call',
  'src/modules/outreach/run.dispatch.ts': 'tagged: outreach:provider:{provider}:s / :t, two keys in one call (a provider is one tenant\'s)',
  'src/modules/outreach/outreach.module.ts': 'builds no keys: hands the limiter to run.dispatch.ts',
  'src/modules/redeem-codes/redemption.gate.ts': 'tagged: one Lua call over the redemption limits\' keys and the mirror\'s, all {tenant}',
};

describe('Redis keys and Cluster hash tags', () => {
  it('the code mirror keeps each tenant\'s keys under {tenant}', () => {
    const keys = Object.values(mirrorKeys('mh:', 't1'));
    expect(keys).toHaveLength(3);
    for (const key of keys) expect(hashTag(key), key).toBe('t1');
  });

  it('redemption limits and lock-out keys are tagged {tenant}, one slot for the whole check', () => {
    const limits = { per_user: WINDOW, per_client_ip: WINDOW, per_product_hour: 100, per_product_day: 1000 };
    const subject = { tenantId: 't1', productCode: 'app1', userId: 'u1', clientIp: '203.0.113.7' };
    const keys = [...redemptionRules(limits, subject, null).map((r) => r.key), ...lockoutKeys(subject)];
    expect(keys.length).toBeGreaterThanOrEqual(5);
    for (const key of keys) expect(hashTag(key), key).toBe('t1');
  });

  it('client (publishable key) limits are tagged {tenant}', () => {
    const limits = { per_key: WINDOW, per_user: WINDOW, per_device: WINDOW, per_client_ip: WINDOW };
    const keys = clientRules(limits, { tenantId: 't1', keyId: 'pk1', productCode: 'app1', userId: 'u1', deviceId: 'd1', ip: '203.0.113.7' }).map((r) => r.key);
    expect(keys).toHaveLength(4);
    for (const key of keys) expect(hashTag(key), key).toBe('t1');
  });

  it('group-buy and coupon limits are tagged {tenant}: the two keys of one call share a slot', async () => {
    const limiter = recordingLimiter();
    await createGroupBuyGuard(limiter, { per_user: WINDOW, per_client_ip: WINDOW }).admit('t1', 'u1', '203.0.113.7');
    await createCouponGuard(limiter, { claim: { per_user: WINDOW, per_client_ip: WINDOW }, use: { per_user: WINDOW, per_client_ip: WINDOW } }).admit('claim', 't1', 'u1', '203.0.113.7');
    expect(limiter.calls).toHaveLength(2);
    for (const call of limiter.calls) {
      expect(call).toHaveLength(2);
      for (const key of call) expect(hashTag(key), key).toBe('t1');
    }
  });

  it('the outreach pace keys of one provider share its tag', () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
    const source = readFileSync(join(root, 'src/modules/outreach/run.dispatch.ts'), 'utf8');
    const built = /const key = `(outreach:provider:[^`]*)`;/.exec(source)?.[1];
    expect(built).toBe('outreach:provider:{${snapshot.provider_id}}');
  });

  it('the referral page limit is one key per call, so it needs no tag', async () => {
    const limiter = recordingLimiter();
    await createReferralGuard(limiter, { per_client_ip: WINDOW }).admit('203.0.113.7');
    expect(limiter.calls).toEqual([[expect.stringMatching(/^referral_page:ip:/)]]);
  });

  it('every file that calls a limiter is listed with the state of its keys', () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
    const callers = sourceFiles(join(root, 'src'))
      .filter((file) => /from '(\.\/limiter|[./]*(platform\/)?rate-limit\/(index|redemption))\.js'/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(root, file))
      // The composition root hands limiters out and the module's index re-exports; neither builds keys.
      .filter((file) => !file.startsWith('src/app/') && file !== 'src/platform/rate-limit/index.ts');
    expect(callers.sort()).toEqual(Object.keys(KEY_BUILDERS).sort());
  });
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}
