import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../platform/clock.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { promotionBody } from './testing/promotion-fixture.js';

const T0 = new Date('2033-07-01T00:00:00Z');
const cart = { lines: [{ item_id: 'a', unit_price: 1000, quantity: 1 }] };

describe('promotion cache and bad input', () => {
  it('a change by this process is seen at once; a change made elsewhere within promotions.cache_ttl_ms (5 s)', async () => {
    const clock = new ManualClock(new Date(T0.getTime() - 60_000));
    const app = await testApp({ clock });
    const t = await app.newTenant();
    const p = must(await t.call('POST', '/v1/promotions', promotionBody(T0, { flash_sale: { items: [{ item_id: 'a', special_price: 600, stock: 5 }] } }), { key: t.admin }), 201).body;
    const discount = async () => (await t.call('POST', `/v1/promotions/${p.promotion_id}/discount`, { user_id: 'u', cart })).body;
    // Before the start: 400 (and the row is now cached); this process's update drops the entry.
    expect((await discount()).error.code).toBe('promotion_not_active');
    must(await t.call('PUT', `/v1/promotions/${p.promotion_id}`, { start_time: new Date(T0.getTime() - 120_000).toISOString() }, { key: t.admin }), 200);
    expect((await discount()).discount).toBe(400);
    // Another process's change (written straight to the table): the cached terms answer until the TTL passes.
    const terms = { type: 'flash_sale', items: [{ item_id: 'a', special_price: 100, stock: 5 }] };
    await app.database.db.updateTable('promotion').set({ terms: JSON.stringify(terms) }).where('promotion_id', '=', p.promotion_id).execute();
    expect((await discount()).discount).toBe(400);
    clock.advance(5001);
    expect((await discount()).discount).toBe(900);
    // End (this process): refused at once.
    must(await t.call('POST', `/v1/promotions/${p.promotion_id}/end`, undefined, { key: t.admin }), 200);
    expect((await discount()).error).toMatchObject({ code: 'promotion_not_active', details: { reason: 'ended' } });
  });

  it('bad carts and bodies answer 4xx, the largest cart an exact total', async () => {
    const clock = new ManualClock(new Date(T0.getTime() + 1000));
    const t = await (await testApp({ clock })).newTenant();
    const body = promotionBody(T0, { promotion_type: 'bulk_discount', flash_sale: undefined, bulk_discount: { repeat: { every: 3, off: 1 } } });
    const p = must(await t.call('POST', '/v1/promotions', body, { key: t.admin }), 201).body;
    const url = `/v1/promotions/${p.promotion_id}/discount`;
    for (const lines of [[], [{ item_id: 'a', unit_price: -1, quantity: 1 }], [{ item_id: 'a', unit_price: 1, quantity: 0 }], Array.from({ length: 501 }, () => ({ item_id: 'a', unit_price: 1, quantity: 1 }))]) {
      expect((await t.call('POST', url, { user_id: 'u', cart: { lines } })).status).toBe(400);
    }
    const largest = Array.from({ length: 500 }, (_, i) => ({ item_id: `i${i}`, unit_price: 1_000_000_000 - i, quantity: 10_000 }));
    const d = must(await t.call('POST', url, { user_id: 'u', cart: { lines: largest } }), 200).body;
    const eligible = largest.reduce((a, l) => a + l.unit_price * l.quantity, 0);
    expect(d.eligible_amount).toBe(eligible);
    expect(d.discount).toBe(Math.floor(eligible / 3));
    expect(d.lines.reduce((a: number, l: { discount: number }) => a + l.discount, 0)).toBe(d.discount);
    expect((await t.call('POST', '/v1/promotions/prm_nope/discount', { user_id: 'u', cart })).status).toBe(404);
    // The document's calculate_discount(promotion, order_amount): one line, in scope of {all: true} only.
    expect(must(await t.call('POST', url, { user_id: 'u', order_amount: 1000 }), 200).body).toMatchObject({ applicable: true, discount: 333, lines: [{ item_id: '', discount: 333 }] });
    expect((await t.call('POST', url, { user_id: 'u', order_amount: 1000, cart })).body.error.details.field).toBe('cart');
    expect((await t.call('POST', url, { user_id: 'u' })).status).toBe(400);
    expect((await t.call('POST', '/v1/promotions/prm_nope/reserve', { user_id: 'u', order_id: 'o', item_id: 'a', quantity: 1 })).status).toBe(404);
  });
});
