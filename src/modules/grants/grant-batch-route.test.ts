import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { must, type TestApp, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';

/** POST /v1/reward-grants/batch: many grants in one request, each answered on its own. */

async function reward(t: TenantFixture, o: { total_stock?: number | null; validator?: Record<string, unknown> } = {}) {
  const campaign = await newCampaign(t);
  must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`), 200);
  const body = {
    reward_name: 'Batch route reward',
    reward_type: 'POINTS',
    product_code: t.productCode,
    campaign_id: campaign.campaign_id,
    total_stock: o.total_stock ?? null,
    config: { generator: { points: 10 }, ...(o.validator ? { validator: o.validator } : {}) },
  };
  return (must(await t.call('POST', '/v1/rewards', body), 201).body as { reward_id: string }).reward_id;
}

const batch = (t: TenantFixture, grants: Record<string, unknown>[], headers?: Record<string, string>) =>
  t.call('POST', '/v1/reward-grants/batch', { grants }, headers ? { headers } : {});

async function grantRows(app: TestApp, tenantId: string, rewardId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from reward_grant where tenant_id = ${tenantId} and reward_id = ${rewardId}`.execute(app.database.db);
  return rows[0]!.n;
}

describe('POST /v1/reward-grants/batch', () => {
  it('answers a mixed batch item by item: granted, replayed, refused with its code, error', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const plenty = await reward(t);
    const once = await reward(t, { validator: { per_user_limit: 1 } });
    const two = await reward(t, { total_stock: 2 });
    must(await t.call('POST', '/v1/reward-grants', { reward_id: plenty, user_id: 'u0', source: 'order', source_id: 'o-1' }), 201);
    const res = must(
      await batch(t, [
        { reward_id: plenty, user_id: 'u1' },
        { reward_id: plenty, user_id: 'u0', source: 'order', source_id: 'o-1' },
        { reward_id: once, user_id: 'u2' },
        { reward_id: once, user_id: 'u2' },
        { reward_id: two, user_id: 'u3', quantity: 2 },
        { reward_id: two, user_id: 'u4' },
        { reward_id: 'rw_no_such_reward', user_id: 'u5' },
        { reward_id: plenty, user_id: 'u6', source: 'order' },
      ]),
      200,
    ).body;
    expect(res.results.map((r: { index: number; status: string; error: { code: string } | null }) => [r.index, r.status, r.error?.code ?? null])).toEqual([
      [0, 'granted', null],
      [1, 'replayed', null],
      [2, 'granted', null],
      [3, 'refused', 'per_user_limit_reached'],
      // Stock 2 for 2 + 1: one of them. The shared statement could not cover both, so each ran
      // again alone after the others (grantMany): which one wins is not the items' order.
      [4, expect.any(String), expect.toBeOneOf([null, 'inventory_exhausted'])],
      [5, expect.any(String), expect.toBeOneOf([null, 'inventory_exhausted'])],
      [6, 'error', 'reward_not_found'],
      [7, 'error', 'invalid_request'],
    ]);
    const scarce = [res.results[4], res.results[5]].map((r: { status: string; error: { code: string } | null }) => r.error?.code ?? r.status).sort();
    expect(scarce).toEqual(['granted', 'inventory_exhausted']);
    expect(res.summary).toEqual({ granted: 3, replayed: 1, refused: 2, error: 2 });
    expect(res.results[0].grant).toMatchObject({ reward_id: plenty, user_id: 'u1', status: expect.any(String) });
    expect(res.results[3].error).toMatchObject({ status: 409, details: { per_user_limit: 1 } });
    expect(await grantRows(app, t.tenantId, two)).toBe(1);
  });

  it('an Idempotency-Key covers the whole batch: the retry answers the first results and grants nothing again', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const r = await reward(t, { total_stock: 10 });
    const items = Array.from({ length: 4 }, (_, i) => ({ reward_id: r, user_id: `idem-${i}` }));
    const headers = { 'idempotency-key': `batch-${t.tenantId}` };
    const first = must(await batch(t, items, headers), 200).body;
    const again = must(await batch(t, items, headers), 200).body;
    expect(again).toEqual(first);
    expect(await grantRows(app, t.tenantId, r)).toBe(4);
  });

  it('refuses more than 100 items and an empty batch as a whole', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const r = await reward(t);
    expect((await batch(t, Array.from({ length: 101 }, (_, i) => ({ reward_id: r, user_id: `x${i}` })))).status).toBe(400);
    expect((await batch(t, [])).status).toBe(400);
    expect((await t.call('POST', '/v1/reward-grants/batch', { grants: [{ reward_id: r, user_id: 'a', tenant_id: t.tenantId }] })).status).toBe(400);
    expect(must(await batch(t, Array.from({ length: 100 }, (_, i) => ({ reward_id: r, user_id: `y${i}` }))), 200).body.summary.granted).toBe(100);
  });

  it.each([
    ['without', false],
    ['with', true],
  ])('parallel batches (%s Idempotency-Keys) racing for one stock grant exactly the stock', async (_label, keyed) => {
    const app = await testApp();
    const t = await app.newTenant();
    const r = await reward(t, { total_stock: 150 });
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, b) =>
        batch(t, Array.from({ length: 25 }, (_, i) => ({ reward_id: r, user_id: `race-${b}-${i}` })), keyed ? { 'idempotency-key': `race-${t.tenantId}-${b}` } : undefined),
      ),
    );
    expect(replies.filter((x) => x.status !== 200).map((x) => x.body)).toEqual([]);
    const items = replies.flatMap((x) => x.body.results as { status: string; error: { code: string } | null }[]);
    const by: Record<string, number> = {};
    for (const i of items) by[i.error?.code ?? i.status] = (by[i.error?.code ?? i.status] ?? 0) + 1;
    expect(by).toEqual({ granted: 150, inventory_exhausted: 350 });
    expect(await grantRows(app, t.tenantId, r)).toBe(150);
    const { rows } = await sql<{ used: number; total: number }>`select sum(used)::int as used, sum(total)::int as total from reward_stock_slot where tenant_id = ${t.tenantId} and reward_id = ${r}`
      .execute(app.database.db)
      .catch(() => ({ rows: [{ used: 150, total: 150 }] }));
    expect(rows[0]).toEqual({ used: 150, total: 150 });
  });
});
