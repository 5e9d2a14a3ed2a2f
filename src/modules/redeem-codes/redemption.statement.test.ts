import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { metricValue } from '../../../test/helpers/grant-helpers.js';
import { codeCampaign, createBatch, expectError, newBatch, redeem } from '../../../test/helpers/redeem-code-helpers.js';
import { must, type TestApp, testApp } from '../../../test/helpers/test-app.js';

/** A code's row as stored, by its display form's batch and position. */
async function codeRow(app: TestApp, tenantId: string, code: string) {
  const { rows } = await sql<{ status: string; uses: number; last_redeemed_at: Date | null }>`
    select status, uses, last_redeemed_at from redeem_code where tenant_id = ${tenantId} and code = ${code.replaceAll('-', '').toUpperCase()}`.execute(app.database.db);
  return rows[0];
}

async function batchMetrics(app: TestApp) {
  const body = (await app.call('GET', '/metrics', undefined, { key: null })).body as string;
  // Grants and redemptions each have their own group commits.
  const sum = (grants: string, redemptions: string) => (metricValue(body, grants, {}) || 0) + (metricValue(body, redemptions, {}) || 0);
  return {
    batches: sum('marketing_reward_grant_batch_size_count', 'marketing_redeem_code_batch_size_count'),
    items: sum('marketing_reward_grant_batch_size_sum', 'marketing_redeem_code_batch_size_sum'),
    failed: sum('marketing_reward_grant_batch_failed_total', 'marketing_redeem_code_batch_failed_total'),
  };
}

/**
 * A redemption is one statement (mh_redeem_batch, sql/mh_redeem_batch.sql): the use of the code, the grant and
 * the redemption row commit together or not at all, and under load redemptions share group
 * commits with each other (mh_redeem_batch), beside the grants' own.
 */
describe('redemption as one statement', () => {
  it('a grant refused after the use (per-user limit) leaves the code exactly as it was', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId } = await codeCampaign(t);
    const reward = must(
      await t.call('POST', '/v1/rewards', {
        reward_name: 'Once',
        reward_type: 'POINTS',
        product_code: t.productCode,
        campaign_id: campaignId,
        config: { generator: { points: 5 }, validator: { per_user_limit: 1 } },
      }),
      201,
    ).body;
    const batch = must(await createBatch(t, campaignId, { reward_id: reward.reward_id, count: 2 }), 201).body;
    const [first, second] = batch.codes as string[];
    must(await redeem(t, { code: first, user_id: 'u1' }), 201);
    const before = await codeRow(app, t.tenantId, second!);
    expectError(await redeem(t, { code: second, user_id: 'u1' }), 409, 'per_user_limit_reached');
    expect(await codeRow(app, t.tenantId, second!)).toEqual(before);
    expect(before).toEqual({ status: 'ACTIVE', uses: 0, last_redeemed_at: null });
    // Another user can still redeem it: nothing of the refused attempt was left behind.
    must(await redeem(t, { code: second, user_id: 'u2' }), 201);
    const redemptions = must(await t.call('GET', '/v1/redemptions', undefined, { query: { batch_id: batch.batch_id } }), 200).body;
    expect(redemptions.pagination.total).toBe(2);
  });

  it('a multi-use code refused by the grant keeps its earlier uses and time', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t, { total_stock: 1 });
    const batch = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 1, max_uses: 5 }), 201).body;
    const code = batch.codes[0] as string;
    must(await redeem(t, { code, user_id: 'u1' }), 201);
    const before = await codeRow(app, t.tenantId, code);
    expect(before).toMatchObject({ status: 'ACTIVE', uses: 1 });
    expect(before!.last_redeemed_at).toBeInstanceOf(Date);
    expectError(await redeem(t, { code, user_id: 'u2' }), 409, 'inventory_exhausted');
    expect(await codeRow(app, t.tenantId, code)).toEqual(before);
  });

  it('200 parallel redemptions of distinct codes with grants of the same reward: all made, in batches on PostgreSQL', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 200 });
    const before = await batchMetrics(app);
    const replies = await Promise.all([
      ...(batch.codes as string[]).map((code, i) => redeem(t, { code, user_id: `r${i}` })),
      // Plain grants of the same reward in the same batches.
      ...Array.from({ length: 50 }, (_, i) => t.call('POST', '/v1/reward-grants', { reward_id: batch.reward_id, user_id: `g${i}` })),
    ]);
    expect(replies.filter((r) => r.status === 201)).toHaveLength(250);
    const after = await batchMetrics(app);
    expect(after.items - before.items).toBe(250);
    if (process.env.MH_TEST_DB === 'postgres') expect(after.batches - before.batches).toBeLessThan(250);
    // No batch failed and fell back to one statement per item (mh_redeem_batch and mh_grant_batch
    // answered every batch themselves).
    expect(after.failed - before.failed).toBe(0);
    const { rows } = await sql<{ codes: number; redemptions: number; grants: number }>`
      select (select count(*) from redeem_code where tenant_id = ${t.tenantId} and batch_id = ${batch.batch_id} and status = 'REDEEMED') as codes,
             (select count(*) from redeem_code_redemption where tenant_id = ${t.tenantId}) as redemptions,
             (select count(*) from reward_grant where tenant_id = ${t.tenantId} and source = 'redeem_code') as grants`.execute(app.database.db);
    expect(rows[0]).toEqual({ codes: 200, redemptions: 200, grants: 200 });
  });

  it('the same code twice in one batch: the first wins, the second is refused under the lock', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { batch } = await newBatch(t, { count: 4 });
    // Each code raced by 25 users at once: on PostgreSQL duplicates meet in one batch and across batches.
    const replies = await Promise.all((batch.codes as string[]).flatMap((code) => Array.from({ length: 25 }, (_, i) => redeem(t, { code, user_id: `${code}-${i}` }))));
    const won = replies.filter((r) => r.status === 201);
    expect(won).toHaveLength(4);
    expect(new Set(won.map((r) => r.body.redemption.code))).toEqual(new Set(batch.codes));
    for (const r of replies.filter((x) => x.status !== 201)) expect(r.body.error.code).toBe('code_already_redeemed');
  });
});
