import { describe, expect, it } from 'vitest';
import { metricValue } from '../../../test/helpers/grant-helpers.js';
import { codeCampaign, createBatch, expectError, newBatch, pointsOf, redeem } from '../../../test/helpers/redeem-code-helpers.js';
import { must, type Reply, testApp } from '../../../test/helpers/test-app.js';
import { ManualClock } from '../../platform/clock.js';

function tally(replies: Reply[]) {
  const out: Record<string, number> = {};
  for (const r of replies) {
    const key = r.status < 400 ? String(r.status) : `${r.status} ${r.body?.error?.code}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/**
 * Parallel redemptions: on PostgreSQL they run truly concurrently over the pool; on PGlite they
 * interleave on its one connection.
 */
describe('redemptions under parallel load', () => {
  it('300 parallel redemptions of one code: exactly one wins, the rest code_already_redeemed', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 1 });
    const code = batch.codes[0]!;
    const replies = await Promise.all(Array.from({ length: 300 }, (_, i) => redeem(t, { code, user_id: `u${i}` })));
    expect(tally(replies)).toEqual({ 201: 1, '409 code_already_redeemed': 299 });
    const winner = replies.find((r) => r.status === 201)!.body.redemption.user_id as string;
    expect(await pointsOf(t, winner)).toBe(10);
    const grants = must(await t.call('GET', '/v1/reward-grants', undefined, { query: { reward_id: batch.reward_id, page_size: 500 } }), 200).body;
    expect(grants.pagination.total).toBe(1);
    const redemptions = must(await t.call('GET', '/v1/redemptions', undefined, { query: { batch_id: batch.batch_id } }), 200).body;
    expect(redemptions.pagination.total).toBe(1);
  });

  it('a multi-use code under parallel load: at most max_uses in all, each user at most once', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 1, max_uses: 50 });
    const code = batch.codes[0]!;
    // 100 users, each trying three times at once: 300 requests for 50 uses.
    const replies = await Promise.all(Array.from({ length: 300 }, (_, i) => redeem(t, { code, user_id: `u${i % 100}` })));
    expect(tally(replies)).toEqual({ 201: 50, '409 code_already_redeemed': 250 });
    const winners = replies.filter((r) => r.status === 201).map((r) => r.body.redemption.user_id as string);
    expect(new Set(winners).size).toBe(50);
    expect(must(await t.call('GET', `/v1/redeem-codes/${code}`), 200).body).toMatchObject({ status: 'REDEEMED', uses: 50 });
    const grants = must(await t.call('GET', '/v1/reward-grants', undefined, { query: { reward_id: batch.reward_id, page_size: 500 } }), 200).body;
    expect(grants.pagination.total).toBe(50);
    for (const user of winners.slice(0, 5)) expect(await pointsOf(t, user)).toBe(10);
  });

  it('the same user racing on a multi-use code gets it once', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 1, max_uses: 1000 });
    const replies = await Promise.all(Array.from({ length: 100 }, () => redeem(t, { code: batch.codes[0], user_id: 'same' })));
    // One user's 100 attempts also meet the per-user limit (30 per hour) and, after 10 refusals,
    // the lock-out: whatever is not the one success is refused as used or as rate limited.
    const { 201: won, '409 code_already_redeemed': used = 0, '429 rate_limited': limited = 0, ...other } = tally(replies);
    expect({ won, other, total: used + limited }).toEqual({ won: 1, other: {}, total: 99 });
    expect(await pointsOf(t, 'same')).toBe(10);
    expect(must(await t.call('GET', `/v1/redeem-codes/${batch.codes[0]}`), 200).body.uses).toBe(1);
  });
});

describe('redemption refusals and idempotency', () => {
  it('expiry follows the injected clock', async () => {
    const clock = new ManualClock('2030-01-01T00:00:00Z');
    const app = await testApp({ clock });
    try {
      const t = await app.newTenant();
      const { campaignId, rewardId } = await codeCampaign(t);
      const batch = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 2, expires_at: '2030-01-02T00:00:00Z' }), 201).body;
      must(await redeem(t, { code: batch.codes[0], user_id: 'u1' }), 201);
      clock.set('2030-01-02T00:00:00Z');
      expectError(await redeem(t, { code: batch.codes[1], user_id: 'u1' }), 409, 'code_expired', { expires_at: '2030-01-02T00:00:00.000Z' });
      expect(must(await t.call('GET', `/v1/redeem-codes/${batch.codes[1]}`), 200).body.status).toBe('EXPIRED');
      const expired = must(await t.call('GET', '/v1/redeem-codes', undefined, { query: { batch_id: batch.batch_id, status: 'EXPIRED' } }), 200).body;
      expect(expired.pagination.total).toBe(1);
      expectError(await t.call('POST', `/v1/redeem-codes/${batch.codes[1]}/assign`, { user_id: 'u2' }), 409, 'code_expired');
    } finally {
      await app.app.close();
    }
  });

  it('campaign not ACTIVE: paused campaigns refuse and nothing is used', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch, campaignId } = await newBatch(t, { count: 1 });
    must(await t.call('POST', `/v1/campaigns/${campaignId}/pause`), 200);
    expectError(await redeem(t, { code: batch.codes[0], user_id: 'u1' }), 409, 'campaign_not_active', { status: 'PAUSED' });
    expect(must(await t.call('GET', `/v1/redeem-codes/${batch.codes[0]}`), 200).body).toMatchObject({ status: 'ACTIVE', uses: 0 });
    must(await t.call('POST', `/v1/campaigns/${campaignId}/resume`), 200);
    must(await redeem(t, { code: batch.codes[0], user_id: 'u1' }), 201);
  });

  it('a refused grant (no stock) rolls the use back', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t, { total_stock: 1 });
    const batch = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 2 }), 201).body;
    must(await redeem(t, { code: batch.codes[0], user_id: 'u1' }), 201);
    expectError(await redeem(t, { code: batch.codes[1], user_id: 'u2' }), 409, 'inventory_exhausted');
    expect(must(await t.call('GET', `/v1/redeem-codes/${batch.codes[1]}`), 200).body).toMatchObject({ status: 'ACTIVE', uses: 0 });
    const redemptions = must(await t.call('GET', '/v1/redemptions', undefined, { query: { batch_id: batch.batch_id } }), 200).body;
    expect(redemptions.pagination.total).toBe(1);
  });

  it('voided codes and voided batches refuse', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 3 });
    const [a, b, c] = batch.codes;
    expect(must(await t.call('POST', `/v1/redeem-codes/${a}/void`), 200).body.status).toBe('VOIDED');
    expectError(await t.call('POST', `/v1/redeem-codes/${a}/void`), 409, 'code_voided');
    expectError(await redeem(t, { code: a, user_id: 'u1' }), 409, 'code_voided');
    must(await redeem(t, { code: b, user_id: 'u1' }), 201);
    expectError(await t.call('POST', `/v1/redeem-codes/${b}/void`), 409, 'code_already_redeemed');
    expect(must(await t.call('POST', `/v1/redeem-code-batches/${batch.batch_id}/void`), 200).body.status).toBe('VOIDED');
    expectError(await t.call('POST', `/v1/redeem-code-batches/${batch.batch_id}/void`), 409, 'batch_already_voided');
    expectError(await redeem(t, { code: c, user_id: 'u1' }), 409, 'code_voided');
    const voided = must(await t.call('GET', '/v1/redeem-codes', undefined, { query: { batch_id: batch.batch_id, status: 'VOIDED' } }), 200).body;
    expect(voided.pagination.total).toBe(3);
  });

  it('Idempotency-Key: the retry gets the first answer and redeems nothing new', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 1 });
    const headers = { 'idempotency-key': 'redeem-1' };
    const first = must(await redeem(t, { code: batch.codes[0], user_id: 'u1' }, headers), 201);
    const again = must(await redeem(t, { code: batch.codes[0], user_id: 'u1' }, headers), 201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await pointsOf(t, 'u1')).toBe(10);
    expectError(await redeem(t, { code: batch.codes[0], user_id: 'u2' }, headers), 422, 'idempotency_key_reused');
  });

  it('GET /v1/redemptions: who, what, when, product and address, with filters', async () => {
    const app = await testApp();
    const t = await app.newTenant({ productCodes: ['app1', 'mini'] });
    const { batch, campaignId } = await newBatch(t, { count: 3, group_size: 4 });
    must(await redeem(t, { code: batch.codes[0], user_id: 'u1', client_ip: '198.51.100.1' }, { 'x-product-code': 'mini' }), 201);
    must(await redeem(t, { code: batch.codes[1], user_id: 'u2' }, { 'x-product-code': 'app1' }), 201);
    const all = must(await t.call('GET', '/v1/redemptions', undefined, { query: { campaign_id: campaignId } }), 200).body;
    expect(all.pagination.total).toBe(2);
    expect(all.redemptions[0]).toMatchObject({ user_id: 'u2', product_code: 'app1' });
    const byUser = must(await t.call('GET', '/v1/redemptions', undefined, { query: { user_id: 'u1' } }), 200).body;
    expect(byUser.redemptions).toEqual([expect.objectContaining({ user_id: 'u1', product_code: 'mini', client_ip: '198.51.100.1', batch_id: batch.batch_id })]);
    const byProduct = must(await t.call('GET', '/v1/redemptions', undefined, { query: { product_code: 'app1' } }), 200).body;
    expect(byProduct.pagination.total).toBe(1);
    const byCode = must(await t.call('GET', '/v1/redemptions', undefined, { query: { code: batch.codes[0]!.toLowerCase() } }), 200).body;
    expect(byCode.redemptions.map((r: { user_id: string; code: string }) => [r.user_id, r.code])).toEqual([['u1', batch.codes[0]]]);
  });

  it('metrics: generated, redeemed and refusals by code', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const before = String(must(await app.call('GET', '/metrics', undefined, { key: null }), 200).body);
    const { batch } = await newBatch(t, { count: 7, code_type: 'RANDOM_NUM', length: 14 });
    must(await redeem(t, { code: batch.codes[0], user_id: 'u1' }), 201);
    expectError(await redeem(t, { code: batch.codes[0], user_id: 'u2' }), 409, 'code_already_redeemed');
    expectError(await redeem(t, { code: '0'.repeat(14), user_id: 'u2' }), 404, 'code_not_found');
    const after = String(must(await app.call('GET', '/metrics', undefined, { key: null }), 200).body);
    const delta = (name: string, labels: Record<string, string>) => metricValue(after, name, labels) - metricValue(before, name, labels);
    expect(delta('marketing_redeem_code_generated_total', { code_type: 'RANDOM_NUM' })).toBe(7);
    expect(delta('marketing_redeem_code_redeemed_total', { code_type: 'RANDOM_NUM' })).toBe(1);
    expect(delta('marketing_redeem_code_refused_total', { code: 'code_already_redeemed' })).toBe(1);
    expect(delta('marketing_redeem_code_refused_total', { code: 'code_not_found' })).toBe(1);
  });
});
