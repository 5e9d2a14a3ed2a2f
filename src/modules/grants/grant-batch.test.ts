import { describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { metricValue } from '../../../test/helpers/grant-helpers.js';
import { must, type Reply, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';

/**
 * Group commit (grant.statement.ts) and the reward/campaign snapshot cache: parallel grants share
 * batches, each grant of a batch succeeds or is refused on its own, and a cached row never
 * changes an answer.
 */

async function reward(t: TenantFixture, o: { total_stock?: number | null; validator?: Record<string, unknown>; points?: number }) {
  const campaign = await newCampaign(t);
  must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`), 200);
  const body = {
    reward_name: 'Batch reward',
    reward_type: 'POINTS',
    product_code: t.productCode,
    campaign_id: campaign.campaign_id,
    total_stock: o.total_stock ?? null,
    config: { generator: { points: o.points ?? 10 }, ...(o.validator ? { validator: o.validator } : {}) },
  };
  const r = must(await t.call('POST', '/v1/rewards', body), 201).body as { reward_id: string };
  return { reward: r, campaign };
}

const grant = (t: TenantFixture, body: Record<string, unknown>) => t.call('POST', '/v1/reward-grants', body);

function codes(replies: Reply[]) {
  const out: Record<string, number> = {};
  for (const r of replies) {
    const k = r.status < 300 ? String(r.status) : r.body.error.code;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

async function balance(t: TenantFixture, userId: string): Promise<number> {
  const body = must(await t.call('GET', `/v1/users/${userId}/balances`), 200).body;
  return (body.balances as { asset: string; balance: number }[]).find((b) => b.asset === 'POINTS')?.balance ?? 0;
}

describe('grants: group commit', () => {
  it('parallel grants of three rewards share batches; each is granted or refused on its own', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const scarce = (await reward(t, { total_stock: 10 })).reward;
    const once = (await reward(t, { validator: { per_user_limit: 1 } })).reward;
    const open = (await reward(t, { points: 7 })).reward;
    const before = await app.call('GET', '/metrics', undefined, { key: null });
    const batchesBefore = metricValue(before.body as string, 'marketing_reward_grant_batch_size_count', {});
    const grantsBefore = metricValue(before.body as string, 'marketing_reward_grant_batch_size_sum', {});

    const requests = [
      ...Array.from({ length: 50 }, (_, i) => grant(t, { reward_id: scarce.reward_id, user_id: `s${i}` })),
      ...Array.from({ length: 30 }, () => grant(t, { reward_id: once.reward_id, user_id: 'same-user' })),
      ...Array.from({ length: 40 }, (_, i) => grant(t, { reward_id: open.reward_id, user_id: `o${i % 4}` })),
    ];
    const replies = await Promise.all(requests);
    expect(codes(replies.slice(0, 50))).toEqual({ 201: 10, inventory_exhausted: 40 });
    expect(codes(replies.slice(50, 80))).toEqual({ 201: 1, per_user_limit_reached: 29 });
    expect(codes(replies.slice(80))).toEqual({ 201: 40 });

    // Refused grants left nothing behind; granted ones are complete.
    const stock = must(await t.call('GET', `/v1/rewards/${scarce.reward_id}`), 200).body.stock;
    expect(stock).toMatchObject({ total: 10, used: 10, reserved: 0, available: 0 });
    expect(must(await t.call('GET', '/v1/reward-grants', undefined, { query: { reward_id: scarce.reward_id } }), 200).body.pagination.total).toBe(10);
    expect(await balance(t, 'same-user')).toBe(10);
    for (let u = 0; u < 4; u++) expect(await balance(t, `o${u}`)).toBe(70);
    // Entries written together at the end of a batch keep the account's order: each one's
    // balance_after and account_seq follow the one before it, newest first.
    const entries = must(await t.call('GET', '/v1/users/o0/ledger', undefined, { query: { page_size: 50 } }), 200).body.entries as { amount: number; balance_after: number }[];
    expect(entries.map((e) => e.balance_after)).toEqual([70, 63, 56, 49, 42, 35, 28, 21, 14, 7]);

    // Every statement went through a batch, and batches did carry several grants.
    const after = (await app.call('GET', '/metrics', undefined, { key: null })).body as string;
    const batches = metricValue(after, 'marketing_reward_grant_batch_size_count', {}) - batchesBefore;
    const statements = metricValue(after, 'marketing_reward_grant_batch_size_sum', {}) - grantsBefore;
    // At least every grant that was not turned away by the sold-out gate (40 + 30 + 10).
    expect(statements).toBeGreaterThanOrEqual(80);
    // On PostgreSQL the requests overlap, so batches form. PGlite runs each query to completion
    // on the event loop's thread, so there grants rarely meet in the queue; they still all go
    // through batches.
    if (process.env.MH_TEST_DB === 'postgres') expect(batches).toBeLessThan(statements);
    else expect(batches).toBeLessThanOrEqual(statements);
  });

  it('with an Idempotency-Key the grant runs in the request transaction, outside any batch, and replays', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { reward: r } = await reward(t, { total_stock: 5 });
    const headers = { 'idempotency-key': `k-${t.tenantId}` };
    const first = must(await t.call('POST', '/v1/reward-grants', { reward_id: r.reward_id, user_id: 'u1' }, { headers }), 201).body;
    const again = must(await t.call('POST', '/v1/reward-grants', { reward_id: r.reward_id, user_id: 'u1' }, { headers }), 201).body;
    expect(again.grant_id).toBe(first.grant_id);
    expect(must(await t.call('GET', `/v1/rewards/${r.reward_id}`), 200).body.stock.used).toBe(1);
  });
});

describe('grants: a refusal leaves nothing of the grant behind', () => {
  it('min_interval refusal comes after the stock take: the units go back', async () => {
    const t = await (await testApp()).newTenant();
    const { reward: r } = await reward(t, { total_stock: 5, validator: { min_interval_seconds: 3600 } });
    must(await grant(t, { reward_id: r.reward_id, user_id: 'u1' }), 201);
    const replies = await Promise.all(Array.from({ length: 20 }, () => grant(t, { reward_id: r.reward_id, user_id: 'u1' })));
    expect(codes(replies)).toEqual({ min_interval_not_elapsed: 20 });
    expect(must(await t.call('GET', `/v1/rewards/${r.reward_id}`), 200).body.stock).toMatchObject({ used: 1, available: 4 });
  });

  it('a refused grant with a cause releases the cause: it can grant once stock comes back', async () => {
    const t = await (await testApp()).newTenant();
    const { reward: r } = await reward(t, { total_stock: 1 });
    must(await grant(t, { reward_id: r.reward_id, user_id: 'u1' }), 201);
    const cause = { reward_id: r.reward_id, user_id: 'u2', source: 'order', source_id: 'o-9' };
    expect((await grant(t, cause)).body.error.code).toBe('inventory_exhausted');
    must(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { total_stock: 2 }), 200);
    const granted = must(await grant(t, cause), 201).body;
    expect(must(await grant(t, cause), 200).body.grant_id).toBe(granted.grant_id);
  });

  it('a per-user limit refusal undoes the count: the user still gets the grants the limit allows', async () => {
    const t = await (await testApp()).newTenant();
    const { reward: r } = await reward(t, { total_stock: 3, validator: { per_user_limit: 2 } });
    must(await grant(t, { reward_id: r.reward_id, user_id: 'u1' }), 201);
    must(await grant(t, { reward_id: r.reward_id, user_id: 'u2', quantity: 2 }), 201);
    // u1 counted 1 of 2; the stock (0 left) refuses, and the count must go back to 1.
    expect((await grant(t, { reward_id: r.reward_id, user_id: 'u1' })).body.error.code).toBe('inventory_exhausted');
    must(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { total_stock: 5 }), 200);
    must(await grant(t, { reward_id: r.reward_id, user_id: 'u1' }), 201);
    expect((await grant(t, { reward_id: r.reward_id, user_id: 'u1' })).body.error.code).toBe('per_user_limit_reached');
  });
});

describe('grants: cached reward and campaign rows never change an answer', () => {
  it('a reward changed after it was cached grants by its new config', async () => {
    const t = await (await testApp()).newTenant();
    const { reward: r } = await reward(t, { points: 10 });
    must(await grant(t, { reward_id: r.reward_id, user_id: 'u1' }), 201);
    const current = must(await t.call('GET', `/v1/rewards/${r.reward_id}`), 200).body;
    must(await t.call('PUT', `/v1/rewards/${r.reward_id}`, { config: { ...current.config, generator: { points: 25 } } }), 200);
    expect(must(await grant(t, { reward_id: r.reward_id, user_id: 'u2' }), 201).body.payload).toEqual({ points: 25 });
    expect(await balance(t, 'u2')).toBe(25);
  });

  it('a paused campaign refuses at once, and grants again as soon as it is resumed', async () => {
    const t = await (await testApp()).newTenant();
    const { reward: r, campaign } = await reward(t, {});
    must(await grant(t, { reward_id: r.reward_id, user_id: 'u1' }), 201);
    must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/pause`), 200);
    expect((await grant(t, { reward_id: r.reward_id, user_id: 'u2' })).body.error.code).toBe('campaign_not_active');
    must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/resume`), 200);
    must(await grant(t, { reward_id: r.reward_id, user_id: 'u3' }), 201);
  });

  it('a deleted reward is not found, though it was cached', async () => {
    const t = await (await testApp()).newTenant();
    const { reward: r } = await reward(t, {});
    must(await grant(t, { reward_id: r.reward_id, user_id: 'u1' }), 201);
    must(await t.call('DELETE', `/v1/rewards/${r.reward_id}`), 204);
    const reply = await grant(t, { reward_id: r.reward_id, user_id: 'u2' });
    expect(reply.status).toBe(404);
    expect(reply.body.error.code).toBe('reward_not_found');
  });
});
