import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../platform/clock.js';
import { codeCampaign, createBatch, expectError } from '../../../test/helpers/redeem-code-helpers.js';
import { must, type TestApp, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';
import { localDay, nextDayStart } from './code-quota.js';

const setQuota = (app: TestApp, t: TenantFixture, body: Record<string, unknown>) => app.call('PUT', `/v1/tenants/${t.tenantId}/code-quota`, body);

async function batchesOf(app: TestApp, tenantId: string): Promise<{ batches: number; codes: number }> {
  const { rows } = await sql<{ batches: number; codes: number }>`
    select (select count(*)::int from redeem_code_batch where tenant_id = ${tenantId}) as batches,
           (select count(*)::int from redeem_code where tenant_id = ${tenantId}) as codes`.execute(app.database.db);
  return rows[0]!;
}

describe('tenant type', () => {
  it('is PLATFORM by default, CHANNEL when the master says so; create, update, get and list show it', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    expect(must(await app.call('GET', `/v1/tenants/${t.tenantId}`), 200).body.tenant_type).toBe('PLATFORM');
    const id = `ch_${t.tenantId}`;
    expect(must(await app.call('POST', '/v1/tenants', { tenant_id: id, name: 'Channel', tenant_type: 'CHANNEL' }), 201).body.tenant_type).toBe('CHANNEL');
    const updated = must(await app.call('PUT', `/v1/tenants/${t.tenantId}`, { tenant_type: 'CHANNEL' }), 200).body;
    expect(updated).toMatchObject({ tenant_id: t.tenantId, tenant_type: 'CHANNEL', name: `Tenant ${t.tenantId}` });
    // The tenant's own key sees it, and cannot change it.
    expect(must(await t.call('GET', `/v1/tenants/${t.tenantId}`), 200).body.tenant_type).toBe('CHANNEL');
    expect((await t.call('PUT', `/v1/tenants/${t.tenantId}`, { tenant_type: 'PLATFORM' }, { key: t.admin })).status).toBe(403);
    const channels = must(await app.call('GET', '/v1/tenants', undefined, { query: { tenant_type: 'CHANNEL', page_size: 100 } }), 200).body;
    expect(channels.tenants.every((x: { tenant_type: string }) => x.tenant_type === 'CHANNEL')).toBe(true);
    expect(channels.tenants.map((x: { tenant_id: string }) => x.tenant_id)).toEqual(expect.arrayContaining([id, t.tenantId]));
    expectError(await app.call('PUT', `/v1/tenants/${t.tenantId}`, { tenant_type: 'RESELLER' }), 400, 'invalid_request');
    expectError(await app.call('PUT', '/v1/tenants/no_such_tenant_x', { name: 'x' }), 404, 'tenant_not_found');
  });
});

describe('code quota', () => {
  it('is set by the master, shown to the tenant, charged per batch, and refuses past a limit with nothing written', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    expectError(await t.call('GET', `/v1/tenants/${t.tenantId}/code-quota`), 404, 'code_quota_not_found');
    expect((await t.call('PUT', `/v1/tenants/${t.tenantId}/code-quota`, { daily_limit: 1, total_limit: 1 }, { key: t.admin })).status).toBe(403);
    const set = must(await setQuota(app, t, { daily_limit: 5, total_limit: 8 }), 200).body;
    expect(set).toMatchObject({ daily_limit: 5, total_limit: 8, time_zone: 'Asia/Shanghai', used_today: 0, used_total: 0, remaining_today: 5, remaining_total: 8 });
    const { campaignId, rewardId } = await codeCampaign(t);
    must(await createBatch(t, campaignId, { reward_id: rewardId, count: 3 }), 201);
    expect(must(await t.call('GET', `/v1/tenants/${t.tenantId}/code-quota`, undefined, { key: t.readonly }), 200).body).toMatchObject({
      used_today: 3,
      used_total: 3,
      remaining_today: 2,
      remaining_total: 5,
    });
    const before = await batchesOf(app, t.tenantId);
    const refused = await createBatch(t, campaignId, { reward_id: rewardId, count: 3 });
    expectError(refused, 429, 'code_quota_exceeded', { limit: 'daily', requested: 3, remaining: 2, remaining_today: 2, remaining_total: 5 });
    expect(refused.body.error.message).toContain('2 left');
    expect(await batchesOf(app, t.tenantId)).toEqual(before);
    must(await createBatch(t, campaignId, { reward_id: rewardId, count: 2 }), 201);
    expect(must(await t.call('GET', `/v1/tenants/${t.tenantId}/code-quota`), 200).body).toMatchObject({ used_today: 5, remaining_today: 0, remaining_total: 3 });
    // Removing the quota lifts it.
    expect((await app.call('DELETE', `/v1/tenants/${t.tenantId}/code-quota`)).status).toBe(204);
    must(await createBatch(t, campaignId, { reward_id: rewardId, count: 4 }), 201);
    expectError(await app.call('PUT', `/v1/tenants/${t.tenantId}/code-quota`, { daily_limit: 1, total_limit: null, time_zone: 'Mars/Olympus' }), 400, 'invalid_request');
  });

  it('the day restarts at local midnight of its zone; the total does not; a voided batch gives nothing back', async () => {
    const clock = new ManualClock('2026-03-10T15:00:00Z'); // 23:00 in Shanghai
    const app = await testApp({ clock });
    const t = await app.newTenant();
    must(await setQuota(app, t, { daily_limit: 4, total_limit: 10 }), 200);
    const { campaignId, rewardId } = await codeCampaign(t);
    const first = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 4 }), 201).body;
    const late = await createBatch(t, campaignId, { reward_id: rewardId, count: 1 });
    expectError(late, 429, 'code_quota_exceeded', { limit: 'daily', remaining: 0, resets_at: '2026-03-10T16:00:00.000Z' });
    must(await t.call('POST', `/v1/redeem-code-batches/${first.batch_id}/void`), 200);
    expectError(await createBatch(t, campaignId, { reward_id: rewardId, count: 1 }), 429, 'code_quota_exceeded');
    clock.set('2026-03-10T16:00:00Z'); // 00:00 on the 11th in Shanghai
    must(await createBatch(t, campaignId, { reward_id: rewardId, count: 4 }), 201);
    expect(must(await t.call('GET', `/v1/tenants/${t.tenantId}/code-quota`), 200).body).toMatchObject({ day: '2026-03-11', used_today: 4, used_total: 8, remaining_total: 2 });
    clock.set('2026-03-12T01:00:00Z');
    const total = await createBatch(t, campaignId, { reward_id: rewardId, count: 3 });
    expectError(total, 409, 'code_quota_exceeded', { limit: 'total', remaining: 2, remaining_total: 2, remaining_today: 4, resets_at: null });
    must(await createBatch(t, campaignId, { reward_id: rewardId, count: 2 }), 201);
    expect(must(await t.call('GET', `/v1/tenants/${t.tenantId}/code-quota`), 200).body).toMatchObject({ used_total: 10, remaining_total: 0 });
  });

  it('hundreds of parallel batches use exactly the quota', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    must(await setQuota(app, t, { daily_limit: 100, total_limit: 61 }), 200);
    const { campaignId, rewardId } = await codeCampaign(t);
    const replies = await Promise.all(Array.from({ length: 300 }, () => createBatch(t, campaignId, { reward_id: rewardId, count: 2 })));
    const ok = replies.filter((r) => r.status === 201);
    const refused = replies.filter((r) => r.status === 409);
    expect(replies.filter((r) => r.status !== 201 && r.status !== 409).map((r) => r.body)).toEqual([]);
    expect(ok).toHaveLength(30);
    expect(refused.every((r) => r.body.error.code === 'code_quota_exceeded')).toBe(true);
    expect(await batchesOf(app, t.tenantId)).toEqual({ batches: 30, codes: 60 });
    expect(must(await t.call('GET', `/v1/tenants/${t.tenantId}/code-quota`), 200).body).toMatchObject({ used_total: 60, used_today: 60, remaining_total: 1 });
  });

  it('the day is counted in its zone, to the minute', () => {
    expect(localDay(new Date('2026-03-10T16:00:00Z'), 'Asia/Shanghai')).toBe('2026-03-11');
    expect(nextDayStart(new Date('2026-03-10T15:59:30Z'), 'Asia/Shanghai').toISOString()).toBe('2026-03-10T16:00:00.000Z');
    expect(nextDayStart(new Date('2026-03-10T12:00:00Z'), 'Asia/Kathmandu').toISOString()).toBe('2026-03-10T18:15:00.000Z');
    expect(nextDayStart(new Date('2026-03-08T05:00:00Z'), 'America/New_York').toISOString()).toBe('2026-03-09T04:00:00.000Z');
  });
});
