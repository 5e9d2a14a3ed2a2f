import { describe, expect, it } from 'vitest';
import { codeCampaign, createBatch, expectError } from '../../../test/helpers/redeem-code-helpers.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { systemClock } from '../../platform/clock.js';

/** Counts the keyset page reads of the export (patched on the executors' prototype). */
function countPageReads(db: { getExecutor(): unknown }) {
  let proto = Object.getPrototypeOf(db.getExecutor());
  while (proto && !Object.prototype.hasOwnProperty.call(proto, 'executeQuery')) proto = Object.getPrototypeOf(proto);
  const original = proto.executeQuery;
  const counter = { pages: 0, restore: () => (proto.executeQuery = original) };
  proto.executeQuery = function (this: unknown, compiled: { sql: string }, ...rest: unknown[]) {
    if (/from "redeem_code" where .*"seq" > /.test(compiled.sql)) counter.pages++;
    return original.call(this, compiled, ...rest);
  };
  return counter;
}

describe('GET /v1/redeem-codes/export', () => {
  it('streams a 100k batch as CSV page by page, reading ahead only as far as the client reads', async () => {
    // An app of its own, to listen on a real socket (backpressure needs one).
    const app = await testApp({ clock: systemClock });
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t);
    const batch = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 100_000, code_type: 'ALPHANUM', length: 12, group_size: 4 }), 202).body;
    await app.app.services.redeemBatches.runBatch(t.tenantId, batch.batch_id);

    const address = await app.app.listen({ port: 0, host: '127.0.0.1' });
    const counter = countPageReads(app.database.db);
    try {
      const res = await fetch(`${address}/v1/redeem-codes/export?batch_id=${batch.batch_id}`, { headers: { authorization: `Bearer ${t.readonly}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(res.headers.get('content-length')).toBeNull();
      const reader = res.body!.getReader();
      const first = await reader.read();
      // The client stops reading for a while: the server must stop reading the database too.
      await new Promise((r) => setTimeout(r, 500));
      const pagesWhilePaused = counter.pages;
      expect(pagesWhilePaused).toBeGreaterThanOrEqual(1);
      // 100k rows are 20 pages of 5,000; only socket and stream buffers' worth may be ahead.
      expect(pagesWhilePaused).toBeLessThanOrEqual(12);
      let text = new TextDecoder().decode(first.value);
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      const lines = text.trimEnd().split('\n');
      expect(lines[0]).toBe('code,code_id,batch_id,campaign_id,reward_id,status,uses,max_uses,assigned_user_id,expires_at,applicable_products,extra_data');
      expect(lines).toHaveLength(100_001);
      const codes = new Set(lines.slice(1).map((l) => l.split(',')[0]));
      expect(codes.size).toBe(100_000);
      expect(lines[1]).toMatch(new RegExp(`^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4},${batch.batch_id}\\.1,${batch.batch_id},${campaignId},${rewardId},ACTIVE,0,1,,,,$`));
      // 20 full pages and the empty one that ends the walk: never one query for everything.
      expect(counter.pages).toBe(21);
    } finally {
      counter.restore();
      await app.app.close();
    }
  });

  it('reads at most one page at a time at the service', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t);
    const batch = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 2_500, code_type: 'RANDOM_NUM', length: 14 }), 201).body;
    const pages: number[] = [];
    const tenant = { kind: 'tenant' as const, tenantId: t.tenantId, keyId: 'k', role: 'readonly' as const, productCodes: null };
    const { rows } = await app.app.services.redeemCodes.exportBatch(tenant, batch.batch_id, { pageSize: 1_000, onPage: (n) => pages.push(n) });
    let seen = 0;
    for await (const row of rows) {
      seen++;
      // Never more than the current page fetched ahead of what was consumed.
      expect(pages.reduce((a, b) => a + b, 0) - seen).toBeLessThan(1_000);
      expect(row.batch_id).toBe(batch.batch_id);
    }
    expect(seen).toBe(2_500);
    expect(pages).toEqual([1_000, 1_000, 500]);
  });

  it('an unknown or foreign batch is 404 before anything streams', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const other = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t);
    const batch = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 10 }), 201).body;
    expectError(await other.call('GET', '/v1/redeem-codes/export', undefined, { query: { batch_id: batch.batch_id } }), 404, 'batch_not_found');
    expectError(await t.call('GET', '/v1/redeem-codes/export', undefined, { query: { batch_id: 'rcb_nope' } }), 404, 'batch_not_found');
    const ok = must(await t.call('GET', '/v1/redeem-codes/export', undefined, { query: { batch_id: batch.batch_id } }), 200);
    expect(String(ok.body).trimEnd().split('\n')).toHaveLength(11);
  });
});
