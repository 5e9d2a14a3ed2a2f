/**
 * Redemptions of batches with reward rules under parallel requests: the code's uses, the
 * per-user once and the grants hold exactly, and a refusal leaves nothing behind.
 */
import { describe, expect, it } from 'vitest';
import { codeCampaign, pointsOf } from '../../../test/helpers/redeem-code-helpers.js';
import { must, testApp, type TenantFixture } from '../../../test/helpers/test-app.js';

async function ruleBatch(t: TenantFixture, body: Record<string, unknown>) {
  const { campaignId, rewardId } = await codeCampaign(t, { points: 3 });
  const batch = must(
    await t.call('POST', `/v1/campaigns/${campaignId}/redeem-codes`, { count: 1, codeType: 'ALPHANUM', length: 12, rewardRules: [{ type: 'REWARD', id: rewardId }], ...body }),
    201,
  ).body;
  return { batch, rewardId };
}

describe('reward-rule redemptions in parallel', () => {
  it('200 users at one single-use code: exactly one redemption, one grant', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await ruleBatch(t, {});
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => t.call('POST', '/api/redeem', { code: batch.codes[0], userId: `r${i}` })));
    const ok = replies.filter((r) => r.status === 201);
    expect(ok).toHaveLength(1);
    for (const r of replies.filter((x) => x.status !== 201)) expect(r.body.error.code).toBe('code_already_redeemed');
    const list = must(await t.call('GET', '/v1/redemptions', undefined, { query: { batch_id: batch.batch_id } }), 200).body;
    expect(list.pagination.total).toBe(1);
    expect(await pointsOf(t, ok[0]!.body.redemption.user_id)).toBe(3);
  }, 120_000);

  it('a code of 50 uses, 200 users: exactly 50; one user 10 times in parallel (under its attempt limits): once', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await ruleBatch(t, { useLimit: 50, count: 2 });
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => t.call('POST', '/v1/redeem', { code: batch.codes[0], user_id: `m${i}` })));
    expect(replies.filter((r) => r.status === 201)).toHaveLength(50);
    expect(must(await t.call('GET', `/v1/redeem-codes/${batch.codes[0]}`), 200).body).toMatchObject({ uses: 50, status: 'REDEEMED' });
    const same = await Promise.all(Array.from({ length: 10 }, () => t.call('POST', '/v1/redeem', { code: batch.codes[1], user_id: 'one' })));
    expect(same.filter((r) => r.status === 201)).toHaveLength(1);
    for (const r of same.filter((x) => x.status !== 201)) expect(r.body.error.code).toBe('code_already_redeemed');
    expect(await pointsOf(t, 'one')).toBe(3);
    expect(must(await t.call('GET', `/v1/redeem-codes/${batch.codes[1]}`), 200).body.uses).toBe(1);
  }, 120_000);

  it('a refused grant (stock out) undoes the code use and the redemption', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t, { points: 3, total_stock: 1 });
    const batch = must(await t.call('POST', `/v1/campaigns/${campaignId}/redeem-codes`, { count: 2, codeType: 'ALPHANUM', length: 12, rewardRules: [{ type: 'REWARD', id: rewardId }] }), 201).body;
    must(await t.call('POST', '/api/redeem', { code: batch.codes[0], userId: 'a' }), 201);
    const refused = await t.call('POST', '/api/redeem', { code: batch.codes[1], userId: 'b' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('inventory_exhausted');
    expect(must(await t.call('GET', `/v1/redeem-codes/${batch.codes[1]}`), 200).body).toMatchObject({ uses: 0, status: 'ACTIVE' });
    expect(must(await t.call('GET', '/v1/redemptions', undefined, { query: { batch_id: batch.batch_id } }), 200).body.pagination.total).toBe(1);
  });
});
