import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../platform/clock.js';
import { must, type Reply, testApp } from '../../../test/helpers/test-app.js';
import { promotionBody } from './testing/promotion-fixture.js';

/**
 * Reserves fired at once (Promise.all of app.inject; on PostgreSQL they run on the pool's
 * connections concurrently): the stock row's sold and the per-user counter are the database's,
 * each changed by one conditional statement, so the figures are exact whatever the interleaving.
 */

const T0 = new Date('2033-05-01T00:00:00Z');

function codes(replies: Reply[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of replies) {
    const key = r.status < 300 ? String(r.status) : `${r.status} ${r.body?.error?.code}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

async function setup(stock: number, perUserLimit: number) {
  const clock = new ManualClock(new Date(T0.getTime() + 1000));
  const app = await testApp({ clock });
  const t = await app.newTenant();
  const body = promotionBody(T0, { flash_sale: { items: [{ item_id: 'a', special_price: 1, stock, per_user_limit: perUserLimit }] } });
  const p = must(await t.call('POST', '/v1/promotions', body, { key: t.admin }), 201).body as { promotion_id: string };
  return { app, t, id: p.promotion_id };
}

describe('flash-sale races', () => {
  it('500 parallel reserves of an item with stock 20 by different users: exactly 20, sold = 20; releases give it back', async () => {
    const { app, t, id } = await setup(20, 2);
    const replies = await Promise.all(
      Array.from({ length: 500 }, (_, i) => t.call('POST', `/v1/promotions/${id}/reserve`, { user_id: `u${i}`, order_id: `o${i}`, item_id: 'a', quantity: 1 })),
    );
    expect(codes(replies)).toEqual({ '200': 20, '409 promotion_sold_out': 480 });
    const row = await app.database.db.selectFrom('promotion_item').select(['sold', 'stock']).where('tenant_id', '=', t.tenantId).where('promotion_id', '=', id).executeTakeFirstOrThrow();
    expect(row).toEqual({ sold: 20, stock: 20 });
    const held = await app.database.db.selectFrom('promotion_reservation').select((eb) => eb.fn.countAll<string>().as('n')).where('tenant_id', '=', t.tenantId).where('promotion_id', '=', id).executeTakeFirstOrThrow();
    expect(Number(held.n)).toBe(20);
    const winners = replies.filter((r) => r.status === 200).map((r) => r.body.order_id as string);
    await Promise.all(winners.slice(0, 5).map((o) => t.call('POST', `/v1/promotions/${id}/release`, { order_id: o })));
    expect(must(await t.call('GET', `/v1/promotions/${id}`), 200).body.stock[0].sold).toBe(15);
  });

  it('50 parallel reserves by ONE user with per_user_limit 2: exactly 2', async () => {
    const { app, t, id } = await setup(100, 2);
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => t.call('POST', `/v1/promotions/${id}/reserve`, { user_id: 'solo', order_id: `s${i}`, item_id: 'a', quantity: 1 })),
    );
    expect(codes(replies)).toEqual({ '200': 2, '409 promotion_per_user_limit_reached': 48 });
    const n = await app.database.db.selectFrom('promotion_user_count').select('n').where('tenant_id', '=', t.tenantId).where('promotion_id', '=', id).where('user_id', '=', 'solo').executeTakeFirstOrThrow();
    expect(n.n).toBe(2);
    expect(must(await t.call('GET', `/v1/promotions/${id}`), 200).body.stock[0].sold).toBe(2);
  });

  it('50 parallel reserves with ONE order id: one reservation, stock taken once', async () => {
    const { t, id } = await setup(100, 5);
    const replies = await Promise.all(Array.from({ length: 50 }, () => t.call('POST', `/v1/promotions/${id}/reserve`, { user_id: 'u', order_id: 'same', item_id: 'a', quantity: 1 })));
    expect(codes(replies)).toEqual({ '200': 50 });
    expect(must(await t.call('GET', `/v1/promotions/${id}`), 200).body.stock[0].sold).toBe(1);
  });
});
