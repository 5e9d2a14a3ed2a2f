/**
 * The product document's redeem-code parts: POST /api/redeem (headers x-product-code and
 * x-device-id, body {code, userId}), the device id on redemptions, the document's code-rule
 * fields (both spellings), reward rules by user tag, extra_data, and marketing_codes_generated_total.
 */
import { describe, expect, it } from 'vitest';
import { codeCampaign, createBatch, expectError, newBatch, pointsOf } from '../../../test/helpers/redeem-code-helpers.js';
import { must, testApp, type TenantFixture } from '../../../test/helpers/test-app.js';
import { mintUserToken } from '../client-access/testing/client-fixture.js';

const docRedeem = (t: TenantFixture, body: Record<string, unknown>, headers: Record<string, string> = {}) => t.call('POST', '/api/redeem', body, { headers });

async function couponTemplate(t: TenantFixture) {
  return must(await t.call('POST', '/v1/coupons/templates', { name: 'NEW_USER_10OFF', coupon_type: 'discount', value: 1000 }, { key: t.admin }), 201).body as { template_id: string };
}

describe('POST /api/redeem (the document path)', () => {
  it('redeems with x-product-code and x-device-id: 201 核销成功, the same redemption as /v1/redeem, device shown in /v1/redemptions', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 3 });
    const ok = must(await docRedeem(t, { code: batch.codes[0], userId: 'u1' }, { 'x-product-code': t.productCode, 'x-device-id': 'dev-1' }), 201).body;
    expect(ok).toMatchObject({ message: '核销成功', redemption: { user_id: 'u1', product_code: t.productCode, device_id: 'dev-1' }, grant: { user_id: 'u1' } });
    expect(await pointsOf(t, 'u1')).toBe(10);
    // /v1/redeem takes x-device-id too (optional).
    must(await t.call('POST', '/v1/redeem', { code: batch.codes[1], user_id: 'u2' }, { headers: { 'x-device-id': 'dev-2' } }), 201);
    must(await t.call('POST', '/v1/redeem', { code: batch.codes[2], user_id: 'u3' }), 201);
    const list = must(await t.call('GET', '/v1/redemptions', undefined, { query: { batch_id: batch.batch_id } }), 200).body;
    const byUser = Object.fromEntries(list.redemptions.map((r: { user_id: string; device_id: string | null }) => [r.user_id, r.device_id]));
    expect(byUser).toEqual({ u1: 'dev-1', u2: 'dev-2', u3: null });
    const fromDevice = must(await t.call('GET', '/v1/redemptions', undefined, { query: { device_id: 'dev-2' } }), 200).body;
    expect(fromDevice.redemptions.map((r: { user_id: string }) => r.user_id)).toEqual(['u2']);
  });

  it('answers a refusal with the error envelope and its stable code (the 错误提示); bad input is 400', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 1 });
    must(await docRedeem(t, { code: batch.codes[0], userId: 'u1' }), 201);
    expectError(await docRedeem(t, { code: batch.codes[0], userId: 'u2' }), 409, 'code_already_redeemed');
    expectError(await docRedeem(t, { code: 'NOPE-NOPE', userId: 'u2' }), 404, 'code_not_found');
    expect((await docRedeem(t, { code: batch.codes[0] })).status).toBe(400);
    expect((await docRedeem(t, { code: batch.codes[0], user_id: 'u1' })).status).toBe(400);
    expect((await t.call('POST', '/api/redeem', { code: batch.codes[0], userId: 'u1' }, { key: null })).status).toBe(401);
  });

  it("takes a client's publishable key and end-user token: userId is the token's (filled when left out), the key's app and device", async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 3, applicable_products: [t.productCode] });
    const pk = must(await t.call('POST', `/v1/apps/${t.productCode}/publishable-keys`, { allowed_origins: ['https://shop.example.test'] }, { key: t.admin }), 201).body;
    const hs = must(await t.call('POST', `/v1/apps/${t.productCode}/user-token-keys`, { alg: 'HS256' }, { key: t.admin }), 201).body;
    const token = await mintUserToken({ kid: hs.kid, secret: hs.secret }, 'cu1');
    const client = (body: Record<string, unknown>, withToken = true) =>
      t.call('POST', '/api/redeem', body, { key: withToken ? token : null, headers: { 'x-publishable-key': pk.key, 'x-device-id': 'phone-9' } });
    const ok = must(await client({ code: batch.codes[0] }), 201).body;
    expect(ok).toMatchObject({ message: '核销成功', redemption: { user_id: 'cu1', product_code: t.productCode, device_id: 'phone-9' } });
    must(await client({ code: batch.codes[1], userId: 'cu1' }), 201);
    expectError(await client({ code: batch.codes[2], userId: 'someone_else' }), 403, 'user_mismatch');
    expectError(await client({ code: batch.codes[2], userId: 'cu1' }, false), 401, 'user_token_required');
  });

  it('replays an Idempotency-Key with the same answer, message included', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 1 });
    const headers = { 'idempotency-key': 'k-doc-1', 'x-device-id': 'd' };
    const first = must(await docRedeem(t, { code: batch.codes[0], userId: 'u1' }, headers), 201).body;
    const again = must(await docRedeem(t, { code: batch.codes[0], userId: 'u1' }, headers), 201).body;
    expect(again).toEqual(first);
    expect(first.message).toBe('核销成功');
  });
});

describe("the document's code-rule fields on batch creation", () => {
  it('accepts ruleId, codeType, length, prefix, excludeChars, validDays, useLimit, applicableProducts', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t);
    const before = Date.now();
    const body = {
      reward_id: rewardId,
      count: 20,
      ruleId: 'invite_reward_2023',
      codeType: 'RANDOM_ALPHANUM',
      length: 12,
      prefix: 'INV',
      excludeChars: ['A', 'BC'],
      validDays: 30,
      useLimit: 2,
      applicableProducts: [t.productCode],
    };
    const batch = must(await t.call('POST', `/v1/campaigns/${campaignId}/redeem-codes`, body), 201).body;
    expect(batch).toMatchObject({ rule_id: 'invite_reward_2023', code_type: 'ALPHANUM', length: 12, prefix: 'INV', valid_days: 30, max_uses: 2, applicable_products: [t.productCode] });
    for (const c of ['A', 'B', 'C']) expect(batch.alphabet).not.toContain(c);
    for (const code of batch.codes as string[]) expect(code).toMatch(/^INV[D-Z0-9]{12}$/);
    const expires = Date.parse(batch.expires_at);
    expect(expires - before).toBeGreaterThanOrEqual(30 * 86_400_000 - 1000);
    expect(expires - Date.now()).toBeLessThanOrEqual(30 * 86_400_000 + 1000);
    const num = must(await t.call('POST', `/v1/campaigns/${campaignId}/redeem-codes`, { reward_id: rewardId, count: 2, codeType: 'RANDOM_NUM', length: 10 }), 201).body;
    expect(num.code_type).toBe('RANDOM_NUM');
    const uuid = must(await t.call('POST', `/v1/campaigns/${campaignId}/redeem-codes`, { reward_id: rewardId, count: 2, codeType: 'UUID' }), 201).body;
    expect(uuid.code_type).toBe('UUID');
  });

  it('refuses both spellings of one setting (400 field_spelled_twice) and a missing code type or reward', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t);
    const post = (body: Record<string, unknown>) => t.call('POST', `/v1/campaigns/${campaignId}/redeem-codes`, { count: 1, reward_id: rewardId, ...body });
    expectError(await post({ code_type: 'ALPHANUM', codeType: 'ALPHANUM' }), 400, 'field_spelled_twice', { fields: ['code_type', 'codeType'] });
    expectError(await post({ code_type: 'ALPHANUM', max_uses: 2, useLimit: 2 }), 400, 'field_spelled_twice', { fields: ['max_uses', 'useLimit'] });
    expectError(await post({ code_type: 'ALPHANUM', exclude_chars: 'A', excludeChars: ['A'] }), 400, 'field_spelled_twice');
    expectError(await post({ code_type: 'ALPHANUM', validDays: 3, expires_at: '2099-01-01T00:00:00Z' }), 400, 'field_spelled_twice', { fields: ['expires_at', 'validDays'] });
    expectError(await post({}), 400, 'invalid_request', { field: 'code_type' });
    expectError(await t.call('POST', `/v1/campaigns/${campaignId}/redeem-codes`, { count: 1, codeType: 'ALPHANUM' }), 400, 'invalid_request', { field: 'reward_id' });
    expectError(await post({ codeType: 'PIN' }), 400, 'invalid_request');
  });
});

describe('reward rules (rewardRules): what a redemption grants, by user tag', () => {
  async function ruleBatch(t: TenantFixture, count = 5) {
    const { campaignId, rewardId } = await codeCampaign(t, { points: 7 });
    const tpl = await couponTemplate(t);
    const batch = must(
      await t.call('POST', `/v1/campaigns/${campaignId}/redeem-codes`, {
        count,
        ruleId: 'invite_reward_2023',
        codeType: 'RANDOM_ALPHANUM',
        length: 12,
        validDays: 30,
        useLimit: 1,
        rewardRules: [
          { type: 'COUPON', id: tpl.template_id, condition: { userTag: 'invited_user' } },
          { type: 'REWARD', id: rewardId, condition: { userTag: 'vip' } },
        ],
      }),
      201,
    ).body;
    return { batch, rewardId, templateId: tpl.template_id };
  }

  it('grants what the matching rules say: a coupon for invited_user, points for vip, both for both', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch, rewardId, templateId } = await ruleBatch(t);
    expect(batch).toMatchObject({ reward_id: null, reward_rules: [{ type: 'COUPON', id: templateId }, { type: 'REWARD', id: rewardId }] });
    must(await t.call('PUT', '/v1/customers/inv', { tags: ['invited_user'] }), 201);
    must(await t.call('PUT', '/v1/customers/both', { tags: ['invited_user', 'vip'] }), 201);
    const inv = must(await docRedeem(t, { code: batch.codes[0], userId: 'inv' }), 201).body;
    expect(inv).toMatchObject({ message: '核销成功', grant: null, redemption: { reward_id: null, grant_id: null }, granted: [{ type: 'COUPON', id: templateId }] });
    expect(inv.granted[0].coupon_id).toEqual(expect.any(String));
    const both = must(await t.call('POST', '/v1/redeem', { code: batch.codes[1], user_id: 'both' }), 201).body;
    expect(both.granted.map((g: { type: string }) => g.type)).toEqual(['COUPON', 'REWARD']);
    expect(await pointsOf(t, 'both')).toBe(7);
    const wallet = must(await t.call('GET', '/v1/coupons', undefined, { query: { user_id: 'both' } }), 200).body;
    expect(JSON.stringify(wallet)).toContain(templateId);
    expectError(await docRedeem(t, { code: batch.codes[1], userId: 'inv' }), 409, 'code_already_redeemed');
  });

  it('refuses a user no rule matches with 403 no_reward_rule_matched and writes nothing', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await ruleBatch(t);
    must(await t.call('PUT', '/v1/customers/plain', { tags: ['other'] }), 201);
    expectError(await docRedeem(t, { code: batch.codes[0], userId: 'plain' }), 403, 'no_reward_rule_matched', { user_id: 'plain' });
    expectError(await docRedeem(t, { code: batch.codes[0], userId: 'nobody' }), 403, 'no_reward_rule_matched');
    const code = must(await t.call('GET', `/v1/redeem-codes/${batch.codes[0]}`), 200).body;
    expect(code).toMatchObject({ status: 'ACTIVE', uses: 0 });
    expect(must(await t.call('GET', '/v1/redemptions', undefined, { query: { batch_id: batch.batch_id } }), 200).body.pagination.total).toBe(0);
    // The code still works for a user a rule matches.
    must(await t.call('PUT', '/v1/customers/inv', { tags: ['invited_user'] }), 201);
    must(await docRedeem(t, { code: batch.codes[0], userId: 'inv' }), 201);
  });

  it('refuses rules naming unknown templates or rewards, and both reward_id and rules', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t);
    const post = (body: Record<string, unknown>) => t.call('POST', `/v1/campaigns/${campaignId}/redeem-codes`, { count: 1, codeType: 'ALPHANUM', ...body });
    expectError(await post({ rewardRules: [{ type: 'COUPON', id: 'cpt_nope' }] }), 400, 'unknown_coupon_template', { field: 'reward_rules/0/id' });
    expectError(await post({ rewardRules: [{ type: 'REWARD', id: 'rwd_nope' }] }), 400, 'unknown_reward', { field: 'reward_rules/0/id' });
    expectError(await post({ reward_id: rewardId, rewardRules: [{ type: 'REWARD', id: rewardId }] }), 400, 'invalid_request', { field: 'reward_id' });
    expectError(await post({ reward_rules: [{ type: 'REWARD', id: rewardId }], rewardRules: [{ type: 'REWARD', id: rewardId }] }), 400, 'field_spelled_twice');
    expect((await post({ rewardRules: [{ type: 'POINTS', id: rewardId }] })).status).toBe(400);
    // A rule without a condition applies to everyone.
    const open = must(await post({ rewardRules: [{ type: 'REWARD', id: rewardId }] }), 201).body;
    must(await docRedeem(t, { code: open.codes[0], userId: 'anyone' }), 201);
    expect(await pointsOf(t, 'anyone')).toBe(10);
  });
});

describe('extra_data on batches and codes', () => {
  it('is kept on the batch and on a code at assignment, shown in views and the CSV export; capped', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 2, extra_data: { channel: 'CH_123', note: '渠道' } });
    expect(batch.extra_data).toEqual({ channel: 'CH_123', note: '渠道' });
    expect(must(await t.call('GET', `/v1/redeem-code-batches/${batch.batch_id}`), 200).body.extra_data).toEqual({ channel: 'CH_123', note: '渠道' });
    const assigned = must(await t.call('POST', `/v1/redeem-codes/${batch.codes[0]}/assign`, { user_id: 'u1', extra_data: { order: 'o-1' } }), 200).body;
    expect(assigned.extra_data).toEqual({ order: 'o-1' });
    expect(must(await t.call('GET', `/v1/redeem-codes/${batch.codes[1]}`), 200).body.extra_data).toBeNull();
    const csv = await app.app.inject({ method: 'GET', url: '/v1/redeem-codes/export', query: { batch_id: batch.batch_id }, headers: { authorization: `Bearer ${t.service}` } });
    expect(csv.statusCode).toBe(200);
    expect(csv.body).toContain('"{""order"":""o-1""}"');
    const big = { blob: 'x'.repeat(5000) };
    const { campaignId, rewardId } = await codeCampaign(t);
    expectError(await createBatch(t, campaignId, { reward_id: rewardId, extra_data: big }), 400, 'extra_data_too_large', { max_bytes: 4096 });
    expectError(await t.call('POST', `/v1/redeem-codes/${batch.codes[1]}/assign`, { user_id: 'u2', extra_data: big }), 400, 'extra_data_too_large');
    expect((await createBatch(t, campaignId, { reward_id: rewardId, extra_data: [1, 2] })).status).toBe(400);
  });
});

describe('marketing_codes_generated_total', () => {
  it('counts generated codes by code_type and mode (sync, async), never by campaign', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const read = async () => String(must(await app.call('GET', '/metrics', undefined, { key: null }), 200).body);
    const value = (text: string, labels: string) => Number(new RegExp(`^marketing_codes_generated_total\\{${labels}\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    const before = await read();
    const { campaignId, rewardId } = await codeCampaign(t);
    must(await createBatch(t, campaignId, { reward_id: rewardId, count: 7, code_type: 'RANDOM_NUM', length: 16 }), 201);
    const big = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 10_001, code_type: 'UUID', length: undefined }), 202).body;
    await app.app.services.redeemBatches.runBatch(t.tenantId, big.batch_id);
    const after = await read();
    expect(value(after, 'code_type="RANDOM_NUM",mode="sync"') - value(before, 'code_type="RANDOM_NUM",mode="sync"')).toBe(7);
    expect(value(after, 'code_type="UUID",mode="async"') - value(before, 'code_type="UUID",mode="async"')).toBe(10_001);
    expect(after).not.toMatch(/marketing_codes_generated_total\{[^}]*campaign_id/);
  });
});
