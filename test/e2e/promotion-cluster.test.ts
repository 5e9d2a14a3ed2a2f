import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { testDbKind } from '../helpers/database.js';
import { client } from './server-process.js';
import { twoServersOnScratchDatabase } from './two-servers.js';

/**
 * Flash-sale reserves spread over two API processes on one PostgreSQL database: a stock of 20 under
 * 500 reserves by distinct users gives exactly 20, and one user's 50 parallel reserves stop at the
 * item's per_user_limit of 2; sold and the user's counter agree with the reservation rows.
 */
const MASTER = 'promotion-master-key-0123456789abcdef';

describe.runIf(testDbKind() === 'postgres')('flash-sale reserves across two API processes on PostgreSQL', () => {
  const cluster = twoServersOnScratchDatabase('promotion', MASTER);

  it('500 reserves of stock 20 -> exactly 20; one user x 50 with per_user_limit 2 -> exactly 2', async () => {
    const [a, b] = cluster.servers.map((s) => client(s.url)) as [ReturnType<typeof client>, ReturnType<typeof client>];
    expect((await a('POST', '/v1/tenants', { key: MASTER, body: { tenant_id: 'shop', name: 'Shop' } })).status).toBe(201);
    const key = (await a('POST', '/v1/tenants/shop/api-keys', { key: MASTER, body: { name: 'admin', role: 'admin' } })).body.key as string;
    const now = Date.now();
    const body = {
      name: 'Flash',
      promotion_type: 'flash_sale',
      start_time: new Date(now - 60_000).toISOString(),
      end_time: new Date(now + 86_400_000).toISOString(),
      flash_sale: { items: [{ item_id: 'sku-a', special_price: 100, stock: 20, per_user_limit: 2 }, { item_id: 'sku-b', special_price: 100, stock: 100, per_user_limit: 2 }] },
    };
    const created = await a('POST', '/v1/promotions', { key, body });
    expect(created.status).toBe(201);
    const id = created.body.promotion_id as string;
    const reserve = (i: number, user: string, item: string) =>
      (i % 2 === 0 ? a : b)('POST', `/v1/promotions/${id}/reserve`, { key, body: { user_id: user, order_id: `${item}-${i}`, item_id: item, quantity: 1 } });

    const many = await Promise.all(Array.from({ length: 500 }, (_, i) => reserve(i, `user-${i}`, 'sku-a')));
    expect(many.filter((r) => r.status === 200)).toHaveLength(20);
    expect(many.filter((r) => r.status === 409 && r.body.error.code === 'promotion_sold_out')).toHaveLength(480);
    const solo = await Promise.all(Array.from({ length: 50 }, (_, i) => reserve(i, 'solo', 'sku-b')));
    expect(solo.filter((r) => r.status === 200)).toHaveLength(2);
    expect(solo.filter((r) => r.status === 409 && r.body.error.code === 'promotion_per_user_limit_reached')).toHaveLength(48);

    const db = new pg.Client({ connectionString: cluster.url });
    await db.connect();
    try {
      const items = await db.query('select item_id, sold from promotion_item where promotion_id = $1 order by item_id', [id]);
      expect(items.rows).toEqual([{ item_id: 'sku-a', sold: 20 }, { item_id: 'sku-b', sold: 2 }]);
      const rows = await db.query("select item_id, count(*)::int as n from promotion_reservation where promotion_id = $1 and status = 'reserved' group by item_id order by item_id", [id]);
      expect(rows.rows).toEqual([{ item_id: 'sku-a', n: 20 }, { item_id: 'sku-b', n: 2 }]);
      const counter = await db.query("select n from promotion_user_count where promotion_id = $1 and user_id = 'solo'", [id]);
      expect(counter.rows).toEqual([{ n: 2 }]);
    } finally {
      await db.end();
    }
  }, 120_000);
});
