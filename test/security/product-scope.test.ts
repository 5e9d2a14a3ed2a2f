import { describe, expect, it } from 'vitest';
import { newCampaign } from '../helpers/factories.js';
import { expectError } from '../helpers/redeem-code-helpers.js';
import { must, type TenantFixture, testApp } from '../helpers/test-app.js';

async function rewardOf(t: TenantFixture, product: string) {
  const campaign = await newCampaign(t, { product_code: product });
  const body = { reward_name: `R ${product}`, reward_type: 'POINTS', product_code: product, campaign_id: campaign.campaign_id, total_stock: 10, config: { generator: { points: 5 } } };
  return must(await t.call('POST', '/v1/rewards', body), 201).body.reward_id as string;
}

describe('inventory reservations respect the key products', () => {
  it("a p1-limited key lists only p1's reservations and cannot see p2's by filter", async () => {
    const app = await testApp();
    const t = await app.newTenant({ productCodes: ['p1', 'p2'] });
    const limited = must(await app.call('POST', `/v1/tenants/${t.tenantId}/api-keys`, { name: 'p1', role: 'service', product_codes: ['p1'] }), 201).body.key as string;
    const r1 = await rewardOf(t, 'p1');
    const r2 = await rewardOf(t, 'p2');
    const mine = must(await t.call('POST', '/v1/inventory/reserve', { reward_id: r1, quantity: 1, user_id: 'user-p1' }), 201).body;
    const theirs = must(await t.call('POST', '/v1/inventory/reserve', { reward_id: r2, quantity: 1, user_id: 'user-p2' }), 201).body;

    const all = must(await t.call('GET', '/v1/inventory/reservations'), 200).body;
    expect(all.reservations.map((r: any) => r.reservation_id).sort()).toEqual([mine.reservation_id, theirs.reservation_id].sort());

    const seen = must(await t.call('GET', '/v1/inventory/reservations', undefined, { key: limited }), 200).body;
    expect(seen.reservations.map((r: any) => r.reservation_id)).toEqual([mine.reservation_id]);
    expect(seen.pagination.total).toBe(1);
    const byReward = must(await t.call('GET', '/v1/inventory/reservations', undefined, { key: limited, query: { reward_id: r2 } }), 200).body;
    expect(byReward.reservations).toEqual([]);
    const byUser = must(await t.call('GET', '/v1/inventory/reservations', undefined, { key: limited, query: { user_id: 'user-p2' } }), 200).body;
    expect(byUser.reservations).toEqual([]);
    expectError(await t.call('POST', `/v1/inventory/${theirs.reservation_id}/cancel`, undefined, { key: limited }), 404, 'reservation_not_found');
    must(await t.call('POST', `/v1/inventory/${mine.reservation_id}/confirm`, undefined, { key: limited }), 200);
  });
});
