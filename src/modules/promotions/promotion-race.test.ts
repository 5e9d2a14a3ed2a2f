import { describe, expect, it } from 'vitest';
import { runTransaction } from '../../db/client.js';
import { ManualClock } from '../../platform/clock.js';
import { must, type Reply, testApp } from '../../../test/helpers/test-app.js';
import { promotionBody } from './testing/promotion-fixture.js';

/**
 * Reserves fired at once (Promise.all of app.inject; on PostgreSQL they run on the pool's
 * connections concurrently): the stock row's sold and the per-user counter are the database's,
 * each changed by one conditional statement, so the figures are exact whatever the interleaving.
 */

const T0 = new Date('2033-05-01T00:00:00Z');
const SWEEP_T0 = new Date('2010-06-01T00:00:00Z');

function codes(replies: Reply[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of replies) {
    const key = r.status < 300 ? String(r.status) : `${r.status} ${r.body?.error?.code}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

async function setup(stock: number, perUserLimit: number, items: Record<string, unknown>[] = [], start = T0) {
  const clock = new ManualClock(new Date(start.getTime() + 1000));
  const app = await testApp({ clock });
  const t = await app.newTenant();
  const body = promotionBody(start, { flash_sale: { items: [{ item_id: 'a', special_price: 1, stock, per_user_limit: perUserLimit }, ...items] } });
  const p = must(await t.call('POST', '/v1/promotions', body, { key: t.admin }), 201).body as { promotion_id: string };
  const sold = async () => Object.fromEntries((must(await t.call('GET', `/v1/promotions/${p.promotion_id}`), 200).body.stock as { item_id: string; sold: number }[]).map((s) => [s.item_id, s.sold]));
  return { app, t, id: p.promotion_id, clock, sold };
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

  it('50 parallel reserves by ONE user with per_user_limit 3: exactly 3 units', async () => {
    const { app, t, id } = await setup(100, 3);
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => t.call('POST', `/v1/promotions/${id}/reserve`, { user_id: 'solo', order_id: `s${i}`, item_id: 'a', quantity: 1 })),
    );
    expect(codes(replies)).toEqual({ '200': 3, '409 promotion_per_user_limit_reached': 47 });
    const n = await app.database.db.selectFrom('promotion_user_count').select('n').where('tenant_id', '=', t.tenantId).where('promotion_id', '=', id).where('user_id', '=', 'solo').executeTakeFirstOrThrow();
    expect(n.n).toBe(3);
    expect(must(await t.call('GET', `/v1/promotions/${id}`), 200).body.stock[0].sold).toBe(3);
  });

  it('50 parallel reserves with ONE order id: one reservation, stock taken once', async () => {
    const { t, id } = await setup(100, 5);
    const replies = await Promise.all(Array.from({ length: 50 }, () => t.call('POST', `/v1/promotions/${id}/reserve`, { user_id: 'u', order_id: 'same', item_id: 'a', quantity: 1 })));
    expect(codes(replies)).toEqual({ '200': 50 });
    expect(must(await t.call('GET', `/v1/promotions/${id}`), 200).body.stock[0].sold).toBe(1);
  });

  it('200 parallel two-line orders (lines in either order) where the second item has stock 20: exactly 20 orders, the first item untouched by the others', async () => {
    const { app, t, id, sold } = await setup(1000, 5, [{ item_id: 'b', special_price: 1, stock: 20 }]);
    const promotions = app.app.services.promotions;
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const lines = [{ promotion_id: id, item_id: 'a', quantity: 1 }, { promotion_id: id, item_id: 'b', quantity: 1 }];
        if (i % 2) lines.reverse();
        return runTransaction(app.database.db, (trx) => promotions.reserveLines(t.tenantId, { user_id: `u${i}`, order_id: `o${i}`, lines }, trx)).then(
          () => 'ok',
          (err: { code?: string }) => err.code ?? String(err),
        );
      }),
    );
    const tally: Record<string, number> = {};
    for (const r of results) tally[r] = (tally[r] ?? 0) + 1;
    expect(tally).toEqual({ ok: 20, promotion_sold_out: 180 });
    expect(await sold()).toEqual({ a: 20, b: 20 });
    const held = await app.database.db.selectFrom('promotion_reservation').select(['item_id']).where('tenant_id', '=', t.tenantId).execute();
    expect(held).toHaveLength(40);
  });

  it('a refund after commit gives the stock back once, under 50 parallel refunds and releases of the order', async () => {
    const { app, t, id, sold } = await setup(100, 50);
    const reserveOk = async (order: string, quantity: number) => must(await t.call('POST', `/v1/promotions/${id}/reserve`, { user_id: 'u', order_id: order, item_id: 'a', quantity }), 200);
    await reserveOk('keep', 10);
    await reserveOk('back', 7);
    must(await t.call('POST', `/v1/promotions/${id}/commit`, { order_id: 'keep' }), 200);
    must(await t.call('POST', `/v1/promotions/${id}/commit`, { order_id: 'back' }), 200);
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => t.call('POST', `/v1/promotions/${id}/${i % 5 === 0 ? 'release' : 'refund'}`, { order_id: 'back' })));
    expect(codes(replies)).toEqual({ '200': 40, '409 promotion_reservation_state': 10 });
    expect(await sold()).toEqual({ a: 10 });
    const n = await app.database.db.selectFrom('promotion_user_count').select('n').where('tenant_id', '=', t.tenantId).where('promotion_id', '=', id).executeTakeFirstOrThrow();
    expect(n.n).toBe(10);
  });

  it('lapsed reservations give their stock back exactly once while sweeps and releases of the same orders run at once', async () => {
    // The sweep is global: this test runs at a time no other test's reservations lapse by.
    const { app, t, id, clock, sold } = await setup(100, 100, [], SWEEP_T0);
    const promotions = app.app.services.promotions;
    must(await t.call('POST', `/v1/promotions/${id}/reserve`, { user_id: 'u', order_id: 'keep', item_id: 'a', quantity: 10 }), 200);
    must(await t.call('POST', `/v1/promotions/${id}/commit`, { order_id: 'keep' }), 200);
    for (let i = 0; i < 30; i++) must(await t.call('POST', `/v1/promotions/${id}/reserve`, { user_id: 'u', order_id: `o${i}`, item_id: 'a', quantity: 2, ttl_seconds: 60 }), 200);
    expect(await sold()).toEqual({ a: 70 });
    clock.advance(61_000);
    const releases = Array.from({ length: 30 }, (_, i) => t.call('POST', `/v1/promotions/${id}/release`, { order_id: `o${i}` }));
    const sweeps = Array.from({ length: 4 }, () => promotions.releaseLapsed());
    const replies = await Promise.all(releases);
    await Promise.all(sweeps);
    expect(codes(replies)).toEqual({ '200': 30 });
    expect(replies.every((r) => r.body.status === 'released')).toBe(true);
    expect(await sold()).toEqual({ a: 10 });
    const n = await app.database.db.selectFrom('promotion_user_count').select('n').where('tenant_id', '=', t.tenantId).where('promotion_id', '=', id).executeTakeFirstOrThrow();
    expect(n.n).toBe(10);
  });
});
