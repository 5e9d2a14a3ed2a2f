import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { campaignBody } from '../../../test/helpers/factories.js';
import { expectError, redeem } from '../../../test/helpers/redeem-code-helpers.js';
import { must, type TestApp, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';

/** A tenant made a CHANNEL by the master, with a reward of no campaign (any campaign's codes may grant it). */
async function channel(app: TestApp, quota?: { daily_limit: number | null; total_limit: number | null }) {
  const t = await app.newTenant();
  must(await app.call('PUT', `/v1/tenants/${t.tenantId}`, { tenant_type: 'CHANNEL' }), 200);
  if (quota) must(await app.call('PUT', `/v1/tenants/${t.tenantId}/code-quota`, quota), 200);
  const reward = must(
    await t.call('POST', '/v1/rewards', { reward_name: 'Partner points', reward_type: 'POINTS', product_code: t.productCode, total_stock: null, config: { generator: { points: 5 } } }),
    201,
  ).body as { reward_id: string };
  return { t, rewardId: reward.reward_id };
}

const partnerBody = (t: TenantFixture, rewardId: string, codes: Record<string, unknown> = {}, campaign: Record<string, unknown> = {}) => ({
  campaign: campaignBody({ product_code: t.productCode, campaign_name: 'Channel campaign', ...campaign }),
  redeem_codes: { reward_id: rewardId, code_type: 'ALPHANUM', length: 12, count: 3, ...codes },
});

async function counts(app: TestApp, tenantId: string) {
  const { rows } = await sql<{ campaigns: number; batches: number; codes: number }>`
    select (select count(*)::int from campaign where tenant_id = ${tenantId}) as campaigns,
           (select count(*)::int from redeem_code_batch where tenant_id = ${tenantId}) as batches,
           (select count(*)::int from redeem_code where tenant_id = ${tenantId}) as codes`.execute(app.database.db);
  return rows[0]!;
}

describe('POST /v1/partner/campaigns (the channel partner flow)', () => {
  it('creates the campaign and its codes in one request and answers the quota left; the codes redeem', async () => {
    const app = await testApp();
    const { t, rewardId } = await channel(app, { daily_limit: 100, total_limit: 10 });
    const res = must(await t.call('POST', '/v1/partner/campaigns', partnerBody(t, rewardId, { count: 4 })), 201).body;
    expect(res.campaign).toMatchObject({ tenant_id: t.tenantId, campaign_name: 'Channel campaign', status: 'DRAFT' });
    expect(res.batch).toMatchObject({ campaign_id: res.campaign.campaign_id, reward_id: rewardId, total: 4, generated: 4, status: 'DONE' });
    expect(res.batch.codes).toHaveLength(4);
    expect(res.quota).toMatchObject({ used_total: 4, remaining_total: 6, remaining_today: 96 });
    must(await t.call('POST', `/v1/campaigns/${res.campaign.campaign_id}/publish`), 200);
    must(await redeem(t, { code: res.batch.codes[0], user_id: 'u1' }), 201);
  });

  it('answers quota null for a channel without a quota, 403 for a PLATFORM tenant; refusals write nothing', async () => {
    const app = await testApp();
    const { t, rewardId } = await channel(app);
    expect(must(await t.call('POST', '/v1/partner/campaigns', partnerBody(t, rewardId)), 201).body.quota).toBeNull();

    const platform = await app.newTenant();
    const res = await platform.call('POST', '/v1/partner/campaigns', partnerBody(platform, 'rw_x'));
    expectError(res, 403, 'tenant_not_channel', { tenant_type: 'PLATFORM' });
    expect(await counts(app, platform.tenantId)).toEqual({ campaigns: 0, batches: 0, codes: 0 });

    const limited = await channel(app, { daily_limit: null, total_limit: 2 });
    expectError(await limited.t.call('POST', '/v1/partner/campaigns', partnerBody(limited.t, limited.rewardId, { count: 3 })), 409, 'code_quota_exceeded', { limit: 'total', remaining: 2 });
    expectError(await limited.t.call('POST', '/v1/partner/campaigns', partnerBody(limited.t, 'no_such_reward')), 400, 'unknown_reward');
    expect(await counts(app, limited.t.tenantId)).toEqual({ campaigns: 0, batches: 0, codes: 0 });
    // A read-only key may not; the master key is no tenant.
    expect((await t.call('POST', '/v1/partner/campaigns', partnerBody(t, rewardId), { key: t.readonly })).status).toBe(403);
    expectError(await app.call('POST', '/v1/partner/campaigns', partnerBody(t, rewardId)), 403, 'tenant_key_required');
  });

  it('an Idempotency-Key retry answers the first result and charges nothing again', async () => {
    const app = await testApp();
    const { t, rewardId } = await channel(app, { daily_limit: null, total_limit: 100 });
    const headers = { 'idempotency-key': `partner-${t.tenantId}` };
    const first = must(await t.call('POST', '/v1/partner/campaigns', partnerBody(t, rewardId), { headers }), 201).body;
    const again = must(await t.call('POST', '/v1/partner/campaigns', partnerBody(t, rewardId), { headers }), 201).body;
    expect(again).toEqual(first);
    expect(await counts(app, t.tenantId)).toEqual({ campaigns: 1, batches: 1, codes: 3 });
    expect(must(await t.call('GET', `/v1/tenants/${t.tenantId}/code-quota`), 200).body.used_total).toBe(3);
  });

  it('hundreds of parallel partner requests create exactly what the quota allows', async () => {
    const app = await testApp();
    const { t, rewardId } = await channel(app, { daily_limit: 50, total_limit: 1000 });
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => t.call('POST', '/v1/partner/campaigns', partnerBody(t, rewardId, { count: 1 }, { campaign_name: `c${i}` }))));
    expect(replies.filter((r) => r.status !== 201 && r.status !== 429).map((r) => r.body)).toEqual([]);
    expect(replies.filter((r) => r.status === 201)).toHaveLength(50);
    expect(replies.filter((r) => r.status === 429).every((r) => r.body.error.code === 'code_quota_exceeded')).toBe(true);
    expect(await counts(app, t.tenantId)).toEqual({ campaigns: 50, batches: 50, codes: 50 });
  });
});
