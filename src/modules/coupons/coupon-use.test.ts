import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../platform/clock.js';
import { must, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';

async function couponFor(t: TenantFixture, userId: string, body: Record<string, unknown> = {}) {
  const tpl = must(await t.call('POST', '/v1/coupons/templates', { name: 'T', coupon_type: 'discount', value: 500, ...body }, { key: t.admin }), 201).body;
  return must(await t.call('POST', `/v1/coupons/templates/${tpl.template_id}/claim`, { user_id: userId }), 201).body as { coupon_id: string; template_id: string };
}
const cart = { lines: [{ item_id: 'sku1', unit_price: 4000, quantity: 1 }], shipping_fee: 0 };
const lock = (t: TenantFixture, id: string, orderId: string, extra: Record<string, unknown> = {}) =>
  t.call('POST', `/v1/coupons/${id}/lock`, { order_id: orderId, user_id: 'u', cart, ...extra });

describe('coupon use on an order', () => {
  it('lock (idempotent per order) -> commit -> refund; release; void; stable refusals', async () => {
    const t = await (await testApp()).newTenant();
    const c = await couponFor(t, 'u', { refund_returns: true, min_amount: 1000 });
    const first = must(await lock(t, c.coupon_id, 'o1'), 200).body;
    expect(first).toMatchObject({ discount: 500, coupon: { status: 'locked', order_id: 'o1' } });
    const again = must(await lock(t, c.coupon_id, 'o1'), 200).body;
    expect(again.coupon.locked_until).toBe(first.coupon.locked_until);
    const other = await lock(t, c.coupon_id, 'o2');
    expect([other.status, other.body.error.code]).toEqual([409, 'coupon_locked']);
    expect((await t.call('POST', `/v1/coupons/${c.coupon_id}/commit`, { order_id: 'o2' })).body.error.code).toBe('coupon_locked');
    expect(must(await t.call('POST', `/v1/coupons/${c.coupon_id}/commit`, { order_id: 'o1' }), 200).body.status).toBe('used');
    expect(must(await t.call('POST', `/v1/coupons/${c.coupon_id}/commit`, { order_id: 'o1' }), 200).body.status).toBe('used');
    expect(must(await t.call('GET', `/v1/coupons/templates/${c.template_id}`), 200).body.used_count).toBe(1);
    expect((await t.call('POST', `/v1/coupons/${c.coupon_id}/refund`, { order_id: 'o9' })).body.error.code).toBe('coupon_order_mismatch');
    expect(must(await t.call('POST', `/v1/coupons/${c.coupon_id}/refund`, { order_id: 'o1' }), 200).body).toMatchObject({ status: 'available', order_id: null });
    expect(must(await t.call('GET', `/v1/coupons/templates/${c.template_id}`), 200).body.used_count).toBe(0);

    must(await lock(t, c.coupon_id, 'o3'), 200);
    expect(must(await t.call('POST', `/v1/coupons/${c.coupon_id}/release`, { order_id: 'o3' }), 200).body.status).toBe('available');
    expect(must(await t.call('POST', `/v1/coupons/${c.coupon_id}/release`, { order_id: 'o3' }), 200).body.status).toBe('available');

    const small = await lock(t, c.coupon_id, 'o4', { cart: { lines: [{ item_id: 'x', unit_price: 10, quantity: 1 }] } });
    expect([small.status, small.body.error.code, small.body.error.details.reason]).toEqual([422, 'coupon_not_usable', 'below_min_amount']);
    expect((await t.call('POST', `/v1/coupons/${c.coupon_id}/lock`, { order_id: 'o5', user_id: 'someone', cart })).body.error.code).toBe('coupon_owner_mismatch');

    expect((await t.call('POST', `/v1/coupons/${c.coupon_id}/void`, {})).status).toBe(403);
    expect(must(await t.call('POST', `/v1/coupons/${c.coupon_id}/void`, {}, { key: t.admin }), 200).body.status).toBe('voided');
    expect((await lock(t, c.coupon_id, 'o6')).body.error).toMatchObject({ code: 'coupon_not_available', details: { status: 'voided' } });
    expect((await t.call('GET', '/v1/coupons/cpn_nope')).body.error.code).toBe('coupon_not_found');
  });

  it('a refund keeps the coupon used when the template does not return it', async () => {
    const t = await (await testApp()).newTenant();
    const c = await couponFor(t, 'u');
    must(await lock(t, c.coupon_id, 'o1'), 200);
    must(await t.call('POST', `/v1/coupons/${c.coupon_id}/commit`, { order_id: 'o1' }), 200);
    expect(must(await t.call('POST', `/v1/coupons/${c.coupon_id}/refund`, { order_id: 'o1' }), 200).body.status).toBe('used');
  });

  it('the sweeps: a lock past its TTL goes back to the wallet; a coupon past validity expires (400 coupon_expired on lock)', async () => {
    const clock = new ManualClock('2032-01-01T00:00:00Z');
    const app = await testApp({ clock });
    const t = await app.newTenant();
    const c = await couponFor(t, 'u', { valid_until: '2032-01-02T00:00:00Z' });
    must(await lock(t, c.coupon_id, 'o1', { ttl_seconds: 60 }), 200);
    clock.advance(61_000);
    expect(await app.app.services.coupons.releaseLapsedLocks()).toBeGreaterThanOrEqual(1);
    expect(must(await t.call('GET', `/v1/coupons/${c.coupon_id}`), 200).body).toMatchObject({ status: 'available', order_id: null });
    expect((await t.call('POST', `/v1/coupons/${c.coupon_id}/commit`, { order_id: 'o1' })).body.error.code).toBe('coupon_order_mismatch');
    clock.advance(86_400_000);
    expect(must(await t.call('GET', `/v1/coupons?user_id=u&status=expired`), 200).body.coupons).toHaveLength(1);
    expect(await app.app.services.coupons.expireDue()).toBeGreaterThanOrEqual(1);
    const expired = await lock(t, c.coupon_id, 'o2');
    expect([expired.status, expired.body.error.code, expired.body.error.message]).toEqual([400, 'coupon_expired', `Coupon ${c.coupon_id} has expired`]);
    const zh = await t.call('POST', `/v1/coupons/${c.coupon_id}/lock`, { order_id: 'o2', user_id: 'u', cart }, { headers: { 'accept-language': 'zh-CN,zh;q=0.9,en;q=0.5' } });
    expect([zh.body.error.code, zh.body.error.message]).toEqual(['coupon_expired', '优惠券已过期']);
  });

  it('50 parallel locks of one coupon by different orders: exactly one succeeds, 49 get 409 coupon_locked', async () => {
    const t = await (await testApp()).newTenant();
    const c = await couponFor(t, 'u');
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => lock(t, c.coupon_id, `order-${i}`)));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 409 && r.body.error.code === 'coupon_locked')).toHaveLength(49);
  }, 60_000);

  it("the document's paths: available list and use (lock + commit), an expired coupon is 400 优惠券已过期", async () => {
    const clock = new ManualClock('2033-01-01T00:00:00Z');
    const t = await (await testApp({ clock })).newTenant();
    const c = await couponFor(t, 'u', { value: 700, usage_limit: 5, valid_until: '2033-02-01T00:00:00Z' });
    const list = must(await t.call('GET', '/marketing/coupons/available?user_id=u'), 200).body;
    expect(list).toEqual([expect.objectContaining({ id: c.coupon_id, type: 'discount', value: 700, min_amount: 0, expire_at: '2033-02-01T00:00:00.000Z', usage_limit: 5, used_count: 0 })]);
    expect((await t.call('GET', '/marketing/coupons/available?user_id=u', undefined, { key: null })).status).toBe(401);
    const used = must(await t.call('POST', `/marketing/coupons/${c.coupon_id}/use`, { order_id: 'o1', user_id: 'u', order_amount: 5000 }), 200).body;
    expect(used).toMatchObject({ order_id: 'o1', order_amount: 5000, discount_amount: 700, final_amount: 4300, coupon: { status: 'used', used_count: 1 } });
    expect(must(await t.call('POST', `/marketing/coupons/${c.coupon_id}/use`, { order_id: 'o1', user_id: 'u', order_amount: 5000 }), 200).body.coupon.status).toBe('used');

    const d = await couponFor(t, 'u', { valid_until: '2033-01-10T00:00:00Z' });
    clock.set('2033-01-11T00:00:00Z');
    const expired = await t.call('POST', `/marketing/coupons/${d.coupon_id}/use`, { order_id: 'o2', user_id: 'u', order_amount: 5000 });
    expect([expired.status, expired.body.error.code, expired.body.error.message]).toEqual([400, 'coupon_expired', '优惠券已过期']);
    const en = await t.call('POST', `/marketing/coupons/${d.coupon_id}/use`, { order_id: 'o2', user_id: 'u', order_amount: 5000 }, { headers: { 'accept-language': 'en' } });
    expect(en.body.error.message).toBe(`Coupon ${d.coupon_id} has expired`);
  });
});

describe('bad input gets a clear 4xx', () => {
  it('negative prices, empty carts, 10,000-line carts, unknown coupons and templates', async () => {
    const t = await (await testApp()).newTenant();
    const c = await couponFor(t, 'u');
    const bodies = [
      { order_id: 'o', user_id: 'u', cart: { lines: [{ item_id: 'a', unit_price: -1, quantity: 1 }] } },
      { order_id: 'o', user_id: 'u', cart: { lines: [] } },
      { order_id: 'o', user_id: 'u', cart: { lines: Array.from({ length: 10_000 }, (_, i) => ({ item_id: `i${i}`, unit_price: 1, quantity: 1 })) } },
      { order_id: 'o', user_id: 'u', cart: { lines: [{ item_id: 'a', unit_price: 1, quantity: 0 }] } },
      { order_id: '', user_id: 'u', cart },
    ];
    for (const body of bodies) {
      const r = await t.call('POST', `/v1/coupons/${c.coupon_id}/lock`, body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
    }
    expect((await t.call('POST', '/v1/coupons/available', { user_id: 'u', cart: { lines: [] } })).status).toBe(400);
    expect((await t.call('POST', '/v1/coupons/cpn_unknown/lock', { order_id: 'o', user_id: 'u', cart })).body.error.code).toBe('coupon_not_found');
    expect((await t.call('POST', '/marketing/coupons/cpn_unknown/use', { order_id: 'o', user_id: 'u', order_amount: 1 })).body.error).toMatchObject({ code: 'coupon_not_found', message: '优惠券不存在' });
    expect((await t.call('POST', '/v1/coupons/templates/cpt_unknown/claim', { user_id: 'u' })).status).toBe(404);
    expect((await t.call('POST', '/v1/coupons/templates', { name: 'x', coupon_type: 'discount', value: -5 }, { key: t.admin })).status).toBe(400);
  });
});
