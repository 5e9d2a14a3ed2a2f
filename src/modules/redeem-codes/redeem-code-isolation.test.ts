import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { codeCampaign, createBatch, expectError, newBatch, pointsOf, redeem } from '../../../test/helpers/redeem-code-helpers.js';
import { must, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';

/** Every redeem-code route, as another tenant (or a key of another product) would call it. */
async function expectInvisible(outsider: TenantFixture, own: { campaignId: string; rewardId: string }, target: { campaignId: string; rewardId: string; batchId: string; code: string }) {
  expectError(await createBatch(outsider, target.campaignId, { reward_id: own.rewardId }), 404, 'campaign_not_found');
  expectError(await createBatch(outsider, own.campaignId, { reward_id: target.rewardId }), 400, 'unknown_reward');
  expectError(await outsider.call('GET', `/v1/redeem-code-batches/${target.batchId}`), 404, 'batch_not_found');
  expectError(await outsider.call('POST', `/v1/redeem-code-batches/${target.batchId}/void`), 404, 'batch_not_found');
  expectError(await outsider.call('GET', '/v1/redeem-codes/export', undefined, { query: { batch_id: target.batchId } }), 404, 'batch_not_found');
  // code_not_found: one message and details shape on every route (the code as asked for).
  const notFound = [
    await outsider.call('GET', `/v1/redeem-codes/${target.code}`),
    await outsider.call('POST', `/v1/redeem-codes/${target.code}/assign`, { user_id: 'x' }),
    await outsider.call('POST', `/v1/redeem-codes/${target.code}/void`),
    await redeem(outsider, { code: target.code, user_id: 'thief' }),
  ];
  for (const res of notFound) {
    expectError(res, 404, 'code_not_found');
    expect({ message: res.body.error.message, details: res.body.error.details }).toEqual({ message: 'No such code', details: { code: target.code } });
  }
  const queries: Record<string, string>[] = [{ batch_id: target.batchId }, { campaign_id: target.campaignId }, { user_id: 'owner' }];
  for (const query of queries) {
    expect(must(await outsider.call('GET', '/v1/redeem-codes', undefined, { query }), 200).body.pagination.total, JSON.stringify(query)).toBe(0);
    expect(must(await outsider.call('GET', '/v1/redemptions', undefined, { query }), 200).body.pagination.total, JSON.stringify(query)).toBe(0);
  }
  expect(must(await outsider.call('GET', '/v1/redemptions', undefined, { query: { code: target.code } }), 200).body.pagination.total).toBe(0);
}

describe('tenants are walls', () => {
  it('another tenant can neither see nor change nor redeem a code, on any route', async () => {
    const app = await testApp();
    const a = await app.newTenant();
    const b = await app.newTenant();
    const { batch, campaignId, rewardId } = await newBatch(a, { count: 3 });
    must(await redeem(a, { code: batch.codes[0], user_id: 'owner' }), 201);
    const own = await codeCampaign(b);
    await expectInvisible(b, own, { campaignId, rewardId, batchId: batch.batch_id, code: batch.codes[1]! });
    // Untouched on A's side.
    expect(must(await a.call('GET', `/v1/redeem-codes/${batch.codes[1]}`), 200).body).toMatchObject({ status: 'ACTIVE', uses: 0, assigned_user_id: null });
    expect(must(await a.call('GET', `/v1/redeem-code-batches/${batch.batch_id}`), 200).body.status).toBe('DONE');
    must(await redeem(a, { code: batch.codes[1], user_id: 'owner2' }), 201);
  });

  it('the same code may exist in two tenants; each redeems its own', async () => {
    const app = await testApp();
    const a = await app.newTenant();
    const b = await app.newTenant();
    const inA = await newBatch(a, { count: 1, code_type: 'RANDOM_NUM', length: 16 });
    const inB = await newBatch(b, { count: 1, code_type: 'RANDOM_NUM', length: 16 });
    const code = inA.batch.codes[0]!;
    // Make B's code the same string (the unique index is per tenant).
    await sql`update redeem_code set code = ${code} where tenant_id = ${b.tenantId} and batch_id = ${inB.batch.batch_id}`.execute(app.database.db);
    const redeemedInB = must(await redeem(b, { code, user_id: 'u1' }), 201).body;
    expect(redeemedInB.redemption.batch_id).toBe(inB.batch.batch_id);
    expect(redeemedInB.grant.reward_id).toBe(inB.rewardId);
    expect(must(await a.call('GET', `/v1/redeem-codes/${code}`), 200).body).toMatchObject({ status: 'ACTIVE', uses: 0 });
    const redeemedInA = must(await redeem(a, { code, user_id: 'u1' }), 201).body;
    expect(redeemedInA.redemption.batch_id).toBe(inA.batch.batch_id);
    expect([await pointsOf(a, 'u1'), await pointsOf(b, 'u1')]).toEqual([10, 10]);
  });

  it('a key limited to another product line does not see the batch', async () => {
    const app = await testApp();
    const a = await app.newTenant({ productCodes: ['app1', 'mini'] });
    const { batch, campaignId, rewardId } = await newBatch(a, { count: 2 });
    const miniKey = must(await app.call('POST', `/v1/tenants/${a.tenantId}/api-keys`, { name: 'mini only', role: 'service', product_codes: ['mini'] }), 201).body.key;
    const mini: TenantFixture = { ...a, productCode: 'mini', call: (m, u, body, o = {}) => a.call(m, u, body, { ...o, key: o.key === undefined ? miniKey : o.key }) };
    const own = await codeCampaign(mini);
    await expectInvisible(mini, own, { campaignId, rewardId, batchId: batch.batch_id, code: batch.codes[0]! });
  });
});
