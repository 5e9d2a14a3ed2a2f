import { describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { must, type Reply, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { ManualClock } from '../../platform/clock.js';
import { appWithFrozenGate, metricValue } from '../../../test/helpers/grant-helpers.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const iso = (ms: number | string) => new Date(ms).toISOString();

function expectError(reply: Reply, status: number, code: string, details?: Record<string, unknown>) {
  expect({ status: reply.status, code: reply.body?.error?.code }, JSON.stringify(reply.body)).toEqual({ status, code });
  if (details) expect(reply.body.error.details).toMatchObject(details);
}

interface RewardOptions {
  type?: string;
  generator?: Record<string, unknown>;
  validator?: Record<string, unknown>;
  total_stock?: number | null;
  /** The reward's own campaign; `null` for a reward of no campaign. */
  campaign_id?: string | null;
  valid_from?: string | null;
  valid_until?: string | null;
  name?: string;
}

async function newReward(t: TenantFixture, o: RewardOptions = {}) {
  const body = {
    reward_name: o.name ?? 'Reward',
    reward_type: o.type ?? 'POINTS',
    product_code: t.productCode,
    total_stock: o.total_stock === undefined ? 100 : o.total_stock,
    ...(o.campaign_id ? { campaign_id: o.campaign_id } : {}),
    ...(o.valid_from !== undefined ? { valid_from: o.valid_from } : {}),
    ...(o.valid_until !== undefined ? { valid_until: o.valid_until } : {}),
    config: { generator: o.generator ?? { points: 10 }, ...(o.validator ? { validator: o.validator } : {}) },
  };
  return must(await t.call('POST', '/v1/rewards', body), 201).body as { reward_id: string; campaign_id: string | null; reward_type: string };
}

async function activeCampaign(t: TenantFixture, overrides: Record<string, unknown> = {}) {
  const c = await newCampaign(t, overrides);
  must(await t.call('POST', `/v1/campaigns/${c.campaign_id}/publish`), 200);
  return c as { campaign_id: string };
}

/** A published campaign and a reward of it. */
async function campaignReward(t: TenantFixture, o: RewardOptions = {}, campaign: Record<string, unknown> = {}) {
  const c = await activeCampaign(t, campaign);
  return { campaign: c, reward: await newReward(t, { campaign_id: c.campaign_id, ...o }) };
}

const grant = (t: TenantFixture, body: Record<string, unknown>, headers?: Record<string, string>) =>
  t.call('POST', '/v1/reward-grants', body, headers ? { headers } : {});
const granted = async (t: TenantFixture, body: Record<string, unknown>) => must(await grant(t, body), 201).body;
const check = async (t: TenantFixture, body: Record<string, unknown>) => must(await t.call('POST', '/v1/reward-grants/check', body), 200).body;
const setStatus = (t: TenantFixture, grantId: string, body: Record<string, unknown>) => t.call('PUT', `/v1/reward-grants/${grantId}/status`, body);

async function balances(t: TenantFixture, userId: string): Promise<Record<string, number>> {
  const body = must(await t.call('GET', `/v1/users/${userId}/balances`), 200).body;
  return Object.fromEntries((body.balances as { asset: string; balance: number }[]).map((b) => [b.asset, b.balance]));
}

const ZERO = { POINTS: 0, BALANCE: 0, SUBSCRIPTION_DAYS: 0 };

async function entries(t: TenantFixture, userId: string) {
  return must(await t.call('GET', `/v1/users/${userId}/ledger`, undefined, { query: { page_size: 100 } }), 200).body.entries as Record<string, unknown>[];
}

const stockOf = async (t: TenantFixture, rewardId: string) => must(await t.call('GET', `/v1/rewards/${rewardId}`), 200).body.stock;

async function listGrants(t: TenantFixture, query: Record<string, string | number> = {}) {
  return must(await t.call('GET', '/v1/reward-grants', undefined, { query: { page_size: 500, ...query } }), 200).body as {
    grants: Record<string, any>[];
    pagination: { total: number; page: number; page_size: number };
  };
}

const codes = (reasons: { code: string }[]) => reasons.map((r) => r.code).sort();

interface ClockCtx {
  app: TestApp;
  clock: ManualClock;
  t: TenantFixture;
}

/** Runs `fn` on an app whose clock starts at `start` and only moves by hand; always closes the app. */
async function withClock(start: string, fn: (ctx: ClockCtx) => Promise<void>): Promise<void> {
  const clock = new ManualClock(start);
  const app = await testApp({ clock });
  try {
    await fn({ app, clock, t: await app.newTenant() });
  } finally {
    await app.app.close();
  }
}

describe('grants: what each reward type grants', () => {
  it('POINTS: credits the ledger, quantity times the points', async () => {
    const t = await (await testApp()).newTenant();
    const { campaign, reward } = await campaignReward(t, { generator: { points: 10 }, name: 'Welcome points' });
    const g = await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
    expect(g).toMatchObject({
      tenant_id: t.tenantId,
      reward_id: reward.reward_id,
      reward_type: 'POINTS',
      product_code: t.productCode,
      campaign_id: campaign.campaign_id,
      user_id: 'u1',
      quantity: 1,
      source: null,
      source_id: null,
      status: 'DELIVERED',
      distributor: 'AUTO',
      payload: { points: 10 },
      delivery: { status: 'NOT_REQUIRED', attempts: 0, last_error: null, delivered_at: null },
      used_at: null,
      revoked_at: null,
      revoke_reason: null,
    });
    expect(g.grant_id).toMatch(/^grt_/);
    expect(await balances(t, 'u1')).toEqual({ ...ZERO, POINTS: 10 });

    const three = await granted(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 3 });
    expect(three).toMatchObject({ quantity: 3, payload: { points: 30 } });
    expect(await balances(t, 'u1')).toEqual({ ...ZERO, POINTS: 40 });
    expect(await balances(t, 'u2')).toEqual(ZERO);
    const ledger = await entries(t, 'u1');
    expect(ledger).toHaveLength(2);
    expect(ledger[0]).toMatchObject({ entry_type: 'GRANT', asset: 'POINTS', amount: 30, balance_after: 40, cause_type: 'reward_grant', cause_id: three.grant_id, memo: 'Welcome points' });
    expect(ledger[1]).toMatchObject({ entry_type: 'GRANT', amount: 10, balance_after: 10, cause_id: g.grant_id });
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: 100, reserved: 0, used: 4, available: 96 });
    expect(must(await t.call('GET', `/v1/reward-grants/${g.grant_id}`), 200).body).toEqual(g);
  });

  it('BALANCE: credits money in minor units, currency defaults to CNY', async () => {
    const t = await (await testApp()).newTenant();
    const usd = (await campaignReward(t, { type: 'BALANCE', generator: { amount: 250, currency: 'USD' } })).reward;
    const cny = (await campaignReward(t, { type: 'BALANCE', generator: { amount: 100 } })).reward;
    expect((await granted(t, { reward_id: usd.reward_id, user_id: 'u1', quantity: 2 })).payload).toEqual({ amount: 500, currency: 'USD' });
    expect((await granted(t, { reward_id: cny.reward_id, user_id: 'u1' })).payload).toEqual({ amount: 100, currency: 'CNY' });
    expect(await balances(t, 'u1')).toEqual({ ...ZERO, BALANCE: 600 });
  });

  it('SUBSCRIPTION: credits membership days', async () => {
    const t = await (await testApp()).newTenant();
    const { reward } = await campaignReward(t, { type: 'SUBSCRIPTION', generator: { days: 30, plan: 'gold' } });
    const g = await granted(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 2 });
    expect(g).toMatchObject({ status: 'DELIVERED', payload: { days: 60, plan: 'gold' } });
    expect(await balances(t, 'u1')).toEqual({ ...ZERO, SUBSCRIPTION_DAYS: 60 });
  });

  it('COUPON: one generated coupon per unit in the payload, with its terms and expiry; no ledger entry', async () => {
    const t = await (await testApp()).newTenant();
    const generator = { discount_type: 'PERCENT', percent_off: 15, max_discount: 2000, min_order_amount: 5000, valid_days: 7, terms: 'Once' };
    const { reward } = await campaignReward(t, { type: 'COUPON', generator });
    const g = await granted(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 3 });
    const coupons = g.payload.coupons as Record<string, unknown>[];
    expect(coupons).toHaveLength(3);
    const expiresAt = iso(Date.parse(g.created_at) + 7 * DAY);
    for (const c of coupons) {
      expect(c.coupon_code).toMatch(/^CP[A-HJ-KM-NP-Z2-9]{12}$/);
      const { valid_days: _days, ...terms } = generator;
      expect(c).toEqual({ coupon_code: c.coupon_code, ...terms, expires_at: expiresAt });
    }
    expect(new Set(coupons.map((c) => c.coupon_code)).size).toBe(3);
    expect(g.status).toBe('DELIVERED');
    expect(await balances(t, 'u1')).toEqual(ZERO);
    expect(await entries(t, 'u1')).toEqual([]);
    // Without valid_days the coupons do not expire.
    const shipping = (await campaignReward(t, { type: 'COUPON', generator: { discount_type: 'SHIPPING' } })).reward;
    const s = await granted(t, { reward_id: shipping.reward_id, user_id: 'u1' });
    expect(s.payload.coupons).toEqual([{ coupon_code: expect.stringMatching(/^CP/), discount_type: 'SHIPPING', expires_at: null }]);
  });

  it('REDEEM_CODE: the generated codes in the payload, by the configured rule', async () => {
    const t = await (await testApp()).newTenant();
    const numeric = (await campaignReward(t, { type: 'REDEEM_CODE', generator: { code_type: 'RANDOM_NUM', length: 8, prefix: 'VIP-' } })).reward;
    const g = await granted(t, { reward_id: numeric.reward_id, user_id: 'u1', quantity: 5 });
    const list = g.payload.codes as string[];
    expect(list).toHaveLength(5);
    // Look-alike characters (0, 1) are left out by default.
    for (const code of list) expect(code).toMatch(/^VIP-[2-9]{8}$/);
    expect(new Set(list).size).toBe(5);

    const uuid = (await campaignReward(t, { type: 'REDEEM_CODE', generator: { code_type: 'UUID' } })).reward;
    const u = await granted(t, { reward_id: uuid.reward_id, user_id: 'u1', quantity: 2 });
    for (const code of u.payload.codes as string[]) expect(code).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const mixed = (await campaignReward(t, { type: 'REDEEM_CODE', generator: { code_type: 'ALPHANUM_MIXED', exclude_chars: 'abc' } })).reward;
    const m = await granted(t, { reward_id: mixed.reward_id, user_id: 'u1' });
    expect((m.payload.codes as string[])[0]).toMatch(/^[A-Za-z0-9]{12}$/);
    expect((m.payload.codes as string[])[0]).not.toMatch(/[abc]/);
    expect(await balances(t, 'u1')).toEqual(ZERO);
  });

  it('PHYSICAL and CUSTOM: the configured payload with the quantity', async () => {
    const t = await (await testApp()).newTenant();
    const physical = (await campaignReward(t, { type: 'PHYSICAL', generator: { sku: 'MUG-1', item_name: 'Mug', payload: { color: 'red' } } })).reward;
    const custom = (await campaignReward(t, { type: 'CUSTOM', generator: { payload: { badge: 'early' } } })).reward;
    expect((await granted(t, { reward_id: physical.reward_id, user_id: 'u1', quantity: 2 })).payload).toEqual({ sku: 'MUG-1', item_name: 'Mug', quantity: 2, details: { color: 'red' } });
    expect((await granted(t, { reward_id: custom.reward_id, user_id: 'u1' })).payload).toEqual({ badge: 'early', quantity: 1 });
  });

  it('a reward of no campaign grants without one; a campaign named in the request must be active', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const reward = await newReward(t, { campaign_id: null });
    expect((await granted(t, { reward_id: reward.reward_id, user_id: 'u1' })).campaign_id).toBeNull();
    const c = await activeCampaign(t);
    expect((await granted(t, { reward_id: reward.reward_id, user_id: 'u1', campaign_id: c.campaign_id })).campaign_id).toBe(c.campaign_id);
    const draft = await newCampaign(t);
    expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1', campaign_id: draft.campaign_id }), 409, 'campaign_not_active', { status: 'DRAFT' });
    expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1', campaign_id: 'cmp_missing' }), 404, 'campaign_not_found');
    const other = await app.newTenant();
    const foreign = await activeCampaign(other);
    expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1', campaign_id: foreign.campaign_id }), 404, 'campaign_not_found');
  });

  it('validates the request: quantity, user_id, source without source_id', async () => {
    const t = await (await testApp()).newTenant();
    const { reward } = await campaignReward(t);
    const bad = async (body: Record<string, unknown>, field: string) => {
      const r = await grant(t, { reward_id: reward.reward_id, user_id: 'u1', ...body });
      expectError(r, 400, 'invalid_request', { field });
    };
    await bad({ quantity: 0 }, 'quantity');
    await bad({ quantity: 1001 }, 'quantity');
    await bad({ user_id: '' }, 'user_id');
    await bad({ source: 'order' }, 'source_id');
    await bad({ source_id: 'o-1' }, 'source');
    await bad({ extra: 1 }, 'extra');
    expect(await balances(t, 'u1')).toEqual(ZERO);
  });
});

describe('grants: refusals', () => {
  it('inventory_exhausted: 409 when the stock is used up, and the refusal changes nothing', async () => {
    const t = await (await testApp()).newTenant();
    const { reward } = await campaignReward(t, { total_stock: 3, validator: { per_user_limit: 5 } });
    await granted(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 2 });
    await granted(t, { reward_id: reward.reward_id, user_id: 'u2' });
    expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u3' }), 409, 'inventory_exhausted', { reward_id: reward.reward_id });
    expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1', source: 'order', source_id: 'o-9' }), 409, 'inventory_exhausted');
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: 3, reserved: 0, used: 3, available: 0 });
    expect((await listGrants(t, { reward_id: reward.reward_id })).pagination.total).toBe(2);
    expect(await balances(t, 'u3')).toEqual(ZERO);
    // The refused grant did not count towards u1's limit (2 of 5 used): a restock lets u1 take 3 more.
    must(await t.call('PUT', `/v1/rewards/${reward.reward_id}`, { total_stock: 6 }), 200);
    await granted(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 3, source: 'order', source_id: 'o-10' });
  });

  it('inventory_exhausted for more units than are left; a grant that fits still succeeds right after', async () => {
    const app = await appWithFrozenGate();
    try {
      const t = await app.newTenant();
      const { reward } = await campaignReward(t, { total_stock: 3 });
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 2 });
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u2', quantity: 2 }), 409, 'inventory_exhausted');
      expect(await stockOf(t, reward.reward_id)).toEqual({ total: 3, reserved: 0, used: 2, available: 1 });
      // One unit is left: asking for it must not be answered "sold out".
      await granted(t, { reward_id: reward.reward_id, user_id: 'u3', quantity: 1 });
      expect(await stockOf(t, reward.reward_id)).toEqual({ total: 3, reserved: 0, used: 3, available: 0 });
    } finally {
      await app.app.close();
    }
  });

  it('per_user_limit_reached: LIFETIME by default, counting quantities, per user', () =>
    withClock('2030-01-01T10:00:00Z', async ({ t, clock }) => {
      const { reward } = await campaignReward(t, { validator: { per_user_limit: 3 } });
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 2 });
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 2 }), 409, 'per_user_limit_reached', { per_user_limit: 3, period: 'LIFETIME' });
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 1 });
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'per_user_limit_reached');
      // More than the limit at once is refused outright.
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u2', quantity: 4 }), 409, 'per_user_limit_reached', { per_user_limit: 3, quantity: 4 });
      await granted(t, { reward_id: reward.reward_id, user_id: 'u2', quantity: 3 });
      clock.advance(3650 * DAY);
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'per_user_limit_reached', { period: 'LIFETIME' });
      expect(await stockOf(t, reward.reward_id)).toMatchObject({ used: 6 });
      expect(await balances(t, 'u1')).toMatchObject({ POINTS: 30 });
    }));

  it('per_user_limit_reached with an explicit LIFETIME period', () =>
    withClock('2030-01-01T10:00:00Z', async ({ t, clock }) => {
      const { reward } = await campaignReward(t, { validator: { per_user_limit: 1, period: 'LIFETIME' } });
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'per_user_limit_reached', { period: 'LIFETIME' });
      clock.advance(400 * DAY);
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'per_user_limit_reached');
    }));

  it('per_user_limit_reached per DAY resets at the next UTC midnight', () =>
    withClock('2030-01-01T22:00:00Z', async ({ t, clock }) => {
      const { reward } = await campaignReward(t, { validator: { per_user_limit: 2, period: 'DAY' } });
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'per_user_limit_reached', { per_user_limit: 2, period: 'DAY' });
      clock.set('2030-01-01T23:59:59.999Z');
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'per_user_limit_reached');
      clock.set('2030-01-02T00:00:00.000Z');
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'per_user_limit_reached');
      expect(await balances(t, 'u1')).toMatchObject({ POINTS: 40 });
    }));

  it('per_user_limit_reached per WEEK resets on the next ISO week (Monday, UTC), across a year end', () =>
    withClock('2029-12-31T00:00:00Z', async ({ t, clock }) => {
      const { reward } = await campaignReward(t, { validator: { per_user_limit: 1, period: 'WEEK' } });
      // Monday 2029-12-31 belongs to ISO week 2030-W01, like the days up to Sunday 2030-01-06.
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
      clock.set('2030-01-01T12:00:00Z');
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'per_user_limit_reached', { period: 'WEEK' });
      clock.set('2030-01-06T23:59:59.999Z');
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'per_user_limit_reached');
      clock.set('2030-01-07T00:00:00Z');
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
      clock.set('2030-01-13T23:00:00Z');
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'per_user_limit_reached');
      clock.set('2030-01-14T00:00:00Z');
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
    }));

  it('per_user_limit_reached per MONTH resets on the first of the next UTC month', () =>
    withClock('2030-01-15T00:00:00Z', async ({ t, clock }) => {
      const { reward } = await campaignReward(t, { validator: { per_user_limit: 1, period: 'MONTH' } });
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
      clock.set('2030-01-31T23:59:59.999Z');
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'per_user_limit_reached', { period: 'MONTH' });
      clock.set('2030-02-01T00:00:00Z');
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
      clock.set('2030-02-28T23:59:59.999Z');
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'per_user_limit_reached');
      clock.set('2030-03-01T00:00:00Z');
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
    }));

  it('per_user_limit_reached per CAMPAIGN counts each campaign apart and never resets with time', () =>
    withClock('2030-01-01T00:00:00Z', async ({ t, clock }) => {
      const a = await activeCampaign(t);
      const b = await activeCampaign(t);
      const shared = await newReward(t, { campaign_id: null, validator: { per_user_limit: 1, period: 'CAMPAIGN' } });
      expect((await granted(t, { reward_id: shared.reward_id, user_id: 'u1', campaign_id: a.campaign_id })).campaign_id).toBe(a.campaign_id);
      expectError(await grant(t, { reward_id: shared.reward_id, user_id: 'u1', campaign_id: a.campaign_id }), 409, 'per_user_limit_reached', { period: 'CAMPAIGN' });
      await granted(t, { reward_id: shared.reward_id, user_id: 'u1', campaign_id: b.campaign_id });
      clock.advance(400 * DAY);
      expectError(await grant(t, { reward_id: shared.reward_id, user_id: 'u1', campaign_id: a.campaign_id }), 409, 'per_user_limit_reached');
      expectError(await grant(t, { reward_id: shared.reward_id, user_id: 'u1', campaign_id: b.campaign_id }), 409, 'per_user_limit_reached');
      // A reward of its own campaign counts against that campaign.
      const { reward } = await campaignReward(t, { validator: { per_user_limit: 2, period: 'CAMPAIGN' } });
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 2 });
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'per_user_limit_reached');
    }));

  it('min_interval_not_elapsed until min_interval_seconds have passed since the last grant', () =>
    withClock('2030-01-01T00:00:00Z', async ({ t, clock }) => {
      const { reward } = await campaignReward(t, { validator: { min_interval_seconds: 60 } });
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'min_interval_not_elapsed', { min_interval_seconds: 60 });
      clock.advance(59_999);
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'min_interval_not_elapsed');
      // Another user has an interval of their own.
      await granted(t, { reward_id: reward.reward_id, user_id: 'u2' });
      clock.advance(1);
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'min_interval_not_elapsed');
      // A refused grant does not restart the interval.
      clock.advance(30_000);
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'min_interval_not_elapsed');
      clock.advance(30_000);
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
      expect(await balances(t, 'u1')).toMatchObject({ POINTS: 30 });
    }));

  it('campaign_not_active for a draft, scheduled, paused, ended or archived campaign; nothing counted', () =>
    withClock('2030-01-01T00:00:00Z', async ({ t, clock }) => {
      const T0 = clock.now().getTime();
      const window = { start_time: iso(T0 - HOUR), end_time: iso(T0 + HOUR) };
      const rewardOf = (campaignId: string) => newReward(t, { campaign_id: campaignId, validator: { per_user_limit: 1 } });

      const draft = await newCampaign(t, window);
      const draftReward = await rewardOf(draft.campaign_id);
      expectError(await grant(t, { reward_id: draftReward.reward_id, user_id: 'u1' }), 409, 'campaign_not_active', { campaign_id: draft.campaign_id, status: 'DRAFT' });

      const scheduled = await activeCampaign(t, { start_time: iso(T0 + HOUR), end_time: iso(T0 + 2 * HOUR) });
      const scheduledReward = await rewardOf(scheduled.campaign_id);
      expectError(await grant(t, { reward_id: scheduledReward.reward_id, user_id: 'u1' }), 409, 'campaign_not_active', { status: 'SCHEDULED' });

      const paused = await activeCampaign(t, window);
      const pausedReward = await rewardOf(paused.campaign_id);
      must(await t.call('POST', `/v1/campaigns/${paused.campaign_id}/pause`), 200);
      expectError(await grant(t, { reward_id: pausedReward.reward_id, user_id: 'u1' }), 409, 'campaign_not_active', { status: 'PAUSED' });
      must(await t.call('POST', `/v1/campaigns/${paused.campaign_id}/resume`), 200);
      // The refusals did not use up the per-user limit of 1.
      await granted(t, { reward_id: pausedReward.reward_id, user_id: 'u1' });

      const archived = await activeCampaign(t, window);
      const archivedReward = await rewardOf(archived.campaign_id);
      must(await t.call('POST', `/v1/campaigns/${archived.campaign_id}/archive`), 200);
      expectError(await grant(t, { reward_id: archivedReward.reward_id, user_id: 'u1' }), 409, 'campaign_not_active', { status: 'ARCHIVED' });

      const ending = await activeCampaign(t, window);
      const endingReward = await rewardOf(ending.campaign_id);
      clock.set(new Date(T0 + HOUR - 1));
      await granted(t, { reward_id: endingReward.reward_id, user_id: 'u1' });
      clock.set(new Date(T0 + HOUR));
      expectError(await grant(t, { reward_id: endingReward.reward_id, user_id: 'u2' }), 409, 'campaign_not_active', { status: 'ENDED' });

      clock.set(new Date(T0 + HOUR + 1));
      // The scheduled one has started by now.
      await granted(t, { reward_id: scheduledReward.reward_id, user_id: 'u1' });
      for (const r of [draftReward, archivedReward]) expect((await stockOf(t, r.reward_id)).used).toBe(0);
      expect((await listGrants(t)).pagination.total).toBe(3);
    }));

  it('campaign_mismatch when the request names another campaign than the reward has', async () => {
    const t = await (await testApp()).newTenant();
    const { campaign, reward } = await campaignReward(t);
    const other = await activeCampaign(t);
    expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1', campaign_id: other.campaign_id }), 409, 'campaign_mismatch', { campaign_id: campaign.campaign_id });
    expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1', campaign_id: 'cmp_whatever' }), 409, 'campaign_mismatch');
    expect((await granted(t, { reward_id: reward.reward_id, user_id: 'u1', campaign_id: campaign.campaign_id })).campaign_id).toBe(campaign.campaign_id);
    expect((await stockOf(t, reward.reward_id)).used).toBe(1);
  });

  it('reward_not_started before valid_from, reward_expired from valid_until on', () =>
    withClock('2030-01-01T00:00:00Z', async ({ t, clock }) => {
      const T0 = clock.now().getTime();
      const { reward } = await campaignReward(t, { valid_from: iso(T0 + HOUR), valid_until: iso(T0 + 2 * HOUR) });
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'reward_not_started', { valid_from: iso(T0 + HOUR) });
      clock.set(new Date(T0 + HOUR - 1));
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'reward_not_started');
      clock.set(new Date(T0 + HOUR));
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
      clock.set(new Date(T0 + 2 * HOUR - 1));
      await granted(t, { reward_id: reward.reward_id, user_id: 'u2' });
      clock.set(new Date(T0 + 2 * HOUR));
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u3' }), 409, 'reward_expired', { valid_until: iso(T0 + 2 * HOUR) });
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u3', source: 'order', source_id: 'o-1' }), 409, 'reward_expired');
      expect((await stockOf(t, reward.reward_id)).used).toBe(2);
    }));

  it('reward_not_found: 404 for an unknown or deleted reward', async () => {
    const t = await (await testApp()).newTenant();
    expectError(await grant(t, { reward_id: 'rwd_missing', user_id: 'u1' }), 404, 'reward_not_found', { reward_id: 'rwd_missing' });
    const { reward } = await campaignReward(t);
    await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
    expect((await t.call('DELETE', `/v1/rewards/${reward.reward_id}`)).status).toBe(204);
    expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 404, 'reward_not_found');
    expectError(await t.call('POST', '/v1/reward-grants/check', { reward_id: reward.reward_id, user_id: 'u1' }), 404, 'reward_not_found');
    // Its grants stay readable.
    expect((await listGrants(t, { reward_id: reward.reward_id })).pagination.total).toBe(1);
  });

  it('source_already_used: the same cause for another user or quantity is refused', async () => {
    const t = await (await testApp()).newTenant();
    const { reward } = await campaignReward(t);
    const first = await granted(t, { reward_id: reward.reward_id, user_id: 'u1', source: 'order', source_id: 'o-1' });
    expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u2', source: 'order', source_id: 'o-1' }), 409, 'source_already_used', { grant_id: first.grant_id });
    expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 2, source: 'order', source_id: 'o-1' }), 409, 'source_already_used', { grant_id: first.grant_id });
    expect(await balances(t, 'u2')).toEqual(ZERO);
    expect(await balances(t, 'u1')).toMatchObject({ POINTS: 10 });
    expect((await stockOf(t, reward.reward_id)).used).toBe(1);
    expect((await listGrants(t)).pagination.total).toBe(1);
  });

  it('refuses the readonly key and the master key', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { reward } = await campaignReward(t);
    expectError(await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'u1' }, { key: t.readonly }), 403, 'read_only_key');
    expectError(await app.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'u1' }), 403, 'tenant_key_required');
  });
});

describe('grants: idempotency', () => {
  it('the same (source, source_id) answers 200 with the first grant, and nothing changes', async () => {
    const t = await (await testApp()).newTenant();
    const { reward } = await campaignReward(t, { total_stock: 10, validator: { per_user_limit: 5 } });
    const body = { reward_id: reward.reward_id, user_id: 'u1', quantity: 2, source: 'task_completion', source_id: 'task-42' };
    const first = must(await grant(t, body), 201).body;
    expect(first).toMatchObject({ source: 'task_completion', source_id: 'task-42', quantity: 2 });
    for (let i = 0; i < 3; i++) {
      const again = must(await grant(t, body), 200);
      expect(again.body).toEqual(first);
    }
    // quantity defaults to 1: a retry that spells it out is the same request.
    const one = await granted(t, { ...body, source_id: 'task-43', quantity: undefined });
    expect(must(await grant(t, { ...body, source_id: 'task-43', quantity: 1 }), 200).body.grant_id).toBe(one.grant_id);
    expect(await balances(t, 'u1')).toEqual({ ...ZERO, POINTS: 30 });
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: 10, reserved: 0, used: 3, available: 7 });
    expect((await listGrants(t)).pagination.total).toBe(2);
    expect(await entries(t, 'u1')).toHaveLength(2);
    // The per-user count was not charged for the replays: 3 of 5 used, 2 more fit.
    await granted(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 2 });
  });

  it('a replayed cause gets its grant back even once the stock or the user limit is used up', async () => {
    const t = await (await testApp()).newTenant();
    const { reward } = await campaignReward(t, { total_stock: 1, validator: { per_user_limit: 1 } });
    const body = { reward_id: reward.reward_id, user_id: 'u1', source: 'order', source_id: 'o-1' };
    const first = must(await grant(t, body), 201).body;
    expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u2' }), 409, 'inventory_exhausted');
    expect(must(await grant(t, body), 200).body).toEqual(first);
  });

  it('the same source_id for another reward or another source is another cause', async () => {
    const t = await (await testApp()).newTenant();
    const a = (await campaignReward(t)).reward;
    const b = (await campaignReward(t)).reward;
    const ga = await granted(t, { reward_id: a.reward_id, user_id: 'u1', source: 'order', source_id: 'o-1' });
    const gb = await granted(t, { reward_id: b.reward_id, user_id: 'u1', source: 'order', source_id: 'o-1' });
    const gc = await granted(t, { reward_id: a.reward_id, user_id: 'u1', source: 'referral', source_id: 'o-1' });
    expect(new Set([ga.grant_id, gb.grant_id, gc.grant_id]).size).toBe(3);
    expect(await balances(t, 'u1')).toMatchObject({ POINTS: 30 });
  });

  it('Idempotency-Key: a retry replays the first answer and grants nothing more', async () => {
    const t = await (await testApp()).newTenant();
    const { reward } = await campaignReward(t, { total_stock: 10 });
    const headers = { 'idempotency-key': 'grant-1' };
    const body = { reward_id: reward.reward_id, user_id: 'u1', quantity: 2 };
    const first = must(await grant(t, body, headers), 201);
    const retry = await grant(t, body, headers);
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toEqual(first.body);
    expect(await balances(t, 'u1')).toMatchObject({ POINTS: 20 });
    expect((await stockOf(t, reward.reward_id)).used).toBe(2);
    expectError(await grant(t, { ...body, quantity: 3 }, headers), 422, 'idempotency_key_reused');
    // A refusal is recorded too: its retry gets the same 409.
    const limitedHeaders = { 'idempotency-key': 'grant-2' };
    must(await t.call('PUT', `/v1/rewards/${reward.reward_id}`, { total_stock: 2 }), 200);
    const refused = await grant(t, { ...body, quantity: 1 }, limitedHeaders);
    expectError(refused, 409, 'inventory_exhausted');
    const refusedAgain = await grant(t, { ...body, quantity: 1 }, limitedHeaders);
    expectError(refusedAgain, 409, 'inventory_exhausted');
    expect(refusedAgain.body).toEqual(refused.body);
    expect((await listGrants(t)).pagination.total).toBe(1);
  });

  it('Idempotency-Key with a source: a replay of the 200 answer stays 200', async () => {
    const t = await (await testApp()).newTenant();
    const { reward } = await campaignReward(t);
    const body = { reward_id: reward.reward_id, user_id: 'u1', source: 'order', source_id: 'o-1' };
    const first = await granted(t, body);
    const headers = { 'idempotency-key': 'second-try' };
    const second = must(await grant(t, body, headers), 200);
    const third = must(await grant(t, body, headers), 200);
    expect(third.headers['idempotent-replayed']).toBe('true');
    expect(second.body).toEqual(first);
    expect(third.body).toEqual(first);
  });
});

describe('grants: POST /v1/reward-grants/check', () => {
  it('eligible with no reasons, and grants nothing however often it is asked', async () => {
    const t = await (await testApp()).newTenant();
    const { reward } = await campaignReward(t, { total_stock: 1, validator: { per_user_limit: 1, min_interval_seconds: 3600 } });
    for (let i = 0; i < 5; i++) {
      expect(await check(t, { reward_id: reward.reward_id, user_id: 'u1' })).toEqual({ eligible: true, reasons: [] });
    }
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: 1, reserved: 0, used: 0, available: 1 });
    expect(await balances(t, 'u1')).toEqual(ZERO);
    expect((await listGrants(t)).pagination.total).toBe(0);
    // Nothing was counted: the one unit, the limit and the interval are all still there.
    await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
  });

  it('lists every applicable reason code with details, matching what a grant refuses with', () =>
    withClock('2030-01-01T10:00:00Z', async ({ t, clock }) => {
      const T0 = clock.now().getTime();
      const { campaign, reward } = await campaignReward(
        t,
        { total_stock: 1, valid_until: iso(T0 + 2 * HOUR), validator: { per_user_limit: 1, period: 'DAY', min_interval_seconds: 3600 } },
        { start_time: iso(T0 - HOUR), end_time: iso(T0 + 10 * DAY) },
      );
      const body = { reward_id: reward.reward_id, user_id: 'u1' };
      await granted(t, body);
      must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/pause`), 200);
      clock.advance(600_000);

      const r1 = await check(t, body);
      expect(r1.eligible).toBe(false);
      expect(codes(r1.reasons)).toEqual(['campaign_not_active', 'inventory_exhausted', 'min_interval_not_elapsed', 'per_user_limit_reached']);
      const byCode = Object.fromEntries((r1.reasons as { code: string; message: string; details: object }[]).map((r) => [r.code, r]));
      expect(byCode.campaign_not_active!.details).toMatchObject({ campaign_id: campaign.campaign_id, status: 'PAUSED' });
      expect(byCode.per_user_limit_reached!.details).toEqual({ per_user_limit: 1, period: 'DAY', quantity: 1 });
      expect(byCode.min_interval_not_elapsed!.details).toEqual({ min_interval_seconds: 3600, retry_after_seconds: 3000 });
      expect(byCode.inventory_exhausted!.details).toMatchObject({ available: 0 });
      for (const r of r1.reasons) expect(r.message).toEqual(expect.any(String));

      // A new user: only what applies to everyone.
      const r2 = await check(t, { ...body, user_id: 'u2' });
      expect(codes(r2.reasons)).toEqual(['campaign_not_active', 'inventory_exhausted']);
      const refused = await grant(t, { ...body, user_id: 'u2' });
      expect(refused.status).toBe(409);
      expect(codes(r2.reasons)).toContain(refused.body.error.code);

      // Naming another campaign.
      const other = await activeCampaign(t);
      const r3 = await check(t, { ...body, user_id: 'u2', campaign_id: other.campaign_id });
      expect(codes(r3.reasons)).toEqual(['campaign_mismatch', 'inventory_exhausted']);
      expectError(await grant(t, { ...body, user_id: 'u2', campaign_id: other.campaign_id }), 409, 'campaign_mismatch');

      // Past valid_until; the interval has passed by now.
      clock.set(new Date(T0 + 2 * HOUR));
      const r4 = await check(t, body);
      expect(codes(r4.reasons)).toEqual(['campaign_not_active', 'inventory_exhausted', 'per_user_limit_reached', 'reward_expired']);
      expectError(await grant(t, body), 409, 'reward_expired');

      // Asking for more than is left.
      const { reward: big } = await campaignReward(t, { total_stock: 2 });
      expect(codes((await check(t, { reward_id: big.reward_id, user_id: 'u1', quantity: 3 })).reasons)).toEqual(['inventory_exhausted']);
      expect(await check(t, { reward_id: big.reward_id, user_id: 'u1', quantity: 2 })).toEqual({ eligible: true, reasons: [] });

      // Not yet valid.
      const { reward: later } = await campaignReward(t, { valid_from: iso(T0 + 10 * HOUR) });
      expect(codes((await check(t, { reward_id: later.reward_id, user_id: 'u1' })).reasons)).toEqual(['reward_not_started']);
      expectError(await grant(t, { reward_id: later.reward_id, user_id: 'u1' }), 409, 'reward_not_started');
      expect((await listGrants(t)).pagination.total).toBe(1);
    }));

  it('names a quantity above the per-user limit once', async () => {
    const t = await (await testApp()).newTenant();
    const { reward } = await campaignReward(t, { validator: { per_user_limit: 2 } });
    const r = await check(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 3 });
    expect(r.eligible).toBe(false);
    expect(codes(r.reasons)).toEqual(['per_user_limit_reached']);
    expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 3 }), 409, 'per_user_limit_reached');
  });

  it('reports a cause already used by another grant with the code the grant refuses with', async () => {
    const t = await (await testApp()).newTenant();
    const { reward } = await campaignReward(t);
    await granted(t, { reward_id: reward.reward_id, user_id: 'u1', source: 'order', source_id: 'o-1' });
    const body = { reward_id: reward.reward_id, user_id: 'u2', source: 'order', source_id: 'o-1' };
    const refused = await grant(t, body);
    expectError(refused, 409, 'source_already_used');
    const r = await check(t, body);
    expect(r.eligible).toBe(false);
    expect(codes(r.reasons)).toEqual(['source_already_used']);
  });

  it('404 reward_not_found for an unknown reward; 400 for a bad body', async () => {
    const t = await (await testApp()).newTenant();
    expectError(await t.call('POST', '/v1/reward-grants/check', { reward_id: 'rwd_missing', user_id: 'u1' }), 404, 'reward_not_found');
    expectError(await t.call('POST', '/v1/reward-grants/check', { reward_id: 'rwd_missing' }), 400, 'invalid_request', { field: 'user_id' });
  });
});

describe('grants: list and get', () => {
  it('lists newest first, filtered by reward, campaign, user, status and creation time, paged', () =>
    withClock('2030-01-01T00:00:00Z', async ({ t, clock }) => {
      const T0 = clock.now().getTime();
      const { campaign, reward: r1 } = await campaignReward(t);
      const r2 = await newReward(t, { type: 'COUPON', generator: { discount_type: 'SHIPPING' }, campaign_id: null });
      const g1 = await granted(t, { reward_id: r1.reward_id, user_id: 'u1' });
      clock.set(new Date(T0 + HOUR));
      const g2 = await granted(t, { reward_id: r1.reward_id, user_id: 'u2' });
      clock.set(new Date(T0 + 2 * HOUR));
      const g3 = await granted(t, { reward_id: r2.reward_id, user_id: 'u1' });
      clock.set(new Date(T0 + 3 * HOUR));
      must(await setStatus(t, g2.grant_id, { status: 'REVOKED' }), 200);
      must(await setStatus(t, g3.grant_id, { status: 'USED' }), 200);

      const ids = async (query: Record<string, string | number> = {}) => (await listGrants(t, query)).grants.map((g) => g.grant_id);
      expect(await ids()).toEqual([g3.grant_id, g2.grant_id, g1.grant_id]);
      expect(await ids({ reward_id: r1.reward_id })).toEqual([g2.grant_id, g1.grant_id]);
      expect(await ids({ campaign_id: campaign.campaign_id })).toEqual([g2.grant_id, g1.grant_id]);
      expect(await ids({ user_id: 'u1' })).toEqual([g3.grant_id, g1.grant_id]);
      expect(await ids({ user_id: 'u1', reward_id: r2.reward_id })).toEqual([g3.grant_id]);
      expect(await ids({ status: 'DELIVERED' })).toEqual([g1.grant_id]);
      expect(await ids({ status: 'REVOKED' })).toEqual([g2.grant_id]);
      expect(await ids({ status: 'USED' })).toEqual([g3.grant_id]);
      expect(await ids({ status: 'PENDING' })).toEqual([]);
      // created_from is inclusive, created_to exclusive.
      expect(await ids({ created_from: iso(T0 + HOUR) })).toEqual([g3.grant_id, g2.grant_id]);
      expect(await ids({ created_to: iso(T0 + HOUR) })).toEqual([g1.grant_id]);
      expect(await ids({ created_from: iso(T0 + HOUR), created_to: iso(T0 + 2 * HOUR) })).toEqual([g2.grant_id]);
      expect(await ids({ user_id: 'nobody' })).toEqual([]);

      const page = await listGrants(t, { page: 2, page_size: 2 });
      expect(page.grants.map((g) => g.grant_id)).toEqual([g1.grant_id]);
      expect(page.pagination).toEqual({ total: 3, page: 2, page_size: 2 });
      const listed = (await listGrants(t)).grants.find((g) => g.grant_id === g2.grant_id);
      expect(listed).toEqual(must(await t.call('GET', `/v1/reward-grants/${g2.grant_id}`), 200).body);
      expectError(await t.call('GET', '/v1/reward-grants', undefined, { query: { status: 'LOST' } }), 400, 'invalid_request', { field: 'status' });
      expectError(await t.call('GET', '/v1/reward-grants', undefined, { query: { created_from: 'yesterday' } }), 400, 'invalid_request', { field: 'created_from' });
    }));

  it('gets one grant; 404 grant_not_found for an unknown one', async () => {
    const t = await (await testApp()).newTenant();
    const { reward } = await campaignReward(t);
    const g = await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
    expect(must(await t.call('GET', `/v1/reward-grants/${g.grant_id}`), 200).body).toEqual(g);
    expect(must(await t.call('GET', `/v1/reward-grants/${g.grant_id}`, undefined, { key: t.readonly }), 200).body).toEqual(g);
    expectError(await t.call('GET', '/v1/reward-grants/grt_missing'), 404, 'grant_not_found', { grant_id: 'grt_missing' });
  });
});

describe('grants: status changes', () => {
  it('USED from DELIVERED; every other transition is 409 invalid_grant_transition', () =>
    withClock('2030-01-01T00:00:00Z', async ({ t, clock }) => {
      const { reward } = await campaignReward(t, { type: 'COUPON', generator: { discount_type: 'SHIPPING' }, total_stock: 5 });
      const g = await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
      clock.advance(60_000);
      const used = must(await setStatus(t, g.grant_id, { status: 'USED' }), 200).body;
      expect(used).toMatchObject({ status: 'USED', used_at: iso(clock.now().getTime()), updated_at: iso(clock.now().getTime()), revoked_at: null });
      expect(must(await t.call('GET', `/v1/reward-grants/${g.grant_id}`), 200).body).toEqual(used);
      expectError(await setStatus(t, g.grant_id, { status: 'USED' }), 409, 'invalid_grant_transition', { status: 'USED', requested: 'USED' });
      expectError(await setStatus(t, g.grant_id, { status: 'REVOKED' }), 409, 'invalid_grant_transition', { status: 'USED', requested: 'REVOKED' });
      expect((await stockOf(t, reward.reward_id)).used).toBe(1);

      const other = await granted(t, { reward_id: reward.reward_id, user_id: 'u2' });
      must(await setStatus(t, other.grant_id, { status: 'REVOKED' }), 200);
      expectError(await setStatus(t, other.grant_id, { status: 'REVOKED' }), 409, 'invalid_grant_transition', { status: 'REVOKED', requested: 'REVOKED' });
      expectError(await setStatus(t, other.grant_id, { status: 'USED' }), 409, 'invalid_grant_transition', { status: 'REVOKED', requested: 'USED' });
      expectError(await setStatus(t, other.grant_id, { status: 'PENDING' }), 400, 'invalid_request', { field: 'status' });
      expectError(await setStatus(t, 'grt_missing', { status: 'USED' }), 404, 'grant_not_found');
      expectError(await t.call('PUT', `/v1/reward-grants/${g.grant_id}/status`, { status: 'REVOKED' }, { key: t.readonly }), 403, 'read_only_key');
    }));

  it('REVOKED reverses a POINTS grant: stock back, a REVOKE ledger entry, balance back, the per-user count freed', () =>
    withClock('2030-01-01T00:00:00Z', async ({ t, clock }) => {
      const { reward } = await campaignReward(t, { total_stock: 5, generator: { points: 10 }, validator: { per_user_limit: 2, period: 'DAY' } });
      const g = await granted(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 2 });
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'per_user_limit_reached');
      expect(await stockOf(t, reward.reward_id)).toEqual({ total: 5, reserved: 0, used: 2, available: 3 });
      expect(await balances(t, 'u1')).toMatchObject({ POINTS: 20 });

      clock.advance(60_000);
      const revoked = must(await setStatus(t, g.grant_id, { status: 'REVOKED', reason: 'fraud check' }), 200).body;
      expect(revoked).toMatchObject({ status: 'REVOKED', revoked_at: iso(clock.now().getTime()), revoke_reason: 'fraud check', used_at: null, payload: { points: 20 } });
      expect(await stockOf(t, reward.reward_id)).toEqual({ total: 5, reserved: 0, used: 0, available: 5 });
      expect(await balances(t, 'u1')).toEqual(ZERO);
      const [revokeEntry, grantEntry] = await entries(t, 'u1');
      expect(grantEntry).toMatchObject({ entry_type: 'GRANT', amount: 20, cause_id: g.grant_id });
      expect(revokeEntry).toMatchObject({
        entry_type: 'REVOKE',
        asset: 'POINTS',
        amount: -20,
        balance_after: 0,
        cause_type: 'reward_grant',
        cause_id: g.grant_id,
        reverses_entry_id: grantEntry!.entry_id,
        memo: 'fraud check',
      });
      // The same day, the user may get the two units again.
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 2 });
      expect(await balances(t, 'u1')).toMatchObject({ POINTS: 20 });
      expect(await entries(t, 'u1')).toHaveLength(3);
    }));

  it.each([
    ['BALANCE', { amount: 300 }, 'BALANCE', 600],
    ['SUBSCRIPTION', { days: 7 }, 'SUBSCRIPTION_DAYS', 14],
  ] as const)('REVOKED reverses a %s grant in the ledger', async (type, generator, asset, amount) => {
    const t = await (await testApp()).newTenant();
    const { reward } = await campaignReward(t, { type, generator, total_stock: 3 });
    const g = await granted(t, { reward_id: reward.reward_id, user_id: 'u1', quantity: 2 });
    expect(await balances(t, 'u1')).toMatchObject({ [asset]: amount });
    must(await setStatus(t, g.grant_id, { status: 'REVOKED' }), 200);
    expect(await balances(t, 'u1')).toEqual(ZERO);
    expect((await entries(t, 'u1')).map((e) => [e.entry_type, e.amount])).toEqual([
      ['REVOKE', -amount],
      ['GRANT', amount],
    ]);
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: 3, reserved: 0, used: 0, available: 3 });
  });

  it('REVOKED gives a coupon grant its stock back, with no ledger entry', async () => {
    const t = await (await testApp()).newTenant();
    const { reward } = await campaignReward(t, { type: 'COUPON', generator: { discount_type: 'AMOUNT', amount_off: 100 }, total_stock: 1 });
    const g = await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
    expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u2', source: 'o', source_id: '1' }), 409, 'inventory_exhausted');
    const revoked = must(await setStatus(t, g.grant_id, { status: 'REVOKED' }), 200).body;
    expect(revoked.payload).toEqual(g.payload);
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: 1, reserved: 0, used: 0, available: 1 });
    expect(await entries(t, 'u1')).toEqual([]);
    // The unit is grantable again at once.
    await granted(t, { reward_id: reward.reward_id, user_id: 'u2' });
  });

  it('revoking after the user spent the points: 409 insufficient_balance and nothing changes', async () => {
    const t = await (await testApp()).newTenant();
    const { reward } = await campaignReward(t, { total_stock: 5, generator: { points: 10 }, validator: { per_user_limit: 1 } });
    const g = await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
    must(await t.call('POST', '/v1/users/u1/ledger/debit', { asset: 'POINTS', amount: 6, reference_id: 'order-1' }), 201);
    const before = await entries(t, 'u1');

    expectError(await setStatus(t, g.grant_id, { status: 'REVOKED', reason: 'refund' }), 409, 'insufficient_balance', { asset: 'POINTS', balance: 4, requested: 10 });
    expect(must(await t.call('GET', `/v1/reward-grants/${g.grant_id}`), 200).body).toEqual(g);
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: 5, reserved: 0, used: 1, available: 4 });
    expect(await balances(t, 'u1')).toMatchObject({ POINTS: 4 });
    expect(await entries(t, 'u1')).toEqual(before);
    // Still counted against the limit of 1.
    expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'per_user_limit_reached');
    // Once the user has the points again, the revocation goes through.
    must(await t.call('POST', '/v1/users/u1/ledger/adjust', { asset: 'POINTS', amount: 6, reason: 'goodwill', reference_id: 'adj-1' }, { key: t.admin }), 201);
    must(await setStatus(t, g.grant_id, { status: 'REVOKED' }), 200);
    expect(await balances(t, 'u1')).toMatchObject({ POINTS: 0 });
    expect((await stockOf(t, reward.reward_id)).used).toBe(0);
  });
});

describe('grants: tenant isolation', () => {
  it('another tenant gets 404 on every grant route and changes nothing', async () => {
    const app = await testApp();
    const a = await app.newTenant();
    const b = await app.newTenant();
    const { reward } = await campaignReward(a, { total_stock: 5 });
    const g = await granted(a, { reward_id: reward.reward_id, user_id: 'u1', source: 'order', source_id: 'o-1' });

    expectError(await grant(b, { reward_id: reward.reward_id, user_id: 'u1' }), 404, 'reward_not_found');
    expectError(await grant(b, { reward_id: reward.reward_id, user_id: 'u1', source: 'order', source_id: 'o-1' }), 404, 'reward_not_found');
    expectError(await b.call('POST', '/v1/reward-grants/check', { reward_id: reward.reward_id, user_id: 'u1' }), 404, 'reward_not_found');
    expectError(await b.call('GET', `/v1/reward-grants/${g.grant_id}`), 404, 'grant_not_found');
    expectError(await setStatus(b, g.grant_id, { status: 'USED' }), 404, 'grant_not_found');
    expectError(await setStatus(b, g.grant_id, { status: 'REVOKED' }), 404, 'grant_not_found');
    expectError(await b.call('POST', `/v1/reward-grants/${g.grant_id}/retry-delivery`), 404, 'grant_not_found');
    const listed = await listGrants(b, { reward_id: reward.reward_id });
    expect(listed.grants).toEqual([]);
    expect((await listGrants(b)).pagination.total).toBe(0);
    expect(await balances(b, 'u1')).toEqual(ZERO);
    expectError(await b.call('GET', '/v1/reward-grants', undefined, { query: { tenant_id: a.tenantId } }), 403, 'tenant_mismatch');
    expectError(await grant(b, { tenant_id: a.tenantId, reward_id: reward.reward_id, user_id: 'u1' }), 403, 'tenant_mismatch');

    expect(must(await a.call('GET', `/v1/reward-grants/${g.grant_id}`), 200).body).toEqual(g);
    expect(await stockOf(a, reward.reward_id)).toMatchObject({ used: 1 });
    expect(await balances(a, 'u1')).toMatchObject({ POINTS: 10 });
  });
});

describe('grants: metrics', () => {
  it('counts marketing_reward_granted_total by reward type and result', async () => {
    const clock = new ManualClock(new Date());
    const app = await testApp({ clock });
    try {
      const t = await app.newTenant();
      const scrape = async () => must(await app.call('GET', '/metrics', undefined, { key: null }), 200).body as string;
      const { campaign, reward } = await campaignReward(t, { total_stock: 3, validator: { per_user_limit: 2, min_interval_seconds: 60 } });
      const coupon = (await campaignReward(t, { type: 'COUPON', generator: { discount_type: 'SHIPPING' } })).reward;

      await granted(t, { reward_id: reward.reward_id, user_id: 'u1', source: 'order', source_id: 'o-1' });
      must(await grant(t, { reward_id: reward.reward_id, user_id: 'u1', source: 'order', source_id: 'o-1' }), 200);
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u2', source: 'order', source_id: 'o-1' }), 409, 'source_already_used');
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'min_interval_not_elapsed');
      clock.advance(60_000);
      await granted(t, { reward_id: reward.reward_id, user_id: 'u1' });
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'per_user_limit_reached');
      await granted(t, { reward_id: reward.reward_id, user_id: 'u2' });
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u3' }), 409, 'inventory_exhausted');
      await granted(t, { reward_id: coupon.reward_id, user_id: 'u1' });
      must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/pause`), 200);
      expectError(await grant(t, { reward_id: reward.reward_id, user_id: 'u4', source: 'order', source_id: 'o-2' }), 409, 'campaign_not_active');

      const text = await scrape();
      expect(text).toContain('# TYPE marketing_reward_granted_total counter');
      const value = (reward_type: string, result: string) => metricValue(text, 'marketing_reward_granted_total', { reward_type, result });
      expect(value('POINTS', 'granted')).toBe(3);
      expect(value('COUPON', 'granted')).toBe(1);
      expect(value('POINTS', 'replayed')).toBe(1);
      expect(value('POINTS', 'source_already_used')).toBe(1);
      expect(value('POINTS', 'min_interval_not_elapsed')).toBe(1);
      expect(value('POINTS', 'per_user_limit_reached')).toBe(1);
      expect(value('POINTS', 'inventory_exhausted')).toBe(1);
      expect(value('POINTS', 'campaign_not_active')).toBe(1);
      expect(text).toContain('marketing_reward_generation_duration_seconds_count{reward_type="POINTS"} 3');
    } finally {
      await app.app.close();
    }
  });
});

describe('grants: a retried cause after the campaign closed', () => {
  it('gets its earlier grant back (200) instead of campaign_not_active', async () => {
    const t = await (await testApp()).newTenant();
    const { campaign, reward } = await campaignReward(t);
    const body = { reward_id: reward.reward_id, user_id: 'u-retry', source: 'order', source_id: 'o-closed' };
    const first = await t.call('POST', '/v1/reward-grants', body);
    expect(first.status).toBe(201);
    expect((await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/pause`)).status).toBe(200);
    const again = await t.call('POST', '/v1/reward-grants', body);
    expect(again.status).toBe(200);
    expect(again.body.grant_id).toBe(first.body.grant_id);
    // A new cause is still refused while the campaign is paused.
    const fresh = await t.call('POST', '/v1/reward-grants', { ...body, source_id: 'o-new' });
    expect([fresh.status, fresh.body.error.code]).toEqual([409, 'campaign_not_active']);
  });
});
