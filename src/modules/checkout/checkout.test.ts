import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../platform/clock.js';
import { must, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';

const T0 = new Date('2034-06-01T00:00:00Z');
const zh = { headers: { 'accept-language': 'zh-CN,zh;q=0.9' } };
const window = { start_time: T0.toISOString(), end_time: new Date(T0.getTime() + 86_400_000).toISOString() };
const cart = {
  lines: [
    { item_id: 'a', category_id: 'c1', unit_price: 10000, quantity: 1 },
    { item_id: 'b', category_id: 'c1', unit_price: 5000, quantity: 2 },
    { item_id: 'c', category_id: 'c2', unit_price: 3000, quantity: 1 },
  ],
  shipping_fee: 1000,
};

async function setup() {
  const clock = new ManualClock(new Date(T0.getTime() - 60_000));
  const app = await testApp({ clock });
  const t = await app.newTenant();
  const flash = must(await t.call('POST', '/v1/promotions', { name: 'flash', promotion_type: 'flash_sale', ...window, flash_sale: { items: [{ item_id: 'a', special_price: 8000, stock: 5, per_user_limit: 2 }] } }, { key: t.admin }), 201).body;
  const mj = must(await t.call('POST', '/v1/promotions', { name: 'mj', promotion_type: 'bulk_discount', ...window, bulk_discount: { tiers: [{ threshold: 20000, off: 2000 }] } }, { key: t.admin }), 201).body;
  const tpl = must(await t.call('POST', '/v1/coupons/templates', { name: 'c1000', coupon_type: 'discount', value: 1000, min_amount: 15000, refund_returns: true }, { key: t.admin }), 201).body;
  const issue = async (user: string) => must(await t.call('POST', `/v1/coupons/templates/${tpl.template_id}/issue`, { user_id: user }, { key: t.admin }), 201).body;
  const coupon = await issue('u1');
  clock.set(new Date(T0.getTime() + 60_000));
  return { app, clock, t, flash, mj, tpl, coupon, issue };
}

const quote = async (t: TenantFixture, body: Record<string, unknown>) => must(await t.call('POST', '/v1/checkout/quote', body), 200).body;
const checkout = (t: TenantFixture, body: Record<string, unknown>, options = {}) => t.call('POST', '/v1/checkout/orders', body, options);

describe('checkout', () => {
  it('quote -> checkout holds stock and coupon -> commit -> refund; idempotent per order; a different request for the order is refused', async () => {
    const { t, flash, coupon, tpl } = await setup();
    const body = { user_id: 'u1', cart, coupon_codes: [coupon.code] };
    const q = await quote(t, body);
    expect(q).toMatchObject({ subtotal: 23000, discount: 5000, shipping_fee: 1000, shipping_discount: 0, total: 19000 });
    expect(q.applied.map((a: { name: string }) => a.name)).toEqual(['flash', 'mj', 'c1000']);
    const order = must(await checkout(t, { ...body, order_id: 'o1', quote_hash: q.quote_hash }), 200).body;
    expect(order).toMatchObject({ order_id: 'o1', status: 'reserved', quote: { total: 19000, quote_hash: q.quote_hash } });
    expect(must(await checkout(t, { ...body, order_id: 'o1', quote_hash: q.quote_hash }), 200).body).toEqual(order);
    const other = await checkout(t, { ...body, cart: { lines: [cart.lines[0]] }, order_id: 'o1', quote_hash: q.quote_hash });
    expect([other.status, other.body.error.code]).toEqual([409, 'order_mismatch']);
    expect(must(await t.call('GET', `/v1/promotions/${flash.promotion_id}`), 200).body.stock[0]).toMatchObject({ sold: 1 });
    expect(must(await t.call('GET', `/v1/coupons/${coupon.coupon_id}`), 200).body).toMatchObject({ status: 'locked', order_id: 'o1' });

    expect(must(await t.call('POST', '/v1/checkout/orders/o1/commit'), 200).body.status).toBe('committed');
    expect(must(await t.call('POST', '/v1/checkout/orders/o1/commit'), 200).body.status).toBe('committed');
    expect(must(await t.call('GET', `/v1/coupons/${coupon.coupon_id}`), 200).body.status).toBe('used');
    expect(must(await t.call('GET', `/v1/coupons/templates/${tpl.template_id}`), 200).body.used_count).toBe(1);
    const late = await t.call('POST', '/v1/checkout/orders/o1/release');
    expect([late.status, late.body.error.code]).toEqual([409, 'order_state']);

    expect(must(await t.call('POST', '/v1/checkout/orders/o1/refund'), 200).body.status).toBe('refunded');
    expect(must(await t.call('GET', `/v1/coupons/${coupon.coupon_id}`), 200).body.status).toBe('available');
    expect(must(await t.call('GET', `/v1/promotions/${flash.promotion_id}`), 200).body.stock[0]).toMatchObject({ sold: 0 });
    expect(must(await t.call('GET', '/v1/checkout/orders/o1'), 200).body.status).toBe('refunded');
    expect((await t.call('GET', '/v1/checkout/orders/nope')).body.error.code).toBe('order_not_found');
  });

  it('a quote no longer valid is refused with the reason, never re-priced; release gives everything back', async () => {
    const { t, coupon, flash } = await setup();
    const body = { user_id: 'u1', cart, coupon_codes: [coupon.code] };
    const q = await quote(t, body);
    must(await checkout(t, { ...body, order_id: 'o1', quote_hash: q.quote_hash }), 200);
    // The coupon is held by o1: the same quote for another order is stale.
    const stale = await checkout(t, { ...body, order_id: 'o2', quote_hash: q.quote_hash }, zh);
    expect([stale.status, stale.body.error.code, stale.body.error.message]).toEqual([409, 'quote_changed', '价格已变化，请重新计算']);
    expect(stale.body.error.details.not_applied).toContainEqual({ id: coupon.coupon_id, reason: 'not_available' });
    const fresh = await quote(t, body);
    expect(fresh.total).toBe(20000);
    expect(fresh.not_applied.find((n: { id: string }) => n.id === coupon.coupon_id)).toMatchObject({ reason: 'not_available' });
    expect(must(await t.call('POST', '/v1/checkout/orders/o1/release'), 200).body.status).toBe('released');
    expect(must(await t.call('GET', `/v1/coupons/${coupon.coupon_id}`), 200).body.status).toBe('available');
    expect(must(await t.call('GET', `/v1/promotions/${flash.promotion_id}`), 200).body.stock[0]).toMatchObject({ sold: 0 });
    expect((await t.call('POST', '/v1/checkout/orders/o1/commit')).body.error.code).toBe('order_state');
    // Wrong hash altogether.
    const wrong = await checkout(t, { ...body, order_id: 'o3', quote_hash: 'f'.repeat(32) });
    expect([wrong.status, wrong.body.error.code, wrong.body.error.details.total]).toEqual([409, 'quote_changed', 19000]);
  });

  it('an unpaid order lapses at its TTL: the sweep gives its coupon and stock back; a late commit is refused', async () => {
    const { app, clock, t, coupon, flash } = await setup();
    const body = { user_id: 'u1', cart, coupon_codes: [coupon.code] };
    const q = await quote(t, body);
    must(await checkout(t, { ...body, order_id: 'o1', quote_hash: q.quote_hash, ttl_seconds: 60 }), 200);
    clock.set(new Date(clock.now().getTime() + 61_000));
    expect(must(await t.call('GET', '/v1/checkout/orders/o1'), 200).body.status).toBe('expired');
    const late = await t.call('POST', '/v1/checkout/orders/o1/commit');
    expect([late.status, late.body.error.code]).toEqual([409, 'order_state']);
    expect(await app.app.services.checkout.releaseLapsed()).toBeGreaterThanOrEqual(1);
    expect(must(await t.call('GET', `/v1/coupons/${coupon.coupon_id}`), 200).body.status).toBe('available');
    expect(must(await t.call('GET', `/v1/promotions/${flash.promotion_id}`), 200).body.stock[0]).toMatchObject({ sold: 0 });
  });

  it('bad input is a clear 4xx: negative price, empty cart, 10,000 lines, unknown coupon, missing quote_hash', async () => {
    const { t } = await setup();
    const line = { item_id: 'a', unit_price: 100, quantity: 1 };
    const bad = async (body: Record<string, unknown>, url = '/v1/checkout/quote') => {
      const r = await t.call('POST', url, body);
      return [r.status, r.body.error?.code];
    };
    expect(await bad({ user_id: 'u', cart: { lines: [{ ...line, unit_price: -1 }] } })).toEqual([400, 'invalid_request']);
    expect(await bad({ user_id: 'u', cart: { lines: [] } })).toEqual([400, 'invalid_request']);
    expect((await bad({ user_id: 'u', cart: { lines: Array.from({ length: 10_000 }, () => line) } }))[0]).toBeGreaterThanOrEqual(400);
    expect(await bad({ user_id: 'u', cart: { lines: [line] }, coupon_codes: ['NOPE'] })).toEqual([422, 'unknown_coupon_code']);
    expect(await bad({ user_id: 'u', cart: { lines: [line] }, order_id: 'o' }, '/v1/checkout/orders')).toEqual([400, 'invalid_request']);
    expect(await bad({ user_id: 'u', cart: { lines: [{ ...line, quantity: 0 }] } })).toEqual([400, 'invalid_request']);
  });

  it('stats: quotes, paid orders, participants, conversion, discount spent and revenue per offer', async () => {
    const { app, t, coupon, mj } = await setup();
    const body = { user_id: 'u1', cart, coupon_codes: [coupon.code] };
    const q = await quote(t, body);
    await quote(t, body);
    must(await checkout(t, { ...body, order_id: 'o1', quote_hash: q.quote_hash }), 200);
    must(await t.call('POST', '/v1/checkout/orders/o1/commit'), 200);
    await app.app.services.checkout.flushQuoteCounts();
    const stats = must(await t.call('GET', '/v1/checkout/stats', undefined, { query: { offer_id: mj.promotion_id } }), 200).body.offers;
    expect(stats).toEqual([
      { offer_kind: 'promotion', offer_id: mj.promotion_id, quotes: 2, orders: 1, paid_orders: 1, participants: 1, conversion: 0.5, discount_spent: 2000, revenue: 19000, roi: 9.5 },
    ]);
  });

  it('reasons an offer is left out: not in the audience, an expired coupon; messages in Chinese', async () => {
    const clock = new ManualClock(new Date(T0.getTime() - 60_000));
    const t = await (await testApp({ clock })).newTenant();
    const audience = must(await t.call('POST', '/v1/audiences', { audience_name: 'vip', audience_type: 'LIST', product_code: t.productCode }, { key: t.admin }), 201).body;
    must(await t.call('POST', `/v1/audiences/${audience.audience_id}/members`, { user_ids: ['vip'] }, { key: t.admin }), 200);
    const vipOnly = must(await t.call('POST', '/v1/promotions', { name: 'vip', promotion_type: 'bulk_discount', ...window, audience_id: audience.audience_id, bulk_discount: { tiers: [{ threshold: 1000, off: 300 }] } }, { key: t.admin }), 201).body;
    const short = must(await t.call('POST', '/v1/coupons/templates', { name: 'short', coupon_type: 'discount', value: 100, valid_until: new Date(T0.getTime() + 120_000).toISOString() }, { key: t.admin }), 201).body;
    const code = async (user: string) => must(await t.call('POST', `/v1/coupons/templates/${short.template_id}/issue`, { user_id: user }, { key: t.admin }), 201).body.code as string;
    const [vipCode, otherCode] = [await code('vip'), await code('other')];
    clock.set(new Date(T0.getTime() + 60_000));
    const small = { lines: [{ item_id: 'x', unit_price: 2000, quantity: 1 }] };
    const vip = await quote(t, { user_id: 'vip', cart: small, coupon_codes: [vipCode] });
    expect([vip.total, vip.applied.map((a: { id: string }) => a.id)]).toEqual([1600, [vipOnly.promotion_id, expect.any(String)]]);
    const other = must(await t.call('POST', '/v1/checkout/quote', { user_id: 'other', cart: small, coupon_codes: [otherCode] }, zh), 200).body;
    expect(other.not_applied).toEqual([{ kind: 'promotion', id: vipOnly.promotion_id, name: 'vip', code: null, reason: 'not_in_audience', message: '您不能参与该活动', details: {} }]);
    expect(other.total).toBe(1900);
    clock.set(new Date(T0.getTime() + 180_000));
    const expired = await quote(t, { user_id: 'other', cart: small, coupon_codes: [otherCode] });
    expect(expired.not_applied.map((n: { reason: string }) => n.reason).sort()).toEqual(['expired', 'not_in_audience']);
    expect(expired.total).toBe(2000);
  });
});
