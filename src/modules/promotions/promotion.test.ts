import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../platform/clock.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { promotionBody } from './testing/promotion-fixture.js';

const T0 = new Date('2033-03-01T00:00:00Z');
const zh = { headers: { 'accept-language': 'zh-CN,zh;q=0.9,en;q=0.5' } };

describe('promotions', () => {
  it('create (admin), get, list; update only before start; end; bad terms are 400 invalid_request', async () => {
    const clock = new ManualClock('2033-02-28T00:00:00Z');
    const t = await (await testApp({ clock })).newTenant();
    expect((await t.call('POST', '/v1/promotions', promotionBody(T0))).status).toBe(403);
    const p = must(await t.call('POST', '/v1/promotions', promotionBody(T0), { key: t.admin }), 201).body;
    expect(p).toMatchObject({ status: 'scheduled', scope: { all: true }, stock: [{ item_id: 'a', stock: 20, sold: 0, per_user_limit: 2 }] });
    expect(p.flash_sale.items[0]).toMatchObject({ item_id: 'a', special_price: 699 });
    const changed = must(await t.call('PUT', `/v1/promotions/${p.promotion_id}`, { flash_sale: { items: [{ item_id: 'b', discount_rate: 0.8, stock: 5 }] } }, { key: t.admin }), 200).body;
    expect(changed.stock).toEqual([{ item_id: 'b', kind: 'flash', stock: 5, sold: 0, per_user_limit: null }]);
    expect(must(await t.call('GET', '/v1/promotions', undefined, { query: { promotion_type: 'flash_sale' } }), 200).body.pagination.total).toBe(1);
    for (const [body, field] of [
      [{ flash_sale: undefined, bulk_discount: { tiers: [{ threshold: 100, off: 10 }] } }, 'bulk_discount'],
      [{ flash_sale: { items: [{ item_id: 'a', stock: 1 }] } }, 'flash_sale.items.0'],
      [{ flash_sale: { items: [{ item_id: 'a', discount_rate: 0.805, stock: 1 }] } }, 'flash_sale.items.0.discount_rate'],
      [{ end_time: T0.toISOString() }, 'end_time'],
      [{ promotion_type: 'bulk_discount', flash_sale: undefined, bulk_discount: { tiers: [{ threshold: 100, off: 10 }], repeat: { every: 100, off: 10 } } }, 'bulk_discount'],
      [{ promotion_type: 'gift', flash_sale: undefined, gift: { gift_item_id: 'g', gift_stock: 1 } }, 'gift'],
      [{ audience_id: 'aud_nope' }, 'audience_id'],
    ] as const) {
      const r = await t.call('POST', '/v1/promotions', promotionBody(T0, body), { key: t.admin });
      expect([r.status, r.body.error.details.field]).toEqual([400, field]);
    }
    clock.set(T0);
    const started = await t.call('PUT', `/v1/promotions/${p.promotion_id}`, { name: 'x' }, { key: t.admin, ...zh });
    expect([started.status, started.body.error.code, started.body.error.message]).toEqual([409, 'promotion_started', '活动已开始，不能再修改']);
    expect(must(await t.call('POST', `/v1/promotions/${p.promotion_id}/end`, undefined, { key: t.admin }), 200).body.status).toBe('ended');
    expect((await t.call('POST', `/v1/promotions/${p.promotion_id}/end`, undefined, { key: t.admin })).body.error.code).toBe('promotion_ended');
    expect((await t.call('GET', '/v1/promotions/prm_nope')).body.error.code).toBe('promotion_not_found');
  });

  it('eligibility reasons and discount: window (the document message), audience, scope, sold out, per-user limit', async () => {
    const clock = new ManualClock('2033-02-28T00:00:00Z');
    const t = await (await testApp({ clock })).newTenant();
    const audience = must(await t.call('POST', '/v1/audiences', { audience_name: 'vip', audience_type: 'LIST', product_code: t.productCode }, { key: t.admin }), 201).body;
    must(await t.call('POST', `/v1/audiences/${audience.audience_id}/members`, { user_ids: ['vip1'] }, { key: t.admin }), 200);
    const body = promotionBody(T0, { audience_id: audience.audience_id, flash_sale: { items: [{ item_id: 'a', special_price: 699, stock: 3, per_user_limit: 2 }] } });
    const p = must(await t.call('POST', '/v1/promotions', body, { key: t.admin }), 201).body;
    const elig = (user: string, item?: string, options = {}) => t.call('POST', `/v1/promotions/${p.promotion_id}/eligibility`, { user_id: user, ...(item ? { item_id: item } : {}) }, options);
    expect(must(await elig('vip1', 'a', zh), 200).body).toMatchObject({ eligible: false, reasons: [{ code: 'not_started', message: '活动未开始或已结束' }] });
    const cart = { lines: [{ item_id: 'a', unit_price: 999, quantity: 1 }] };
    const early = await t.call('POST', `/v1/promotions/${p.promotion_id}/discount`, { user_id: 'vip1', cart }, zh);
    expect([early.status, early.body.error.code, early.body.error.message]).toEqual([400, 'promotion_not_active', '活动未开始或已结束']);
    clock.set(new Date(T0.getTime() + 60_000));
    expect(must(await elig('vip1', 'a'), 200).body).toMatchObject({ eligible: true, reasons: [], stock_left: 3, user_remaining: 2 });
    expect(must(await elig('other', 'z'), 200).body.reasons.map((r: { code: string }) => r.code)).toEqual(['not_in_audience', 'out_of_scope']);
    expect(must(await t.call('POST', `/v1/promotions/${p.promotion_id}/discount`, { user_id: 'vip1', cart }), 200).body).toMatchObject({ applicable: true, discount: 300, lines: [{ line_index: 0, discount: 300 }] });
    expect(must(await t.call('POST', `/v1/promotions/${p.promotion_id}/discount`, { user_id: 'other', cart }), 200).body).toMatchObject({ applicable: false, reason: 'not_in_audience', discount: 0 });

    const reserve = (user: string, order: string, quantity = 1) => t.call('POST', `/v1/promotions/${p.promotion_id}/reserve`, { user_id: user, order_id: order, item_id: 'a', quantity });
    expect(must(await reserve('vip1', 'o1', 2), 200).body).toMatchObject({ status: 'reserved', quantity: 2 });
    expect(must(await reserve('vip1', 'o1', 2), 200).body.status).toBe('reserved');
    expect((await reserve('vip1', 'o1', 1)).body.error.code).toBe('promotion_order_mismatch');
    expect(must(await elig('vip1', 'a'), 200).body).toMatchObject({ eligible: false, reasons: [{ code: 'per_user_limit_reached' }], stock_left: 1, user_remaining: 0 });
    expect((await reserve('vip1', 'o2')).body.error.code).toBe('promotion_per_user_limit_reached');
    expect((await reserve('other', 'o3')).body.error.code).toBe('promotion_not_in_audience');
    expect((await t.call('POST', `/v1/promotions/${p.promotion_id}/reserve`, { user_id: 'vip1', order_id: 'o4', item_id: 'zz', quantity: 1 })).status).toBe(422);
    // Release gives the stock and the user's count back; commit after release is refused.
    expect(must(await t.call('POST', `/v1/promotions/${p.promotion_id}/release`, { order_id: 'o1' }), 200).body.status).toBe('released');
    expect(must(await t.call('POST', `/v1/promotions/${p.promotion_id}/release`, { order_id: 'o1' }), 200).body.status).toBe('released');
    expect((await t.call('POST', `/v1/promotions/${p.promotion_id}/commit`, { order_id: 'o1' })).body.error.code).toBe('promotion_reservation_state');
    expect(must(await elig('vip1', 'a'), 200).body).toMatchObject({ eligible: true, stock_left: 3, user_remaining: 2 });
    must(await reserve('vip1', 'o5', 2), 200);
    expect(must(await t.call('POST', `/v1/promotions/${p.promotion_id}/commit`, { order_id: 'o5' }), 200).body.status).toBe('committed');
    expect((await t.call('POST', `/v1/promotions/${p.promotion_id}/release`, { order_id: 'o5' })).body.error.code).toBe('promotion_reservation_state');
    expect((await t.call('POST', `/v1/promotions/${p.promotion_id}/commit`, { order_id: 'o9' })).status).toBe(404);
    clock.set(new Date(T0.getTime() + 25 * 3_600_000));
    expect((await reserve('vip1', 'o6')).body.error).toMatchObject({ code: 'promotion_not_active', details: { reason: 'ended' } });
  });

  it('bulk discount and gift over HTTP: totals and gifts; time slots', async () => {
    const clock = new ManualClock(new Date(T0.getTime() + 1000));
    const t = await (await testApp({ clock })).newTenant();
    const bulk = must(await t.call('POST', '/v1/promotions', promotionBody(T0, { promotion_type: 'bulk_discount', flash_sale: undefined, bulk_discount: { tiers: [{ threshold: 300, off: 100 }] } }), { key: t.admin }), 201).body;
    const cart = { lines: [{ item_id: 'a', unit_price: 100, quantity: 1 }, { item_id: 'b', unit_price: 100, quantity: 1 }, { item_id: 'c', unit_price: 101, quantity: 1 }] };
    const d = must(await t.call('POST', `/v1/promotions/${bulk.promotion_id}/discount`, { user_id: 'u', cart }), 200).body;
    expect([d.discount, d.lines.map((l: { discount: number }) => l.discount)]).toEqual([100, [33, 33, 34]]);
    const gift = must(await t.call('POST', '/v1/promotions', promotionBody(T0, { promotion_type: 'gift', flash_sale: undefined, gift: { min_quantity: 3, gift_item_id: 'g', gift_stock: 1 } }), { key: t.admin }), 201).body;
    expect(must(await t.call('POST', `/v1/promotions/${gift.promotion_id}/discount`, { user_id: 'u', cart }), 200).body.gifts).toEqual([{ item_id: 'g', quantity: 1 }]);
    must(await t.call('POST', `/v1/promotions/${gift.promotion_id}/reserve`, { user_id: 'u', order_id: 'o1', item_id: 'g', quantity: 1 }), 200);
    expect(must(await t.call('POST', `/v1/promotions/${gift.promotion_id}/eligibility`, { user_id: 'u' }), 200).body.reasons).toEqual([{ code: 'sold_out', message: 'The promotion is sold out' }]);
    const slots = { flash_sale: { items: [{ item_id: 'a', special_price: 1, stock: 1 }], time_slots: [{ start_time: new Date(T0.getTime() + 3_600_000).toISOString(), end_time: new Date(T0.getTime() + 7_200_000).toISOString() }] } };
    const slotted = must(await t.call('POST', '/v1/promotions', promotionBody(T0, slots), { key: t.admin }), 201).body;
    expect(slotted.status).toBe('scheduled');
    clock.set(new Date(T0.getTime() + 3_700_000));
    expect(must(await t.call('GET', `/v1/promotions/${slotted.promotion_id}`), 200).body.status).toBe('active');
  });

  it('the list filters by status (by the window now) and pages', async () => {
    const clock = new ManualClock(new Date(T0.getTime() + 1000));
    const t = await (await testApp({ clock })).newTenant();
    const create = (start: Date, hours: number) => t.call('POST', '/v1/promotions', promotionBody(start, {}, hours), { key: t.admin });
    const day = 24 * 3_600_000;
    for (const [start, hours] of [[T0, 1], [T0, 1], [new Date(T0.getTime() + day), 1], [new Date(T0.getTime() - day), 1]] as const) must(await create(start, hours), 201);
    const list = async (query: Record<string, string | number>) => must(await t.call('GET', '/v1/promotions', undefined, { query }), 200).body;
    const count = async (status: string) => (await list({ status })).pagination.total;
    expect([await count('scheduled'), await count('active'), await count('ended')]).toEqual([1, 2, 1]);
    const page = await list({ status: 'active', page: 2, page_size: 1 });
    expect([page.promotions.length, page.promotions[0].status, page.pagination]).toEqual([1, 'active', { page: 2, page_size: 1, total: 2 }]);
    clock.set(new Date(T0.getTime() + 2 * 3_600_000));
    expect([await count('scheduled'), await count('active'), await count('ended')]).toEqual([1, 0, 3]);
    expect((await t.call('GET', '/v1/promotions', undefined, { query: { status: 'running' } })).status).toBe(400);
  });
});
