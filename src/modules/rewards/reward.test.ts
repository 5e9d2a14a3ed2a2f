import { describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { must, type Reply, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { ManualClock } from '../../platform/clock.js';
import { SECRET_MASK } from './reward.config.js';
import { REWARD_TYPES, type RewardType } from './reward.tables.js';
import { appWithFrozenGate, metricValue } from '../../../test/helpers/grant-helpers.js';

function expectError(reply: Reply, status: number, code: string, details?: Record<string, unknown>) {
  expect({ status: reply.status, code: reply.body?.error?.code }, JSON.stringify(reply.body)).toEqual({ status, code });
  if (details) expect(reply.body.error.details).toMatchObject(details);
}

/** 400 invalid_request naming exactly `field`. */
function expectInvalid(reply: Reply, field: string) {
  expectError(reply, 400, 'invalid_request');
  expect(reply.body.error.details.field, JSON.stringify(reply.body)).toBe(field);
}

/** A valid generator for every reward type. */
const VALID_GENERATORS: Record<RewardType, Record<string, unknown>> = {
  COUPON: { discount_type: 'AMOUNT', amount_off: 500, min_order_amount: 2000, valid_days: 30, terms: 'One per order' },
  POINTS: { points: 100 },
  BALANCE: { amount: 1000, currency: 'USD' },
  REDEEM_CODE: { code_type: 'ALPHANUM', length: 10, prefix: 'VIP-' },
  SUBSCRIPTION: { days: 30, plan: 'gold' },
  PHYSICAL: { sku: 'MUG-01', item_name: 'Mug', payload: { color: 'red' } },
  CUSTOM: { payload: { badge: 'early-bird', level: 2 } },
};

/** One wrong generator per reward type and the exact field the 400 must name. */
const INVALID_GENERATORS: [RewardType, Record<string, unknown>, string][] = [
  ['COUPON', { discount_type: 'BOGO' }, 'config.generator.discount_type'],
  ['POINTS', { points: 0 }, 'config.generator.points'],
  ['BALANCE', { amount: 100, currency: 'usd' }, 'config.generator.currency'],
  ['REDEEM_CODE', { code_type: 'ALPHANUM', length: 3 }, 'config.generator.length'],
  ['SUBSCRIPTION', { plan: 'gold' }, 'config.generator.days'],
  ['PHYSICAL', { sku: '' }, 'config.generator.sku'],
  ['CUSTOM', { payload: 'not-an-object' }, 'config.generator.payload'],
];

const SECRET = 'whsec_0123456789abcdef';

function rewardBody(t: TenantFixture, overrides: Record<string, unknown> = {}) {
  return {
    reward_name: '100 points',
    reward_type: 'POINTS',
    product_code: t.productCode,
    total_stock: 100,
    config: { generator: { points: 100 } },
    ...overrides,
  };
}

const createReward = (t: TenantFixture, overrides: Record<string, unknown> = {}) => t.call('POST', '/v1/rewards', rewardBody(t, overrides));
const newReward = async (t: TenantFixture, overrides: Record<string, unknown> = {}) => must(await createReward(t, overrides), 201).body;
const getReward = async (t: TenantFixture, id: string) => must(await t.call('GET', `/v1/rewards/${id}`), 200).body;

/** Creates a reward of `type` with `generator` and whatever else in `config`. */
const createTyped = (t: TenantFixture, type: RewardType, config: Record<string, unknown>) =>
  createReward(t, { reward_type: type, reward_name: `${type} reward`, config });

async function storedConfig(app: TestApp, tenantId: string, rewardId: string) {
  const row = await app.database.db
    .selectFrom('reward')
    .select('config')
    .where('tenant_id', '=', tenantId)
    .where('reward_id', '=', rewardId)
    .executeTakeFirstOrThrow();
  return row.config as { distributor: Record<string, unknown> };
}

async function publishedCampaign(t: TenantFixture, overrides: Record<string, unknown> = {}) {
  const c = await newCampaign(t, overrides);
  must(await t.call('POST', `/v1/campaigns/${c.campaign_id}/publish`), 200);
  return c as { campaign_id: string; product_code: string };
}

describe('rewards: create / get / list / update / delete', () => {
  it('creates a reward and answers it with defaults, stock and version 1', async () => {
    const t = await (await testApp()).newTenant();
    const r = await newReward(t, { reward_name: 'Welcome points', total_stock: 10 });
    expect(r).toMatchObject({
      tenant_id: t.tenantId,
      product_code: t.productCode,
      campaign_id: null,
      reward_name: 'Welcome points',
      reward_type: 'POINTS',
      total_stock: 10,
      valid_from: null,
      valid_until: null,
      config: { generator: { points: 100 }, validator: {}, distributor: { type: 'AUTO' } },
      stock: { total: 10, reserved: 0, used: 0, available: 10 },
      version: 1,
    });
    expect(r.reward_id).toMatch(/^rwd_/);
    expect(r.created_at).toBe(r.updated_at);
    expect(await getReward(t, r.reward_id)).toEqual(r);
  });

  it('takes product_code from the X-Product-Code header', async () => {
    const t = await (await testApp()).newTenant();
    const { product_code: _omit, ...body } = rewardBody(t);
    const r = must(await t.call('POST', '/v1/rewards', body, { headers: { 'x-product-code': t.productCode } }), 201).body;
    expect(r.product_code).toBe(t.productCode);
    expectInvalid(await t.call('POST', '/v1/rewards', body), 'product_code');
  });

  it('refuses an unknown reward_type and a missing generator with the field named', async () => {
    const t = await (await testApp()).newTenant();
    expectInvalid(await createReward(t, { reward_type: 'VOUCHER' }), 'reward_type');
    expectInvalid(await createReward(t, { config: {} }), 'config.generator');
    expectInvalid(await createReward(t, { config: { generator: { points: 1 } }, total_stock: -1 }), 'total_stock');
  });

  it('lists rewards with stock, filtered by type, campaign, product and name, paged', async () => {
    const t = await (await testApp()).newTenant({ productCodes: ['app1', 'app2'] });
    const campaign = await newCampaign(t);
    const a = await newReward(t, { reward_name: 'Gold points', total_stock: 5 });
    const b = await newReward(t, { reward_name: 'Silver coupon', reward_type: 'COUPON', config: { generator: { discount_type: 'SHIPPING' } }, total_stock: null });
    const c = await newReward(t, { reward_name: 'Gold mug', reward_type: 'PHYSICAL', config: { generator: { sku: 'MUG' } }, campaign_id: campaign.campaign_id });
    const d = await newReward(t, { reward_name: '100%_off', product_code: 'app2' });

    const list = async (query: Record<string, string | number> = {}) => {
      const body = must(await t.call('GET', '/v1/rewards', undefined, { query: { page_size: 100, ...query } }), 200).body;
      return { ids: (body.rewards as { reward_id: string }[]).map((r) => r.reward_id), body };
    };
    const all = await list();
    expect(all.ids).toEqual([d.reward_id, c.reward_id, b.reward_id, a.reward_id]);
    expect(all.body.pagination).toEqual({ total: 4, page: 1, page_size: 100 });
    const listedB = all.body.rewards.find((r: { reward_id: string }) => r.reward_id === b.reward_id);
    expect(listedB.stock).toEqual({ total: null, reserved: 0, used: 0, available: null });
    expect(all.body.rewards.find((r: { reward_id: string }) => r.reward_id === a.reward_id).stock).toEqual({ total: 5, reserved: 0, used: 0, available: 5 });

    expect((await list({ reward_type: 'COUPON' })).ids).toEqual([b.reward_id]);
    expect((await list({ campaign_id: campaign.campaign_id })).ids).toEqual([c.reward_id]);
    expect((await list({ product_code: 'app2' })).ids).toEqual([d.reward_id]);
    expect((await list({ name: 'gold' })).ids).toEqual([c.reward_id, a.reward_id]);
    // LIKE wildcards in the name filter are literal characters.
    expect((await list({ name: '%_' })).ids).toEqual([d.reward_id]);
    const page2 = await list({ page: 2, page_size: 3 });
    expect(page2.ids).toEqual([a.reward_id]);
    expect(page2.body.pagination).toEqual({ total: 4, page: 2, page_size: 3 });
  });

  it('updates name, window and config, bumping the version', async () => {
    const t = await (await testApp()).newTenant();
    const r = await newReward(t);
    const updated = must(
      await t.call('PUT', `/v1/rewards/${r.reward_id}`, {
        reward_name: 'Renamed',
        valid_from: '2020-01-01T00:00:00.000Z',
        valid_until: '2099-01-01T00:00:00.000Z',
        config: { generator: { points: 7 }, validator: { per_user_limit: 2, period: 'DAY' } },
      }),
      200,
    ).body;
    expect(updated).toMatchObject({
      reward_name: 'Renamed',
      valid_from: '2020-01-01T00:00:00.000Z',
      valid_until: '2099-01-01T00:00:00.000Z',
      config: { generator: { points: 7 }, validator: { per_user_limit: 2, period: 'DAY' }, distributor: { type: 'AUTO' } },
      version: 2,
    });
    expect(await getReward(t, r.reward_id)).toEqual(updated);
    // A wrong config on update is refused like on create, and nothing changes.
    expectInvalid(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { config: { generator: { points: -1 } } }), 'config.generator.points');
    expectInvalid(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { reward_type: 'COUPON' }), 'reward_type');
    expectInvalid(await t.call('PUT', `/v1/rewards/${r.reward_id}`, {}), 'body');
    expect((await getReward(t, r.reward_id)).version).toBe(2);
  });

  it('deletes a reward: 204, then 404 reward_not_found everywhere and gone from the list', async () => {
    const t = await (await testApp()).newTenant();
    const r = await newReward(t);
    const kept = await newReward(t);
    const del = await t.call('DELETE', `/v1/rewards/${r.reward_id}`);
    expect(del.status).toBe(204);
    expectError(await t.call('GET', `/v1/rewards/${r.reward_id}`), 404, 'reward_not_found', { reward_id: r.reward_id });
    expectError(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { reward_name: 'x' }), 404, 'reward_not_found');
    expectError(await t.call('DELETE', `/v1/rewards/${r.reward_id}`), 404, 'reward_not_found');
    const list = must(await t.call('GET', '/v1/rewards'), 200).body;
    expect(list.rewards.map((x: { reward_id: string }) => x.reward_id)).toEqual([kept.reward_id]);
    // No new grants of a deleted reward.
    expectError(await t.call('POST', '/v1/reward-grants', { reward_id: r.reward_id, user_id: 'u1' }), 404, 'reward_not_found');
  });

  it('needs a service key to write and a readonly key to read', async () => {
    const t = await (await testApp()).newTenant();
    const r = await newReward(t);
    expectError(await t.call('POST', '/v1/rewards', rewardBody(t), { key: t.readonly }), 403, 'read_only_key');
    expectError(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { reward_name: 'x' }, { key: t.readonly }), 403, 'read_only_key');
    must(await t.call('GET', `/v1/rewards/${r.reward_id}`, undefined, { key: t.readonly }), 200);
    expectError(await t.call('GET', `/v1/rewards/${r.reward_id}`, undefined, { key: null }), 401, 'unauthorized');
  });
});

describe('rewards: config validation per type', () => {
  it.each(REWARD_TYPES)('accepts a valid %s config and answers it back', async (type) => {
    const t = await (await testApp()).newTenant();
    const validator = { per_user_limit: 3, period: 'WEEK', min_interval_seconds: 60 };
    const r = must(await createTyped(t, type, { generator: VALID_GENERATORS[type], validator }), 201).body;
    expect(r.reward_type).toBe(type);
    expect(r.config).toEqual({ generator: VALID_GENERATORS[type], validator, distributor: { type: 'AUTO' } });
    expect((await getReward(t, r.reward_id)).config).toEqual(r.config);
  });

  it.each(INVALID_GENERATORS.map(([type, generator, field]) => ({ type, generator, field })))('refuses a wrong $type generator: 400 naming $field', async ({ type, generator, field }) => {
    const t = await (await testApp()).newTenant();
    expectInvalid(await createTyped(t, type, { generator }), field);
    expect(must(await t.call('GET', '/v1/rewards'), 200).body.pagination.total).toBe(0);
  });

  it.each(REWARD_TYPES)('refuses an unknown key in a %s generator', async (type) => {
    const t = await (await testApp()).newTenant();
    expectInvalid(await createTyped(t, type, { generator: { ...VALID_GENERATORS[type], colour: 'blue' } }), 'config.generator.colour');
  });

  it.each(REWARD_TYPES)('refuses the generator of another type for %s', async (type) => {
    const t = await (await testApp()).newTenant();
    const other = type === 'POINTS' ? 'SUBSCRIPTION' : 'POINTS';
    const reply = await createTyped(t, type, { generator: VALID_GENERATORS[other] });
    expectError(reply, 400, 'invalid_request');
    expect(reply.body.error.details.field).toMatch(/^config\.generator\./);
  });

  it('refuses unknown keys of config itself', async () => {
    const t = await (await testApp()).newTenant();
    expectInvalid(await createTyped(t, 'POINTS', { generator: { points: 1 }, limits: { max: 1 } }), 'config.limits');
  });

  it('needs amount_off for AMOUNT, percent_off for PERCENT and gift_sku for GIFT coupons', async () => {
    const t = await (await testApp()).newTenant();
    const coupon = (generator: Record<string, unknown>) => createTyped(t, 'COUPON', { generator });
    expectInvalid(await coupon({ discount_type: 'AMOUNT' }), 'config.generator.amount_off');
    expectInvalid(await coupon({ discount_type: 'AMOUNT', percent_off: 10 }), 'config.generator.amount_off');
    expectInvalid(await coupon({ discount_type: 'PERCENT' }), 'config.generator.percent_off');
    expectInvalid(await coupon({ discount_type: 'PERCENT', amount_off: 100 }), 'config.generator.percent_off');
    expectInvalid(await coupon({ discount_type: 'GIFT' }), 'config.generator.gift_sku');
    expectInvalid(await coupon({ discount_type: 'PERCENT', percent_off: 101 }), 'config.generator.percent_off');
    expectInvalid(await coupon({ discount_type: 'AMOUNT', amount_off: 0 }), 'config.generator.amount_off');
    expectInvalid(await coupon({ discount_type: 'GIFT', gift_sku: '' }), 'config.generator.gift_sku');
    expectInvalid(await coupon({ amount_off: 100 }), 'config.generator.discount_type');
    must(await coupon({ discount_type: 'AMOUNT', amount_off: 100 }), 201);
    must(await coupon({ discount_type: 'PERCENT', percent_off: 15, max_discount: 2000 }), 201);
    must(await coupon({ discount_type: 'GIFT', gift_sku: 'SKU-1' }), 201);
    must(await coupon({ discount_type: 'SHIPPING' }), 201);
  });

  it('refuses length or prefix on UUID redeem codes', async () => {
    const t = await (await testApp()).newTenant();
    expectInvalid(await createTyped(t, 'REDEEM_CODE', { generator: { code_type: 'UUID', length: 8 } }), 'config.generator.code_type');
    expectInvalid(await createTyped(t, 'REDEEM_CODE', { generator: { code_type: 'UUID', prefix: 'X' } }), 'config.generator.code_type');
    expectInvalid(await createTyped(t, 'REDEEM_CODE', { generator: { code_type: 'ALPHANUM', prefix: 'bad prefix!' } }), 'config.generator.prefix');
    must(await createTyped(t, 'REDEEM_CODE', { generator: { code_type: 'UUID' } }), 201);
  });

  it('validates the validator: per_user_limit, period, min_interval_seconds, unknown keys', async () => {
    const t = await (await testApp()).newTenant();
    const withValidator = (validator: unknown) => createTyped(t, 'POINTS', { generator: { points: 1 }, validator });
    expectInvalid(await withValidator({ per_user_limit: 0 }), 'config.validator.per_user_limit');
    expectInvalid(await withValidator({ per_user_limit: 1.5 }), 'config.validator.per_user_limit');
    expectInvalid(await withValidator({ per_user_limit: 1, period: 'YEAR' }), 'config.validator.period');
    expectInvalid(await withValidator({ min_interval_seconds: 0 }), 'config.validator.min_interval_seconds');
    expectInvalid(await withValidator({ per_user_limit: 1, max_per_day: 2 }), 'config.validator.max_per_day');
    for (const period of ['DAY', 'WEEK', 'MONTH', 'CAMPAIGN', 'LIFETIME']) {
      must(await withValidator({ per_user_limit: 1, period }), 201);
    }
  });

  it('validates the distributor: WEBHOOK needs an http(s) url and a secret of 16+ characters', async () => {
    const t = await (await testApp()).newTenant();
    const withDistributor = (distributor: unknown) => createTyped(t, 'POINTS', { generator: { points: 1 }, distributor });
    expectInvalid(await withDistributor({ type: 'WEBHOOK', secret: SECRET }), 'config.distributor.url');
    expectInvalid(await withDistributor({ type: 'WEBHOOK', url: 'https://hooks.example.com/r' }), 'config.distributor.secret');
    expectInvalid(await withDistributor({ type: 'WEBHOOK', url: 'https://hooks.example.com/r', secret: 'short-secret' }), 'config.distributor.secret');
    expectInvalid(await withDistributor({ type: 'WEBHOOK', url: 'ftp://hooks.example.com/r', secret: SECRET }), 'config.distributor.url');
    expectInvalid(await withDistributor({ type: 'WEBHOOK', url: 'hooks.example.com/r', secret: SECRET }), 'config.distributor.url');
    expectInvalid(await withDistributor({ type: 'WEBHOOK', url: 'https://hooks.example.com/r', secret: SECRET, timeout_ms: 10 }), 'config.distributor.timeout_ms');
    expectInvalid(await withDistributor({ type: 'WEBHOOK', url: 'https://hooks.example.com/r', secret: SECRET, retries: 3 }), 'config.distributor.retries');
    expectInvalid(await withDistributor({ type: 'AUTO', url: 'https://hooks.example.com/r' }), 'config.distributor.url');
    expectInvalid(await withDistributor({ type: 'PIGEON' }), 'config.distributor.type');
    expectInvalid(await withDistributor({}), 'config.distributor.type');
    must(await withDistributor({ type: 'WEBHOOK', url: 'http://127.0.0.1:9/hook', secret: SECRET, timeout_ms: 5000 }), 201);
    must(await withDistributor({ type: 'AUTO' }), 201);
  });

  it.each(['EMAIL', 'SMS'])('refuses the %s distributor: 400 distributor_unavailable', async (type) => {
    const t = await (await testApp()).newTenant();
    const reply = await createTyped(t, 'POINTS', { generator: { points: 1 }, distributor: { type, template_id: 'tpl-1' } });
    expectError(reply, 400, 'distributor_unavailable', { field: 'config.distributor.type' });
  });
});

describe('rewards: webhook secret', () => {
  const webhook = { type: 'WEBHOOK', url: 'https://hooks.example.com/rewards', secret: SECRET };

  it('never answers the secret: masked on create, get and list', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const created = must(await createTyped(t, 'POINTS', { generator: { points: 1 }, distributor: webhook }), 201);
    expect(created.body.config.distributor).toEqual({ ...webhook, secret: SECRET_MASK });
    const got = must(await t.call('GET', `/v1/rewards/${created.body.reward_id}`), 200);
    const listed = must(await t.call('GET', '/v1/rewards'), 200);
    for (const reply of [created, got, listed]) expect(JSON.stringify(reply.body)).not.toContain(SECRET);
    expect(got.body.config.distributor.secret).toBe(SECRET_MASK);
    expect(listed.body.rewards[0].config.distributor.secret).toBe(SECRET_MASK);
    expect((await storedConfig(app, t.tenantId, created.body.reward_id)).distributor.secret).toBe(SECRET);
  });

  it('keeps the secret when the mask is sent back, replaces it when a new one is sent', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const r = must(await createTyped(t, 'POINTS', { generator: { points: 1 }, distributor: webhook }), 201).body;
    // A client that read the reward and sends its config back, with a new URL.
    const readBack = (await getReward(t, r.reward_id)).config;
    const updated = must(
      await t.call('PUT', `/v1/rewards/${r.reward_id}`, { config: { ...readBack, distributor: { ...readBack.distributor, url: 'https://other.example.com/h' } } }),
      200,
    ).body;
    expect(updated.config.distributor).toEqual({ type: 'WEBHOOK', url: 'https://other.example.com/h', secret: SECRET_MASK });
    expect((await storedConfig(app, t.tenantId, r.reward_id)).distributor).toEqual({ type: 'WEBHOOK', url: 'https://other.example.com/h', secret: SECRET });

    const rotated = 'whsec_rotated_fedcba9876543210';
    const after = must(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { config: { generator: { points: 1 }, distributor: { ...webhook, secret: rotated } } }), 200).body;
    expect(after.config.distributor.secret).toBe(SECRET_MASK);
    expect((await storedConfig(app, t.tenantId, r.reward_id)).distributor.secret).toBe(rotated);
  });

  it('does not take the mask as a secret where there is none to keep', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    expectInvalid(await createTyped(t, 'POINTS', { generator: { points: 1 }, distributor: { ...webhook, secret: SECRET_MASK } }), 'config.distributor.secret');
    const auto = await newReward(t);
    expectInvalid(
      await t.call('PUT', `/v1/rewards/${auto.reward_id}`, { config: { generator: { points: 1 }, distributor: { ...webhook, secret: SECRET_MASK } } }),
      'config.distributor.secret',
    );
    expect((await storedConfig(app, t.tenantId, auto.reward_id)).distributor).toEqual({ type: 'AUTO' });
  });
});

describe('rewards: stock', () => {
  it('shows unlimited stock as null total and null available, counting what is used', async () => {
    const t = await (await testApp()).newTenant();
    const omitted = await newReward(t, { total_stock: undefined });
    const explicit = await newReward(t, { total_stock: null });
    for (const r of [omitted, explicit]) {
      expect(r.total_stock).toBeNull();
      expect(r.stock).toEqual({ total: null, reserved: 0, used: 0, available: null });
    }
    must(await t.call('POST', '/v1/reward-grants', { reward_id: omitted.reward_id, user_id: 'u1', quantity: 3 }), 201);
    must(await t.call('POST', '/v1/inventory/reserve', { reward_id: omitted.reward_id, quantity: 2 }), 201);
    expect((await getReward(t, omitted.reward_id)).stock).toEqual({ total: null, reserved: 2, used: 3, available: null });
  });

  it('shows {total, reserved, used, available} as grants and reservations take units', async () => {
    const t = await (await testApp()).newTenant();
    const r = await newReward(t, { total_stock: 10 });
    must(await t.call('POST', '/v1/reward-grants', { reward_id: r.reward_id, user_id: 'u1', quantity: 3 }), 201);
    must(await t.call('POST', '/v1/inventory/reserve', { reward_id: r.reward_id, quantity: 2 }), 201);
    expect((await getReward(t, r.reward_id)).stock).toEqual({ total: 10, reserved: 2, used: 3, available: 5 });
    const listed = must(await t.call('GET', '/v1/rewards'), 200).body.rewards[0];
    expect(listed.stock).toEqual({ total: 10, reserved: 2, used: 3, available: 5 });
  });

  it('refuses total_stock below what is reserved and used (409 stock_below_issued); raising it works', async () => {
    const t = await (await testApp()).newTenant();
    const r = await newReward(t, { total_stock: 6 });
    must(await t.call('POST', '/v1/reward-grants', { reward_id: r.reward_id, user_id: 'u1', quantity: 3 }), 201);
    must(await t.call('POST', '/v1/inventory/reserve', { reward_id: r.reward_id, quantity: 2 }), 201);

    const below = await t.call('PUT', `/v1/rewards/${r.reward_id}`, { total_stock: 4, reward_name: 'Resized' });
    expectError(below, 409, 'stock_below_issued', { field: 'total_stock', issued: 5 });
    expectError(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { total_stock: 0 }), 409, 'stock_below_issued');
    const unchanged = await getReward(t, r.reward_id);
    expect(unchanged).toMatchObject({ total_stock: 6, reward_name: r.reward_name, version: 1, stock: { total: 6, reserved: 2, used: 3, available: 1 } });

    const exact = must(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { total_stock: 5 }), 200).body;
    expect(exact).toMatchObject({ total_stock: 5, stock: { total: 5, reserved: 2, used: 3, available: 0 } });
    const check = must(await t.call('POST', '/v1/reward-grants/check', { reward_id: r.reward_id, user_id: 'u2' }), 200).body;
    expect(check).toMatchObject({ eligible: false, reasons: [{ code: 'inventory_exhausted' }] });

    const raised = must(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { total_stock: 20 }), 200).body;
    expect(raised).toMatchObject({ total_stock: 20, stock: { total: 20, reserved: 2, used: 3, available: 15 } });
    // The new units can be granted, up to the new total exactly.
    must(await t.call('POST', '/v1/reward-grants', { reward_id: r.reward_id, user_id: 'u2', quantity: 15 }), 201);
    expect((await getReward(t, r.reward_id)).stock).toEqual({ total: 20, reserved: 2, used: 18, available: 0 });
    expectError(await t.call('POST', '/v1/reward-grants', { reward_id: r.reward_id, user_id: 'u3', source: 'order', source_id: 'o-2' }), 409, 'inventory_exhausted');
  });

  it('grants the new units at once after a sold-out reward is restocked', async () => {
    const app = await appWithFrozenGate();
    try {
      const t = await app.newTenant();
      const r = await newReward(t, { total_stock: 1 });
      must(await t.call('POST', '/v1/reward-grants', { reward_id: r.reward_id, user_id: 'u1' }), 201);
      expectError(await t.call('POST', '/v1/reward-grants', { reward_id: r.reward_id, user_id: 'u2' }), 409, 'inventory_exhausted');
      expect(must(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { total_stock: 3 }), 200).body.stock).toEqual({ total: 3, reserved: 0, used: 1, available: 2 });
      // Restocking returns units: the next grant must not be turned away as sold out.
      must(await t.call('POST', '/v1/reward-grants', { reward_id: r.reward_id, user_id: 'u2' }), 201);
    } finally {
      await app.app.close();
    }
  });

  it('moves between limited and unlimited stock', async () => {
    const t = await (await testApp()).newTenant();
    const r = await newReward(t, { total_stock: null });
    must(await t.call('POST', '/v1/reward-grants', { reward_id: r.reward_id, user_id: 'u1', quantity: 4 }), 201);
    expectError(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { total_stock: 3 }), 409, 'stock_below_issued', { issued: 4 });
    const limited = must(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { total_stock: 6 }), 200).body;
    expect(limited.stock).toEqual({ total: 6, reserved: 0, used: 4, available: 2 });
    const unlimited = must(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { total_stock: null }), 200).body;
    expect(unlimited).toMatchObject({ total_stock: null, stock: { total: null, reserved: 0, used: 4, available: null } });
  });

  it('a zero total_stock reward exists and grants nothing', async () => {
    const t = await (await testApp()).newTenant();
    const r = await newReward(t, { total_stock: 0 });
    expect(r.stock).toEqual({ total: 0, reserved: 0, used: 0, available: 0 });
    expectError(await t.call('POST', '/v1/reward-grants', { reward_id: r.reward_id, user_id: 'u1' }), 409, 'inventory_exhausted');
  });
});

describe('rewards: validity window and campaign', () => {
  it('refuses valid_until at or before valid_from: 400 on valid_until, on create and update', async () => {
    const t = await (await testApp()).newTenant();
    const from = '2030-01-02T00:00:00.000Z';
    expectInvalid(await createReward(t, { valid_from: from, valid_until: '2030-01-01T00:00:00.000Z' }), 'valid_until');
    expectInvalid(await createReward(t, { valid_from: from, valid_until: from }), 'valid_until');
    expectInvalid(await createReward(t, { valid_from: 'tomorrow' }), 'valid_from');
    const r = await newReward(t, { valid_from: from, valid_until: '2030-02-01T00:00:00.000Z' });
    expect(r).toMatchObject({ valid_from: from, valid_until: '2030-02-01T00:00:00.000Z' });
    expectInvalid(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { valid_until: '2030-01-01T00:00:00.000Z' }), 'valid_until');
    expectInvalid(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { valid_from: '2030-03-01T00:00:00.000Z' }), 'valid_until');
    // Either side may be cleared.
    expect(must(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { valid_from: null }), 200).body).toMatchObject({ valid_from: null, valid_until: '2030-02-01T00:00:00.000Z' });
    expect((await getReward(t, r.reward_id)).version).toBe(2);
  });

  it('ties a reward to a campaign of its product', async () => {
    const t = await (await testApp()).newTenant();
    const campaign = await newCampaign(t);
    const r = await newReward(t, { campaign_id: campaign.campaign_id });
    expect(r.campaign_id).toBe(campaign.campaign_id);
  });

  it('refuses a campaign of another product: 400 campaign_product_mismatch', async () => {
    const t = await (await testApp()).newTenant({ productCodes: ['app1', 'app2'] });
    const campaign = await newCampaign(t, { product_code: 'app2' });
    const reply = await createReward(t, { product_code: 'app1', campaign_id: campaign.campaign_id });
    expectError(reply, 400, 'campaign_product_mismatch', { field: 'campaign_id', campaign_product_code: 'app2' });
    expect(must(await t.call('GET', '/v1/rewards'), 200).body.pagination.total).toBe(0);
  });

  it('refuses an unknown campaign, or one of another tenant: 400 unknown_campaign', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const other = await app.newTenant();
    const foreign = await publishedCampaign(other);
    expectError(await createReward(t, { campaign_id: 'cmp_missing' }), 400, 'unknown_campaign', { field: 'campaign_id' });
    expectError(await createReward(t, { campaign_id: foreign.campaign_id }), 400, 'unknown_campaign', { field: 'campaign_id' });
  });

  it('refuses an unknown product_code: 400 unknown_product_code', async () => {
    const t = await (await testApp()).newTenant();
    expectError(await createReward(t, { product_code: 'nope' }), 400, 'unknown_product_code', { field: 'product_code' });
  });
});

describe('rewards: tenant isolation', () => {
  it('another tenant gets 404 reward_not_found on every reward route and changes nothing', async () => {
    const app = await testApp();
    const a = await app.newTenant();
    const b = await app.newTenant();
    const r = await newReward(a, { total_stock: 5 });
    const path = `/v1/rewards/${r.reward_id}`;

    expectError(await b.call('GET', path), 404, 'reward_not_found');
    expectError(await b.call('PUT', path, { reward_name: 'Hijacked', total_stock: 0 }), 404, 'reward_not_found');
    expectError(await b.call('DELETE', path), 404, 'reward_not_found');
    expectError(await b.call('GET', path, undefined, { key: b.admin }), 404, 'reward_not_found');
    const listed = must(await b.call('GET', '/v1/rewards', undefined, { query: { page_size: 500 } }), 200).body;
    expect(listed.rewards).toEqual([]);
    expect(listed.pagination.total).toBe(0);
    // Naming the other tenant in the body or query is refused outright.
    expectError(await b.call('GET', '/v1/rewards', undefined, { query: { tenant_id: a.tenantId } }), 403, 'tenant_mismatch');
    expectError(await b.call('POST', '/v1/rewards', { ...rewardBody(b), tenant_id: a.tenantId }), 403, 'tenant_mismatch');
    // Nor can it use the reward through grants or reservations.
    expectError(await b.call('POST', '/v1/reward-grants', { reward_id: r.reward_id, user_id: 'u1' }), 404, 'reward_not_found');
    expectError(await b.call('POST', '/v1/inventory/reserve', { reward_id: r.reward_id, quantity: 1 }), 404, 'reward_not_found');

    expect(await getReward(a, r.reward_id)).toEqual(r);
  });

  it('the master key is not a tenant: 403 tenant_key_required', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const r = await newReward(t);
    expectError(await app.call('GET', `/v1/rewards/${r.reward_id}`), 403, 'tenant_key_required');
  });
});

describe('rewards: metrics', () => {
  it('counts created rewards by type in marketing_reward_created_total, refusals not', async () => {
    // A new app has its own metrics registry, so the counts start at zero.
    const app = await testApp({ clock: new ManualClock(new Date()) });
    try {
      const t = await app.newTenant();
      const scrape = async () => must(await app.call('GET', '/metrics', undefined, { key: null }), 200).body as string;
      const before = await scrape();
      expect(metricValue(before, 'marketing_reward_created_total', { reward_type: 'POINTS' })).toBe(0);
      await newReward(t);
      await newReward(t);
      must(await createTyped(t, 'COUPON', { generator: VALID_GENERATORS.COUPON }), 201);
      expectInvalid(await createTyped(t, 'COUPON', { generator: { discount_type: 'AMOUNT' } }), 'config.generator.amount_off');
      expectError(await createReward(t, { campaign_id: 'cmp_missing' }), 400, 'unknown_campaign');
      const after = await scrape();
      expect(after).toContain('# TYPE marketing_reward_created_total counter');
      expect(metricValue(after, 'marketing_reward_created_total', { reward_type: 'POINTS' })).toBe(2);
      expect(metricValue(after, 'marketing_reward_created_total', { reward_type: 'COUPON' })).toBe(1);
      expect(metricValue(after, 'marketing_reward_created_total', { reward_type: 'BALANCE' })).toBe(0);
    } finally {
      await app.app.close();
    }
  });
});
