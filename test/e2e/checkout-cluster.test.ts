import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { testDbKind } from '../helpers/database.js';
import { client } from './server-process.js';
import { twoServersOnScratchDatabase } from './two-servers.js';

/**
 * Checkouts spread over two API processes on one PostgreSQL database, as clients make them (a
 * quote, then the checkout with its quote_hash): a flash-sale item with stock 20 under 500
 * checkouts by distinct users holds exactly 20; one coupon under 50 checkouts of different orders
 * is held by exactly one; 1,000 parallel claims of a template with usage_limit 100 give exactly 100.
 */
const MASTER = 'checkout-master-key-0123456789abcdef';

describe.runIf(testDbKind() === 'postgres')('checkout races across two API processes on PostgreSQL', () => {
  const cluster = twoServersOnScratchDatabase('checkout', MASTER);

  it('stock 20 under 500 checkouts -> 20; one coupon under 50 checkouts -> 1; usage_limit 100 under 1,000 claims -> 100', async () => {
    const [a, b] = cluster.servers.map((s) => client(s.url)) as [ReturnType<typeof client>, ReturnType<typeof client>];
    const pick = (i: number) => (i % 2 === 0 ? a : b);
    expect((await a('POST', '/v1/tenants', { key: MASTER, body: { tenant_id: 'shop', name: 'Shop' } })).status).toBe(201);
    const key = (await a('POST', '/v1/tenants/shop/api-keys', { key: MASTER, body: { name: 'admin', role: 'admin' } })).body.key as string;
    const now = Date.now();
    const window = { start_time: new Date(now - 60_000).toISOString(), end_time: new Date(now + 86_400_000).toISOString() };
    const created = await a('POST', '/v1/promotions', { key, body: { name: 'Flash', promotion_type: 'flash_sale', ...window, flash_sale: { items: [{ item_id: 'sku-a', special_price: 100, stock: 20 }] } } });
    expect(created.status).toBe(201);
    const promotionId = created.body.promotion_id as string;
    const cart = { lines: [{ item_id: 'sku-a', unit_price: 999, quantity: 1 }] };

    const buy = async (i: number) => {
      const body = { user_id: `user-${i}`, cart };
      const q = await pick(i)('POST', '/v1/checkout/quote', { key, body });
      return pick(i + 1)('POST', '/v1/checkout/orders', { key, body: { ...body, order_id: `order-${i}`, quote_hash: q.body.quote_hash } });
    };
    const many = await Promise.all(Array.from({ length: 500 }, (_, i) => buy(i)));
    // Exactly 20 orders hold the sale price; a client whose quote already showed the sale sold out
    // (the other process's cache is at most promotions.cache_ttl_ms old) checks out at the list
    // price it was shown, taking no stock; the rest are refused.
    const ok = many.filter((r) => r.status === 200);
    const atSalePrice = ok.filter((r) => r.body.quote.applied.some((a: { id: string }) => a.id === promotionId));
    expect(atSalePrice).toHaveLength(20);
    for (const r of ok.filter((x) => !atSalePrice.includes(x))) expect([r.body.quote.total, r.body.quote.applied]).toEqual([999, []]);
    expect(many.filter((r) => r.status === 409 && ['promotion_sold_out', 'quote_changed'].includes(r.body.error.code))).toHaveLength(500 - ok.length);

    const tpl = await a('POST', '/v1/coupons/templates', { key, body: { name: 'one', coupon_type: 'discount', value: 50 } });
    const code = (await a('POST', `/v1/coupons/templates/${tpl.body.template_id}/issue`, { key, body: { user_id: 'holder' } })).body.code as string;
    const couponBody = { user_id: 'holder', cart: { lines: [{ item_id: 'sku-z', unit_price: 999, quantity: 1 }] }, coupon_codes: [code] };
    const q = await a('POST', '/v1/checkout/quote', { key, body: couponBody });
    const locks = await Promise.all(Array.from({ length: 50 }, (_, i) => pick(i)('POST', '/v1/checkout/orders', { key, body: { ...couponBody, order_id: `c-${i}`, quote_hash: q.body.quote_hash } })));
    expect(locks.filter((r) => r.status === 200)).toHaveLength(1);
    expect(locks.filter((r) => r.status === 409 && ['coupon_locked', 'quote_changed'].includes(r.body.error.code))).toHaveLength(49);

    const limited = await a('POST', '/v1/coupons/templates', { key, body: { name: 'hundred', coupon_type: 'discount', value: 50, usage_limit: 100 } });
    const claims = await Promise.all(Array.from({ length: 1000 }, (_, i) => pick(i)('POST', `/v1/coupons/templates/${limited.body.template_id}/claim`, { key, body: { user_id: `claimer-${i}` } })));
    expect(claims.filter((r) => r.status === 201)).toHaveLength(100);
    expect(claims.filter((r) => r.status === 409 && r.body.error.code === 'coupon_usage_limit_reached')).toHaveLength(900);

    const db = new pg.Client({ connectionString: cluster.url });
    await db.connect();
    try {
      expect((await db.query('select sold from promotion_item where promotion_id = $1', [promotionId])).rows).toEqual([{ sold: 20 }]);
      expect((await db.query('select count(*)::int as n from checkout_order_offer where offer_id = $1', [promotionId])).rows).toEqual([{ n: 20 }]);
      expect((await db.query("select coalesce(sum(quantity), 0)::int as n from promotion_reservation where promotion_id = $1 and status = 'reserved'", [promotionId])).rows).toEqual([{ n: 20 }]);
      expect((await db.query("select count(*)::int as n from coupon where status = 'locked'")).rows).toEqual([{ n: 1 }]);
      expect((await db.query('select claimed_count from coupon_template where template_id = $1', [limited.body.template_id])).rows).toEqual([{ claimed_count: 100 }]);
    } finally {
      await db.end();
    }
  }, 180_000);
});
