import { describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { metricValue } from '../../../test/helpers/grant-helpers.js';
import { must, type Reply, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';

/**
 * Parallel requests against one reward: limits and stock hold exactly. On PostgreSQL these run
 * truly concurrently over the pool; on PGlite they interleave on its one connection.
 */

async function newReward(t: TenantFixture, o: { total_stock?: number | null; validator?: Record<string, unknown>; points?: number } = {}) {
  const campaign = await newCampaign(t);
  must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`), 200);
  const body = {
    reward_name: 'Hot reward',
    reward_type: 'POINTS',
    product_code: t.productCode,
    campaign_id: campaign.campaign_id,
    total_stock: o.total_stock === undefined ? null : o.total_stock,
    config: { generator: { points: o.points ?? 10 }, ...(o.validator ? { validator: o.validator } : {}) },
  };
  return must(await t.call('POST', '/v1/rewards', body), 201).body as { reward_id: string };
}

const grant = (t: TenantFixture, body: Record<string, unknown>) => t.call('POST', '/v1/reward-grants', body);
const stockOf = async (t: TenantFixture, rewardId: string) => must(await t.call('GET', `/v1/rewards/${rewardId}`), 200).body.stock;

async function points(t: TenantFixture, userId: string): Promise<number> {
  const body = must(await t.call('GET', `/v1/users/${userId}/balances`), 200).body;
  return (body.balances as { asset: string; balance: number }[]).find((b) => b.asset === 'POINTS')!.balance;
}

async function grantsOf(t: TenantFixture, query: Record<string, string>) {
  const all: Record<string, any>[] = [];
  for (let page = 1; ; page++) {
    const body = must(await t.call('GET', '/v1/reward-grants', undefined, { query: { ...query, page, page_size: 500 } }), 200).body;
    all.push(...body.grants);
    if (all.length >= body.pagination.total) return all;
  }
}

/** Status -> how many replies had it; error code -> how many. */
function tally(replies: Reply[]) {
  const statuses: Record<number, number> = {};
  const errorCodes: Record<string, number> = {};
  for (const r of replies) {
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.status >= 400) errorCodes[r.body?.error?.code ?? 'none'] = (errorCodes[r.body?.error?.code ?? 'none'] ?? 0) + 1;
  }
  return { statuses, errorCodes };
}

describe('grants under concurrency', () => {
  it('100 parallel grants from one user, per_user_limit 3: exactly 3 granted, 97 per_user_limit_reached', async () => {
    const t = await (await testApp()).newTenant();
    const reward = await newReward(t, { validator: { per_user_limit: 3 }, points: 10 });
    const replies = await Promise.all(Array.from({ length: 100 }, () => grant(t, { reward_id: reward.reward_id, user_id: 'u1' })));
    expect(tally(replies)).toEqual({ statuses: { 201: 3, 409: 97 }, errorCodes: { per_user_limit_reached: 97 } });
    expect(await points(t, 'u1')).toBe(30);
    const rows = await grantsOf(t, { reward_id: reward.reward_id });
    expect(rows).toHaveLength(3);
    expect(new Set(rows.map((g) => g.grant_id))).toEqual(new Set(replies.filter((r) => r.status === 201).map((r) => r.body.grant_id)));
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: null, reserved: 0, used: 3, available: null });
    const ledger = must(await t.call('GET', '/v1/users/u1/ledger'), 200).body;
    expect(ledger.pagination.total).toBe(3);
  });

  it('300 parallel grants, some users twice, on unlimited stock: every grant once, balances exact, no group commit failed', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const reward = await newReward(t, { points: 5 });
    const failed = async () => metricValue((await app.call('GET', '/metrics', undefined, { key: null })).body as string, 'marketing_reward_grant_batch_failed_total', {}) || 0;
    const before = await failed();
    // 300 requests for 200 users (the first 100 twice): on PostgreSQL they share group commits
    // (one mh_grant_set call each), where one account may take several grants of one batch.
    const users = Array.from({ length: 300 }, (_, i) => `user-${i % 200}`);
    const replies = await Promise.all(users.map((user_id, i) => grant(t, { reward_id: reward.reward_id, user_id, source: 'test', source_id: `req-${i}` })));
    expect(tally(replies)).toEqual({ statuses: { 201: 300 }, errorCodes: {} });
    expect(await failed()).toBe(before);
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: null, reserved: 0, used: 300, available: null });
    expect(await grantsOf(t, { reward_id: reward.reward_id })).toHaveLength(300);
    for (const user of ['user-0', 'user-99', 'user-100', 'user-199']) expect(await points(t, user)).toBe(user === 'user-100' || user === 'user-199' ? 5 : 10);
    const ledger = must(await t.call('GET', '/v1/users/user-7/ledger'), 200).body;
    expect(ledger.entries.map((e: { balance_after: number }) => e.balance_after).sort((a: number, b: number) => a - b)).toEqual([5, 10]);
  });

  it('300 parallel grants from distinct users on a stock of 50: exactly 50 granted, 250 inventory_exhausted', async () => {
    const t = await (await testApp()).newTenant();
    const reward = await newReward(t, { total_stock: 50, points: 5 });
    const users = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    const replies = await Promise.all(users.map((user_id) => grant(t, { reward_id: reward.reward_id, user_id })));
    expect(tally(replies)).toEqual({ statuses: { 201: 50, 409: 250 }, errorCodes: { inventory_exhausted: 250 } });
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: 50, reserved: 0, used: 50, available: 0 });
    const rows = await grantsOf(t, { reward_id: reward.reward_id });
    expect(rows).toHaveLength(50);
    const winners = replies.map((r, i) => (r.status === 201 ? users[i]! : null)).filter((u): u is string => u !== null);
    expect(new Set(rows.map((g) => g.user_id))).toEqual(new Set(winners));
    // Every winner got the points once; a few losers got nothing.
    for (const user of winners.slice(0, 10)) expect(await points(t, user)).toBe(5);
    for (const user of users.filter((u) => !winners.includes(u)).slice(0, 10)) expect(await points(t, user)).toBe(0);
  });

  it('parallel grants of 1 to 3 units asking for more than the stock never over-issue', async () => {
    const t = await (await testApp()).newTenant();
    const reward = await newReward(t, { total_stock: 40, points: 1 });
    const requests = Array.from({ length: 60 }, (_, i) => ({ user_id: `m-${i}`, quantity: 1 + (i % 3) }));
    const replies = await Promise.all(requests.map((r) => grant(t, { reward_id: reward.reward_id, ...r })));
    const { statuses, errorCodes } = tally(replies);
    expect(Object.keys(statuses).sort()).toEqual(['201', '409']);
    expect(Object.keys(errorCodes)).toEqual(['inventory_exhausted']);
    const grantedUnits = replies.reduce((sum, r, i) => sum + (r.status === 201 ? requests[i]!.quantity : 0), 0);
    expect(grantedUnits).toBeLessThanOrEqual(40);
    // Demand was 120: at most 2 units can be left over (a 3-unit request refused for 2 left).
    expect(grantedUnits).toBeGreaterThanOrEqual(38);
    const stock = await stockOf(t, reward.reward_id);
    expect(stock).toEqual({ total: 40, reserved: 0, used: grantedUnits, available: 40 - grantedUnits });
    const rows = await grantsOf(t, { reward_id: reward.reward_id });
    expect(rows.reduce((sum, g) => sum + (g.quantity as number), 0)).toBe(grantedUnits);
    for (const [i, r] of replies.entries()) {
      if (r.status === 201) expect(r.body.payload).toEqual({ points: requests[i]!.quantity });
    }
  });

  it('100 parallel grants with the same (source, source_id): exactly one grant, the rest answer it with 200', async () => {
    const t = await (await testApp()).newTenant();
    const reward = await newReward(t, { total_stock: 10, points: 7 });
    const body = { reward_id: reward.reward_id, user_id: 'u1', source: 'order', source_id: 'order-1' };
    const replies = await Promise.all(Array.from({ length: 100 }, () => grant(t, body)));
    expect(tally(replies).statuses).toEqual({ 200: 99, 201: 1 });
    const ids = new Set(replies.map((r) => r.body.grant_id));
    expect(ids.size).toBe(1);
    const rows = await grantsOf(t, { reward_id: reward.reward_id });
    expect(rows).toHaveLength(1);
    expect(rows[0]!.grant_id).toBe([...ids][0]);
    expect(await points(t, 'u1')).toBe(7);
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: 10, reserved: 0, used: 1, available: 9 });
  });

  it('100 parallel grants of one cause for different users: one grant, the rest source_already_used', async () => {
    const t = await (await testApp()).newTenant();
    const reward = await newReward(t, { total_stock: 10 });
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => grant(t, { reward_id: reward.reward_id, user_id: `u${i}`, source: 'referral', source_id: 'ref-1' })),
    );
    expect(tally(replies)).toEqual({ statuses: { 201: 1, 409: 99 }, errorCodes: { source_already_used: 99 } });
    expect(await stockOf(t, reward.reward_id)).toMatchObject({ used: 1 });
  });

  it('parallel reservations and grants against one stock never exceed its total', async () => {
    const t = await (await testApp()).newTenant();
    const reward = await newReward(t, { total_stock: 60, points: 1 });
    const reservations = Array.from({ length: 40 }, (_, i) => ({ quantity: 1 + (i % 2), user_id: `r-${i}` }));
    const grants = Array.from({ length: 60 }, (_, i) => ({ user_id: `g-${i}` }));
    const calls: Promise<{ kind: 'reserve' | 'grant'; quantity: number; reply: Reply }>[] = [];
    // Interleave the two kinds so they really compete.
    for (let i = 0; i < 60; i++) {
      calls.push(grant(t, { reward_id: reward.reward_id, ...grants[i]! }).then((reply) => ({ kind: 'grant' as const, quantity: 1, reply })));
      const r = reservations[i];
      if (r) calls.push(t.call('POST', '/v1/inventory/reserve', { reward_id: reward.reward_id, ...r }).then((reply) => ({ kind: 'reserve' as const, quantity: r.quantity, reply })));
    }
    const results = await Promise.all(calls);
    for (const { reply } of results) {
      if (reply.status !== 201) expectErrorCode(reply, 409, 'inventory_exhausted');
    }
    const heldUnits = results.filter((r) => r.kind === 'reserve' && r.reply.status === 201).reduce((s, r) => s + r.quantity, 0);
    const grantedUnits = results.filter((r) => r.kind === 'grant' && r.reply.status === 201).length;
    expect(heldUnits + grantedUnits).toBeLessThanOrEqual(60);
    expect(heldUnits + grantedUnits).toBeGreaterThanOrEqual(59);
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: 60, reserved: heldUnits, used: grantedUnits, available: 60 - heldUnits - grantedUnits });

    // Confirm every reservation in parallel: the held units become used, nothing more.
    const held = results.filter((r) => r.kind === 'reserve' && r.reply.status === 201).map((r) => r.reply.body.reservation_id as string);
    const confirmed = await Promise.all(held.map((id) => t.call('POST', `/v1/inventory/${id}/confirm`)));
    expect(confirmed.every((r) => r.status === 200)).toBe(true);
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: 60, reserved: 0, used: heldUnits + grantedUnits, available: 60 - heldUnits - grantedUnits });
    expect(await grantsOf(t, { reward_id: reward.reward_id })).toHaveLength(grantedUnits);
  });
});

function expectErrorCode(reply: Reply, status: number, code: string) {
  expect({ status: reply.status, code: reply.body?.error?.code }, JSON.stringify(reply.body)).toEqual({ status, code });
}
