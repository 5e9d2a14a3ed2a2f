import { describe, expect, it } from 'vitest';
import { runTransaction } from '../../db/client.js';
import { AppError } from '../../platform/errors.js';
import { newCampaign } from '../../../test/helpers/factories.js';
import { createBatch, redeem } from '../../../test/helpers/redeem-code-helpers.js';
import { must, type Reply, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';

/**
 * COUPON rewards that name a coupon template: a grant puts one wallet coupon per unit in the
 * user's wallet, in the grant's own transaction (grant.coupon.ts, coupons/coupon.grant.ts).
 */

async function template(t: TenantFixture, body: Record<string, unknown> = {}) {
  return must(await t.call('POST', '/v1/coupons/templates', { name: 'Grant coupon', coupon_type: 'discount', value: 500, ...body }, { key: t.admin }), 201).body as {
    template_id: string;
  };
}

async function couponReward(t: TenantFixture, templateId: string, o: { total_stock?: number | null; validator?: Record<string, unknown> } = {}) {
  const campaign = await newCampaign(t);
  must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`), 200);
  const body = {
    reward_name: 'Wallet coupon',
    reward_type: 'COUPON',
    product_code: t.productCode,
    campaign_id: campaign.campaign_id,
    total_stock: o.total_stock ?? null,
    config: { generator: { coupon_template_id: templateId, terms: 'One per order' }, ...(o.validator ? { validator: o.validator } : {}) },
  };
  return must(await t.call('POST', '/v1/rewards', body), 201).body as { reward_id: string; campaign_id: string };
}

const grant = (t: TenantFixture, body: Record<string, unknown>, headers?: Record<string, string>) => t.call('POST', '/v1/reward-grants', body, headers ? { headers } : {});
const wallet = async (t: TenantFixture, userId: string) => must(await t.call('GET', '/v1/coupons', undefined, { query: { user_id: userId, page_size: 100 } }), 200).body;
const templateOf = async (t: TenantFixture, id: string) => must(await t.call('GET', `/v1/coupons/templates/${id}`), 200).body;

function tally(replies: Reply[]) {
  const statuses: Record<number, number> = {};
  const errorCodes: Record<string, number> = {};
  for (const r of replies) {
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.status >= 400) errorCodes[r.body?.error?.code ?? 'none'] = (errorCodes[r.body?.error?.code ?? 'none'] ?? 0) + 1;
  }
  return { statuses, errorCodes };
}

describe('COUPON rewards with a coupon template', () => {
  it('the reward names a template of the tenant: unknown or foreign ids and repeated terms are 400, on create and update', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const other = await app.newTenant();
    const mine = await template(t);
    const theirs = await template(other);
    const create = (generator: Record<string, unknown>) =>
      t.call('POST', '/v1/rewards', { reward_name: 'c', reward_type: 'COUPON', product_code: t.productCode, config: { generator } });
    for (const id of ['cpt_nope', theirs.template_id]) {
      const r = await create({ coupon_template_id: id });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'unknown_coupon_template', details: { field: 'config.generator.coupon_template_id', coupon_template_id: id } });
    }
    const repeated = await create({ coupon_template_id: mine.template_id, discount_type: 'AMOUNT', amount_off: 100 });
    expect(repeated.status).toBe(400);
    expect(repeated.body.error.details.field).toBe('config.generator.discount_type');
    expect((await create({})).body.error.details.field).toBe('config.generator.discount_type');

    const reward = must(await create({ coupon_template_id: mine.template_id }), 201).body;
    expect(reward.config.generator).toEqual({ coupon_template_id: mine.template_id });
    const bad = await t.call('PUT', `/v1/rewards/${reward.reward_id}`, { config: { generator: { coupon_template_id: 'cpt_gone' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('unknown_coupon_template');
    expect(must(await t.call('GET', `/v1/rewards/${reward.reward_id}`), 200).body.config.generator).toEqual({ coupon_template_id: mine.template_id });
    // A generator-only COUPON reward is what it was: nothing to check, nothing issued.
    const plain = must(await create({ discount_type: 'SHIPPING' }), 201).body;
    const g = must(await grant(t, { reward_id: plain.reward_id, user_id: 'plain-user' }), 201).body;
    expect(g.payload.coupons).toEqual([{ coupon_code: expect.stringMatching(/^CP/), discount_type: 'SHIPPING', expires_at: null }]);
    expect((await wallet(t, 'plain-user')).coupons).toEqual([]);
  });

  it('a grant issues one wallet coupon, shown with its id and code; a replayed cause issues none more', async () => {
    const t = await (await testApp()).newTenant();
    const tpl = await template(t, { valid_days: 7 });
    const reward = await couponReward(t, tpl.template_id);
    const body = { reward_id: reward.reward_id, user_id: 'u1', source: 'order', source_id: 'o-1' };
    const first = must(await grant(t, body), 201).body;
    expect(first.status).toBe('DELIVERED');
    expect(first.payload.coupon_template_id).toBe(tpl.template_id);
    expect(first.payload.coupons).toHaveLength(1);
    const issued = first.payload.coupons[0];
    expect(issued).toMatchObject({ coupon_id: expect.stringMatching(/^cpn/), coupon_code: expect.stringMatching(/^[A-Z2-9]{10}$/), template_id: tpl.template_id });

    const w = await wallet(t, 'u1');
    expect(w.coupons).toHaveLength(1);
    expect(w.coupons[0]).toMatchObject({ coupon_id: issued.coupon_id, code: issued.coupon_code, source: 'grant', status: 'available', valid_until: issued.valid_until });
    expect(must(await t.call('GET', `/v1/reward-grants/${first.grant_id}`), 200).body.payload).toEqual(first.payload);

    // The same cause again (and in parallel): the same grant back, no second coupon.
    const again = await Promise.all(Array.from({ length: 10 }, () => grant(t, body)));
    for (const r of again) expect(must(r, 200).body).toMatchObject({ grant_id: first.grant_id, payload: first.payload });
    // An Idempotency-Key replay answers the recorded grant.
    const keyed = { reward_id: reward.reward_id, user_id: 'u1' };
    const k1 = must(await grant(t, keyed, { 'idempotency-key': 'coupon-key-1' }), 201).body;
    const k2 = must(await grant(t, keyed, { 'idempotency-key': 'coupon-key-1' }), 201).body;
    expect(k2.grant_id).toBe(k1.grant_id);
    expect(k2.payload.coupons).toEqual(k1.payload.coupons);
    expect((await wallet(t, 'u1')).pagination.total).toBe(2);
    expect((await templateOf(t, tpl.template_id)).claimed_count).toBe(2);
  });

  it('quantity 2 issues two coupons; a refused coupon (per_user_limit of the template) refuses the grant and leaves nothing', async () => {
    const t = await (await testApp()).newTenant();
    const tpl = await template(t, { per_user_limit: 2 });
    const reward = await couponReward(t, tpl.template_id, { total_stock: 10 });
    const two = must(await grant(t, { reward_id: reward.reward_id, user_id: 'q', quantity: 2 }), 201).body;
    expect(two.payload.coupons).toHaveLength(2);
    // The eligibility check says so first, with the same code.
    const verdict = must(await t.call('POST', '/v1/reward-grants/check', { reward_id: reward.reward_id, user_id: 'q' }), 200).body;
    expect(verdict).toMatchObject({ eligible: false, reasons: [{ code: 'coupon_per_user_limit_reached', details: { per_user_limit: 2 } }] });
    expect(must(await t.call('POST', '/v1/reward-grants/check', { reward_id: reward.reward_id, user_id: 'q2' }), 200).body).toEqual({ eligible: true, reasons: [] });
    const refused = await grant(t, { reward_id: reward.reward_id, user_id: 'q', source: 'order', source_id: 'o-9' });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'coupon_per_user_limit_reached', details: { template_id: tpl.template_id, per_user_limit: 2 } });
    // Nothing of the refused grant stayed: no grant for the cause, the stock back, the same wallet.
    const grants = must(await t.call('GET', '/v1/reward-grants', undefined, { query: { reward_id: reward.reward_id } }), 200).body;
    expect(grants.grants.map((g: { grant_id: string }) => g.grant_id)).toEqual([two.grant_id]);
    expect(must(await t.call('GET', `/v1/rewards/${reward.reward_id}`), 200).body.stock).toEqual({ total: 10, reserved: 0, used: 2, available: 8 });
    expect((await wallet(t, 'q')).pagination.total).toBe(2);
    // The cause was not used up: once the template allows it again (another user here), it grants.
    must(await grant(t, { reward_id: reward.reward_id, user_id: 'q2', source: 'order', source_id: 'o-9' }), 201);
  });

  it('200 parallel grants of a reward whose template has usage_limit 50: exactly 50 coupons, 150 coupon_usage_limit_reached, counts agree', async () => {
    const t = await (await testApp()).newTenant();
    const tpl = await template(t, { usage_limit: 50 });
    const reward = await couponReward(t, tpl.template_id, { total_stock: 1000 });
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => grant(t, { reward_id: reward.reward_id, user_id: `p${i % 150}`, source: 'race', source_id: `r-${i}` })));
    expect(tally(replies)).toEqual({ statuses: { 201: 50, 409: 150 }, errorCodes: { coupon_usage_limit_reached: 150 } });
    const made = replies.filter((r) => r.status === 201).map((r) => r.body);
    const couponIds = made.map((g) => g.payload.coupons[0].coupon_id);
    expect(new Set(couponIds).size).toBe(50);

    const grants = must(await t.call('GET', '/v1/reward-grants', undefined, { query: { reward_id: reward.reward_id, page_size: 500 } }), 200).body;
    expect(grants.pagination.total).toBe(50);
    expect(new Set(grants.grants.map((g: { grant_id: string }) => g.grant_id))).toEqual(new Set(made.map((g) => g.grant_id)));
    expect(must(await t.call('GET', `/v1/rewards/${reward.reward_id}`), 200).body.stock).toEqual({ total: 1000, reserved: 0, used: 50, available: 950 });
    expect((await templateOf(t, tpl.template_id)).claimed_count).toBe(50);
    // Every coupon in a wallet once: the users' wallets hold exactly the 50 coupons the grants show.
    const users = [...new Set(made.map((g) => g.user_id))];
    const inWallets: string[] = [];
    for (const u of users) inWallets.push(...(await wallet(t, u)).coupons.map((c: { coupon_id: string; source: string }) => (expect(c.source).toBe('grant'), c.coupon_id)));
    expect(new Set(inWallets)).toEqual(new Set(couponIds));
    const walletCoupons = inWallets.length;
    expect(walletCoupons).toBe(50);
    const verdict = must(await t.call('POST', '/v1/reward-grants/check', { reward_id: reward.reward_id, user_id: 'late' }), 200).body;
    expect(verdict).toMatchObject({ eligible: false, reasons: [{ code: 'coupon_usage_limit_reached', details: { usage_limit: 50 } }] });
    // A COUPON grant makes no ledger entry: the ledger stays empty for these users.
    for (const u of users.slice(0, 5)) expect(must(await t.call('GET', `/v1/users/${u}/ledger`), 200).body.pagination.total).toBe(0);
  }, 120_000);

  it('a WEBHOOK reward: the grant is PENDING and its payload (what the delivery sends) names the coupon already in the wallet', async () => {
    const t = await (await testApp()).newTenant();
    const tpl = await template(t);
    const campaign = await newCampaign(t);
    must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`), 200);
    const distributor = { type: 'WEBHOOK', url: 'http://127.0.0.1:9/hook', secret: 'whsec_test_0123456789abcdef' };
    const body = { reward_name: 'Hooked coupon', reward_type: 'COUPON', product_code: t.productCode, campaign_id: campaign.campaign_id, config: { generator: { coupon_template_id: tpl.template_id }, distributor } };
    const reward = must(await t.call('POST', '/v1/rewards', body), 201).body;
    const g = must(await grant(t, { reward_id: reward.reward_id, user_id: 'wh' }), 201).body;
    expect(g).toMatchObject({ status: 'PENDING', distributor: 'WEBHOOK', delivery: { status: 'PENDING' } });
    expect((await wallet(t, 'wh')).coupons.map((c: { coupon_id: string }) => c.coupon_id)).toEqual([g.payload.coupons[0].coupon_id]);
  });

  it('revoking the grant voids its coupon while available; a used coupon stays used', async () => {
    const t = await (await testApp()).newTenant();
    const tpl = await template(t);
    const reward = await couponReward(t, tpl.template_id);
    const g = must(await grant(t, { reward_id: reward.reward_id, user_id: 'rv' }), 201).body;
    const couponId = g.payload.coupons[0].coupon_id;
    must(await t.call('PUT', `/v1/reward-grants/${g.grant_id}/status`, { status: 'REVOKED', reason: 'fraud' }), 200);
    expect(must(await t.call('GET', `/v1/coupons/${couponId}`), 200).body.status).toBe('voided');

    const used = must(await grant(t, { reward_id: reward.reward_id, user_id: 'rv2' }), 201).body;
    const usedId = used.payload.coupons[0].coupon_id;
    const cart = { lines: [{ item_id: 'sku', unit_price: 10_000, quantity: 1 }], shipping_fee: 0 };
    must(await t.call('POST', `/v1/coupons/${usedId}/lock`, { user_id: 'rv2', order_id: 'ord-1', cart }), 200);
    must(await t.call('POST', `/v1/coupons/${usedId}/commit`, { order_id: 'ord-1' }), 200);
    must(await t.call('PUT', `/v1/reward-grants/${used.grant_id}/status`, { status: 'REVOKED' }), 200);
    expect(must(await t.call('GET', `/v1/coupons/${usedId}`), 200).body.status).toBe('used');
  });

  it("in a caller's transaction (a batch of grants), a refused coupon undoes its own grant only", async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const tpl = await template(t, { usage_limit: 1 });
    const reward = await couponReward(t, tpl.template_id);
    const { grants } = app.app.services;
    const actor = { kind: 'tenant' as const, tenantId: t.tenantId, keyId: 'test', role: 'service' as const, productCodes: null };
    const inputs = ['b1', 'b2', 'b3'].map((u) => ({ reward_id: reward.reward_id, user_id: u, source: 'batch', source_id: u }));
    const answers = await runTransaction(app.database.db, (trx) => grants.grantMany(actor, inputs, trx));
    expect(answers.map((a) => (a instanceof AppError ? a.code : a.created))).toEqual([true, 'coupon_usage_limit_reached', 'coupon_usage_limit_reached']);
    const list = must(await t.call('GET', '/v1/reward-grants', undefined, { query: { reward_id: reward.reward_id } }), 200).body;
    expect(list.grants.map((g: { user_id: string }) => g.user_id)).toEqual(['b1']);
    expect((await wallet(t, 'b1')).pagination.total).toBe(1);
    expect((await wallet(t, 'b2')).pagination.total).toBe(0);
    expect((await templateOf(t, tpl.template_id)).claimed_count).toBe(1);
  });

  it('a redeemed code whose reward issues coupons: the coupon with the redemption, or the code stays unused when the template refuses', async () => {
    const t = await (await testApp()).newTenant();
    const tpl = await template(t, { usage_limit: 1 });
    const reward = await couponReward(t, tpl.template_id);
    const batch = must(await createBatch(t, reward.campaign_id, { reward_id: reward.reward_id, count: 2 }), 201).body as { codes: string[] };
    const ok = must(await redeem(t, { code: batch.codes[0], user_id: 'r1' }), 201).body;
    expect(ok.grant.payload.coupons).toHaveLength(1);
    expect((await wallet(t, 'r1')).coupons[0].coupon_id).toBe(ok.grant.payload.coupons[0].coupon_id);
    const refused = await redeem(t, { code: batch.codes[1], user_id: 'r2' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('coupon_usage_limit_reached');
    // The code was not used up by the refused redemption.
    expect(must(await t.call('GET', `/v1/redeem-codes/${batch.codes[1]}`), 200).body).toMatchObject({ status: 'ACTIVE', uses: 0 });
    expect(must(await t.call('GET', `/v1/redeem-codes/${batch.codes[0]}`), 200).body).toMatchObject({ status: 'REDEEMED', uses: 1 });
    expect((await wallet(t, 'r2')).pagination.total).toBe(0);
  });
});
