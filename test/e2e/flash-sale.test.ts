import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { testDbKind } from '../helpers/database.js';
import { client } from './server-process.js';
import { twoServersOnScratchDatabase } from './two-servers.js';

/**
 * Promise 1, the flash sale: one reward with stock S, many times S parallel grant requests from
 * distinct users spread over two API processes on one PostgreSQL database -> exactly S grants,
 * every other request 409 inventory_exhausted, and the stock counters, grant rows and ledger agree.
 */
const MASTER = 'flash-master-key-0123456789abcdefghij';
const STOCK = 100;
const REQUESTS = 1500;

describe.runIf(testDbKind() === 'postgres')('flash sale across two API processes on PostgreSQL', () => {
  const cluster = twoServersOnScratchDatabase('flash', MASTER);

  it(`grants exactly ${STOCK} of ${REQUESTS} parallel requests`, async () => {
    const [a, b] = cluster.servers.map((s) => client(s.url)) as [ReturnType<typeof client>, ReturnType<typeof client>];
    expect((await a('POST', '/v1/tenants', { key: MASTER, body: { tenant_id: 'shop', name: 'Shop' } })).status).toBe(201);
    const key = (await a('POST', '/v1/tenants/shop/api-keys', { key: MASTER, body: { name: 'svc', role: 'admin' } })).body.key as string;
    expect((await a('POST', '/v1/apps', { key, body: { product_code: 'app1', name: 'App' } })).status).toBe(201);
    const campaign = (await a('POST', '/v1/campaigns', { key, body: { product_code: 'app1', campaign_name: 'Flash', campaign_type: 'FLASH_SALE' } })).body;
    expect((await a('POST', `/v1/campaigns/${campaign.campaign_id}/publish`, { key })).status).toBe(200);
    const reward = (
      await a('POST', '/v1/rewards', {
        key,
        body: {
          reward_name: 'Flash points',
          reward_type: 'POINTS',
          product_code: 'app1',
          campaign_id: campaign.campaign_id,
          total_stock: STOCK,
          config: { generator: { points: 5 }, validator: { per_user_limit: 1 } },
        },
      })
    ).body;
    expect(reward.stock.available).toBe(STOCK);

    // Fire everything at once, alternating between the two processes.
    const replies = await Promise.all(
      Array.from({ length: REQUESTS }, (_, i) =>
        (i % 2 === 0 ? a : b)('POST', '/v1/reward-grants', { key, body: { reward_id: reward.reward_id, user_id: `user-${i}` } }),
      ),
    );
    const byStatus = new Map<number, number>();
    for (const r of replies) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    expect(Object.fromEntries(byStatus)).toEqual({ 201: STOCK, 409: REQUESTS - STOCK });
    expect(replies.filter((r) => r.status === 409).every((r) => r.body.error.code === 'inventory_exhausted')).toBe(true);
    const winners = new Set(replies.filter((r) => r.status === 201).map((r) => r.body.user_id));
    expect(winners.size).toBe(STOCK);

    // Stock counters, grant rows and ledger entries agree, read straight from the database.
    const db = new pg.Client({ connectionString: cluster.url });
    await db.connect();
    try {
      const slots = await db.query('select sum(used)::int as used, sum(reserved)::int as reserved, sum(total)::int as total from reward_stock_slot where reward_id = $1', [reward.reward_id]);
      expect(slots.rows[0]).toEqual({ used: STOCK, reserved: 0, total: STOCK });
      const grants = await db.query('select count(*)::int as n, count(distinct user_id)::int as users from reward_grant where reward_id = $1', [reward.reward_id]);
      expect(grants.rows[0]).toEqual({ n: STOCK, users: STOCK });
      const ledger = await db.query("select count(*)::int as n, sum(amount)::int as points from ledger_entry where cause_type = 'reward_grant'");
      expect(ledger.rows[0]).toEqual({ n: STOCK, points: STOCK * 5 });
    } finally {
      await db.end();
    }
    const shown = (await b('GET', `/v1/rewards/${reward.reward_id}`, { key })).body.stock;
    expect(shown).toEqual({ total: STOCK, reserved: 0, used: STOCK, available: 0 });
  });
});
