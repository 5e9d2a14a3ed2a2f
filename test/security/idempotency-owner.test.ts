import { describe, expect, it } from 'vitest';
import { newCampaign } from '../helpers/factories.js';
import { expectError } from '../helpers/redeem-code-helpers.js';
import { must, type TenantFixture, testApp } from '../helpers/test-app.js';

/** A tenant with products p1 and p2, and a service key limited to p1. */
async function twoProducts() {
  const app = await testApp();
  const t = await app.newTenant({ productCodes: ['p1', 'p2'] });
  const limited = must(await app.call('POST', `/v1/tenants/${t.tenantId}/api-keys`, { name: 'p1 only', role: 'service', product_codes: ['p1'] }), 201).body.key as string;
  return { app, t, limited };
}

async function p2Reward(t: TenantFixture) {
  const campaign = await newCampaign(t, { product_code: 'p2' });
  must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`), 200);
  const body = { reward_name: 'R', reward_type: 'POINTS', product_code: 'p2', campaign_id: campaign.campaign_id, total_stock: 10, config: { generator: { points: 5 } } };
  return { campaignId: campaign.campaign_id as string, rewardId: must(await t.call('POST', '/v1/rewards', body), 201).body.reward_id as string };
}

describe("an Idempotency-Key belongs to the API key that used it", () => {
  it("a p1-limited key resending an admin's p2 grant (same key and body) does not get the stored grant", async () => {
    const { t, limited } = await twoProducts();
    const { rewardId } = await p2Reward(t);
    const body = { reward_id: rewardId, user_id: 'u1' };
    const headers = { 'idempotency-key': `grant-${t.tenantId}` };
    const first = must(await t.call('POST', '/v1/reward-grants', body, { key: t.admin, headers }), 201).body;
    const replay = await t.call('POST', '/v1/reward-grants', body, { key: limited, headers });
    expect(replay.headers['idempotent-replayed']).toBeUndefined();
    expect(JSON.stringify(replay.body)).not.toContain(first.grant_id);
    expectError(replay, 422, 'idempotency_key_reused');
    // The admin still gets its own answer back.
    const again = must(await t.call('POST', '/v1/reward-grants', body, { key: t.admin, headers }), 201);
    expect(again.body).toEqual(first);
  });

  it("a readonly key resending an admin's POST /v1/tenants/{id}/api-keys learns nothing of the new key", async () => {
    const { app, t } = await twoProducts();
    const url = `/v1/tenants/${t.tenantId}/api-keys`;
    const body = { name: 'second admin', role: 'admin' };
    const headers = { 'idempotency-key': `keys-${t.tenantId}` };
    const created = must(await app.call('POST', url, body, { key: t.admin, headers }), 201).body;
    const replay = await app.call('POST', url, body, { key: t.readonly, headers });
    // Authorization first: refused for its role, as it would be without the Idempotency-Key.
    expectError(replay, 403, 'insufficient_role');
    expect(JSON.stringify(replay.body)).not.toContain(created.key_id);
    expect(JSON.stringify(replay.body)).not.toContain(created.prefix);
  });

  it('the same key and body from another key of the same role is refused the same way as a different body (no oracle)', async () => {
    const { app, t } = await twoProducts();
    const other = must(await app.call('POST', `/v1/tenants/${t.tenantId}/api-keys`, { name: 'svc2', role: 'service' }), 201).body.key as string;
    const headers = { 'idempotency-key': `camp-${t.tenantId}` };
    const body = { campaign_name: 'C', campaign_type: 'PROMOTION', product_code: 'p1' };
    must(await t.call('POST', '/v1/campaigns', body, { headers }), 201);
    const sameBody = await t.call('POST', '/v1/campaigns', body, { key: other, headers });
    const otherBody = await t.call('POST', '/v1/campaigns', { ...body, campaign_name: 'D' }, { key: other, headers });
    expectError(sameBody, 422, 'idempotency_key_reused');
    expect({ ...sameBody.body, requestId: null }).toEqual({ ...otherBody.body, requestId: null });
    expect((await t.call('GET', '/v1/campaigns')).body.pagination.total).toBe(1);
  });

  it('the master key is one actor: its retry replays its own answer', async () => {
    const app = await testApp();
    const headers = { 'idempotency-key': `tenant-${Date.now()}` };
    const body = { tenant_id: `t_m${Date.now()}`, name: 'M' };
    const first = must(await app.call('POST', '/v1/tenants', body, { headers }), 201);
    const again = must(await app.call('POST', '/v1/tenants', body, { headers }), 201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
  });
});
