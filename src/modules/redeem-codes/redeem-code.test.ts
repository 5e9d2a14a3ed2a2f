import { describe, expect, it } from 'vitest';
import { codeCampaign, createBatch, expectError, newBatch, pointsOf, redeem } from '../../../test/helpers/redeem-code-helpers.js';
import { must, testApp } from '../../../test/helpers/test-app.js';

describe('POST /v1/campaigns/{id}/redeem-codes', () => {
  it('makes a small batch at once: 201 with the batch and its codes in display form', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t);
    const reply = must(
      await createBatch(t, campaignId, { reward_id: rewardId, count: 50, code_type: 'ALPHANUM', length: 12, prefix: 'vip', group_size: 4, check_char: true }),
      201,
    );
    const batch = reply.body;
    expect(batch).toMatchObject({ campaign_id: campaignId, reward_id: rewardId, status: 'DONE', total: 50, generated: 50, prefix: 'VIP', max_uses: 1, check_char: true, group_size: 4 });
    expect(batch.entropy_bits).toBeCloseTo(12 * Math.log2(31), 1);
    expect(batch.codes).toHaveLength(50);
    expect(new Set(batch.codes).size).toBe(50);
    for (const code of batch.codes) expect(code).toMatch(/^VIP-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]$/);
    expect(must(await t.call('GET', `/v1/redeem-code-batches/${batch.batch_id}`), 200).body).toMatchObject({ status: 'DONE', generated: 50, total: 50 });
    const listed = must(await t.call('GET', '/v1/redeem-codes', undefined, { query: { batch_id: batch.batch_id, page_size: 100 } }), 200).body;
    expect(listed.pagination.total).toBe(50);
    expect(listed.redeem_codes.map((c: { code: string }) => c.code).sort()).toEqual([...batch.codes].sort());
  });

  it('makes every code type', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t);
    const num = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 5, code_type: 'RANDOM_NUM', length: 16 }), 201).body;
    expect(num.codes.every((c: string) => /^\d{16}$/.test(c))).toBe(true);
    const mixed = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 5, code_type: 'ALPHANUM_MIXED', length: 10 }), 201).body;
    expect(mixed.codes.every((c: string) => /^[A-Za-z2-9]{10}$/.test(c))).toBe(true);
    const uuid = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 5, code_type: 'UUID', length: undefined }), 201).body;
    expect(uuid.codes.every((c: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(c))).toBe(true);
    expect(uuid).toMatchObject({ length: 32, entropy_bits: 122 });
  });

  it('refuses a guessable batch with the entropy and the length needed, and bad options', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t);
    const reply = await createBatch(t, campaignId, { reward_id: rewardId, count: 1000, code_type: 'RANDOM_NUM', length: 6 });
    expectError(reply, 400, 'code_space_too_small', { field: 'length', needed_length: 9, entropy_bits: 19.93 });
    expectError(await createBatch(t, campaignId, { reward_id: rewardId, code_type: 'ALPHANUM', length: 3 }), 400, 'invalid_request');
    expectError(await createBatch(t, campaignId, { reward_id: rewardId, code_type: 'ALPHANUM', exclude_chars: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345678' }), 400, 'invalid_request', { field: 'exclude_chars' });
    expectError(await createBatch(t, campaignId, { reward_id: rewardId, code_type: 'PIN' }), 400, 'invalid_request');
    expectError(await createBatch(t, campaignId, { reward_id: rewardId, expires_at: '2000-01-01T00:00:00Z' }), 400, 'invalid_request', { field: 'expires_at' });
    expectError(await createBatch(t, campaignId, { reward_id: 'rwd_nope' }), 400, 'unknown_reward', { field: 'reward_id' });
    expectError(await createBatch(t, campaignId, { reward_id: rewardId, applicable_products: ['nope'] }), 400, 'unknown_product_code');
    expectError(await createBatch(t, 'cmp_nope', { reward_id: rewardId }), 404, 'campaign_not_found');
    // A reward of another campaign would grant under the wrong campaign.
    const other = await codeCampaign(t);
    expectError(await createBatch(t, campaignId, { reward_id: other.rewardId }), 400, 'reward_campaign_mismatch');
    // Nothing half-written: no batch was left behind by any refusal.
    const listed = must(await t.call('GET', '/v1/redeem-codes', undefined, { query: { campaign_id: campaignId } }), 200).body;
    expect(listed.pagination.total).toBe(0);
  });

  it('hands a large batch to a job: 202, then progress to DONE', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t);
    const reply = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 10_001, code_type: 'ALPHANUM', length: 12 }), 202);
    expect(reply.body).toMatchObject({ status: 'PENDING', generated: 0, total: 10_001 });
    expect(reply.body.codes).toBeUndefined();
    const services = app.app.services;
    await services.redeemBatches.runBatch(t.tenantId, reply.body.batch_id);
    const done = must(await t.call('GET', `/v1/redeem-code-batches/${reply.body.batch_id}`), 200).body;
    expect(done).toMatchObject({ status: 'DONE', generated: 10_001 });
    const listed = must(await t.call('GET', '/v1/redeem-codes', undefined, { query: { batch_id: reply.body.batch_id, page_size: 1 } }), 200).body;
    expect(listed.pagination.total).toBe(10_001);
  });
});

describe('POST /v1/redeem', () => {
  it('redeems a code once: the redemption and the grant, points credited; again is code_already_redeemed', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch, rewardId, campaignId } = await newBatch(t, { count: 3, group_size: 4 });
    const code = batch.codes[0]!;
    const reply = must(await redeem(t, { code, user_id: 'u1', client_ip: '203.0.113.9' }, { 'x-product-code': t.productCode }), 201);
    expect(reply.body.redemption).toMatchObject({ code, user_id: 'u1', reward_id: rewardId, campaign_id: campaignId, product_code: t.productCode, client_ip: '203.0.113.9' });
    expect(reply.body.grant).toMatchObject({ reward_id: rewardId, user_id: 'u1', status: 'DELIVERED', source: 'redeem_code', source_id: reply.body.redemption.code_id });
    expect(reply.body.redemption.grant_id).toBe(reply.body.grant.grant_id);
    expect(await pointsOf(t, 'u1')).toBe(10);
    expectError(await redeem(t, { code, user_id: 'u1' }), 409, 'code_already_redeemed');
    expectError(await redeem(t, { code, user_id: 'u2' }), 409, 'code_already_redeemed');
    expect(await pointsOf(t, 'u1')).toBe(10);
    expect(must(await t.call('GET', `/v1/redeem-codes/${code}`), 200).body).toMatchObject({ status: 'REDEEMED', uses: 1 });
    // The caller's address when the body names none.
    const second = must(await redeem(t, { code: batch.codes[1], user_id: 'u3' }), 201).body;
    expect(second.redemption.client_ip).toBe('127.0.0.1');
    expect(second.redemption.product_code).toBeNull();
  });

  it('accepts the code without dashes, with spaces, in lower case', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 3, group_size: 4, prefix: 'GO', check_char: true });
    must(await redeem(t, { code: batch.codes[0]!.replaceAll('-', ''), user_id: 'u1' }), 201);
    must(await redeem(t, { code: batch.codes[1]!.toLowerCase(), user_id: 'u1' }), 201);
    must(await redeem(t, { code: ` ${batch.codes[2]!.replaceAll('-', ' ')} `, user_id: 'u1' }), 201);
  });

  it('mixed-case codes are case-sensitive', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 20, code_type: 'ALPHANUM_MIXED', length: 12 });
    const code = batch.codes.find((c) => /[a-z]/.test(c))!;
    expectError(await redeem(t, { code: code.toUpperCase(), user_id: 'u1' }), 404, 'code_not_found');
    must(await redeem(t, { code, user_id: 'u1' }), 201);
  });

  it('refuses a mistyped code by its check character, and a code of no known shape, without reading the code table', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 1, code_type: 'ALPHANUM', length: 10, check_char: true });
    const code = batch.codes[0]!;
    const alphabet = batch.alphabet as string;
    const i = alphabet.indexOf(code[3]!);
    const typo = code.slice(0, 3) + alphabet[(i + 1) % alphabet.length] + code.slice(4);
    // Count the statements that touch the code table while the refusals run: patched on the
    // executors' prototype, so the transactions' executors (new objects) are counted too.
    const statements: string[] = [];
    let proto = Object.getPrototypeOf(app.database.db.getExecutor());
    while (proto && !Object.prototype.hasOwnProperty.call(proto, 'executeQuery')) proto = Object.getPrototypeOf(proto);
    const original = proto.executeQuery;
    proto.executeQuery = function (this: unknown, compiled: { sql: string }, ...rest: unknown[]) {
      if (/\bredeem_code\b(?!_)/.test(compiled.sql)) statements.push(compiled.sql);
      return original.call(this, compiled, ...rest);
    };
    try {
      expectError(await redeem(t, { code: typo, user_id: 'u1' }), 400, 'code_mistyped', { field: 'code' });
      expectError(await redeem(t, { code: 'NOTACODE', user_id: 'u1' }), 404, 'code_not_found');
      expect(statements).toEqual([]);
      // The counter does see the code table when a code is real (so the empty list above means something).
      must(await redeem(t, { code, user_id: 'u1' }), 201);
      expect(statements.length).toBeGreaterThan(0);
    } finally {
      proto.executeQuery = original;
    }
  });

  it('a multi-use code: each user once, up to max_uses', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 1, max_uses: 2 });
    const code = batch.codes[0]!;
    const first = must(await redeem(t, { code, user_id: 'u1' }), 201).body;
    expect(first.grant.source_id).toBe(`${first.redemption.code_id}/u1`);
    expectError(await redeem(t, { code, user_id: 'u1' }), 409, 'code_already_redeemed');
    expect(must(await t.call('GET', `/v1/redeem-codes/${code}`), 200).body).toMatchObject({ status: 'ACTIVE', uses: 1 });
    must(await redeem(t, { code, user_id: 'u2' }), 201);
    expectError(await redeem(t, { code, user_id: 'u3' }), 409, 'code_already_redeemed');
    expect(must(await t.call('GET', `/v1/redeem-codes/${code}`), 200).body).toMatchObject({ status: 'REDEEMED', uses: 2 });
    expect([await pointsOf(t, 'u1'), await pointsOf(t, 'u2'), await pointsOf(t, 'u3')]).toEqual([10, 10, 0]);
  });

  it('an assigned code is redeemed by its user only', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 2 });
    const [code, other] = batch.codes;
    const assigned = must(await t.call('POST', `/v1/redeem-codes/${code}/assign`, { user_id: 'alice' }), 200).body;
    expect(assigned).toMatchObject({ assigned_user_id: 'alice', status: 'ACTIVE' });
    must(await t.call('POST', `/v1/redeem-codes/${code}/assign`, { user_id: 'alice' }), 200);
    expectError(await t.call('POST', `/v1/redeem-codes/${code}/assign`, { user_id: 'bob' }), 409, 'code_already_assigned');
    expectError(await redeem(t, { code, user_id: 'bob' }), 403, 'code_not_assigned_to_user');
    must(await redeem(t, { code, user_id: 'alice' }), 201);
    expectError(await t.call('POST', `/v1/redeem-codes/${code}/assign`, { user_id: 'alice' }), 409, 'code_already_redeemed');
    must(await redeem(t, { code: other, user_id: 'bob' }), 201);
    const mine = must(await t.call('GET', '/v1/redeem-codes', undefined, { query: { user_id: 'alice' } }), 200).body;
    expect(mine.redeem_codes.map((c: { code: string }) => c.code)).toEqual([code]);
  });

  it('codes for some products only: product from the header or the body', async () => {
    const app = await testApp();
    const t = await app.newTenant({ productCodes: ['app1', 'mini'] });
    const { batch } = await newBatch(t, { count: 4, applicable_products: ['mini'] });
    const [a, b, c, d] = batch.codes;
    expectError(await redeem(t, { code: a, user_id: 'u1' }), 403, 'product_not_applicable', { applicable_products: ['mini'] });
    expectError(await redeem(t, { code: a, user_id: 'u1' }, { 'x-product-code': 'app1' }), 403, 'product_not_applicable');
    expectError(await redeem(t, { code: a, user_id: 'u1', product_code: 'app1' }, { 'x-product-code': 'mini' }), 400, 'product_code_mismatch');
    must(await redeem(t, { code: a, user_id: 'u1' }, { 'x-product-code': 'mini' }), 201);
    must(await redeem(t, { code: b, user_id: 'u1', product_code: 'mini' }), 201);
    expect(batch.applicable_products).toEqual(['mini']);
    // A key limited to app1 may not redeem in the name of mini.
    const limited = must(await app.call('POST', `/v1/tenants/${t.tenantId}/api-keys`, { name: 'app1 only', role: 'service', product_codes: ['app1'] }), 201).body.key;
    expectError(await redeem(t, { code: c, user_id: 'u1' }, { 'x-product-code': 'mini' }) && (await t.call('POST', '/v1/redeem', { code: c, user_id: 'u1' }, { key: limited, headers: { 'x-product-code': 'mini' } })), 403, 'product_not_allowed');
    must(await redeem(t, { code: d, user_id: 'u1' }, { 'x-product-code': 'mini' }), 201);
  });
});
