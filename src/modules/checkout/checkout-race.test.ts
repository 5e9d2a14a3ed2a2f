import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../platform/clock.js';
import { must, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';

const T0 = new Date('2034-07-01T00:00:00Z');
const window = { start_time: T0.toISOString(), end_time: new Date(T0.getTime() + 86_400_000).toISOString() };
const line = { item_id: 'hot', unit_price: 10000, quantity: 1 };

async function started(setup: (t: TenantFixture) => Promise<void>) {
  const clock = new ManualClock(new Date(T0.getTime() - 60_000));
  const t = await (await testApp({ clock })).newTenant();
  await setup(t);
  clock.set(new Date(T0.getTime() + 60_000));
  return t;
}

/** Quote then check out, as a client does; the answer of the checkout. */
async function buy(t: TenantFixture, user: string, order: string, extra: Record<string, unknown> = {}) {
  const body = { user_id: user, cart: { lines: [line] }, ...extra };
  const q = must(await t.call('POST', '/v1/checkout/quote', body), 200).body;
  return t.call('POST', '/v1/checkout/orders', { ...body, order_id: order, quote_hash: q.quote_hash });
}

describe('checkout races hold exactly', () => {
  it('a flash-sale item with stock 20 under 500 parallel checkouts: exactly 20', async () => {
    let promotionId = '';
    const t = await started(async (t) => {
      promotionId = must(await t.call('POST', '/v1/promotions', { name: 'hot', promotion_type: 'flash_sale', ...window, flash_sale: { items: [{ item_id: 'hot', special_price: 100, stock: 20 }] } }, { key: t.admin }), 201).body.promotion_id;
    });
    const answers = await Promise.all(Array.from({ length: 500 }, (_, i) => buy(t, `u${i}`, `o${i}`)));
    // Exactly 20 orders hold the sale price. A client whose quote already showed the sale sold out
    // checks out at the list price it was shown (no stock taken); everyone else is refused.
    const ok = answers.filter((r) => r.status === 200);
    const atSalePrice = ok.filter((r) => r.body.quote.applied.some((a: { id: string }) => a.id === promotionId));
    expect(atSalePrice.length).toBe(20);
    for (const r of ok.filter((x) => !atSalePrice.includes(x))) expect([r.body.quote.total, r.body.quote.applied]).toEqual([10000, []]);
    for (const r of answers.filter((x) => x.status !== 200)) {
      expect([r.status, ['promotion_sold_out', 'quote_changed'].includes(r.body.error.code)]).toEqual([409, true]);
    }
    expect(must(await t.call('GET', `/v1/promotions/${promotionId}`), 200).body.stock[0]).toMatchObject({ stock: 20, sold: 20 });
  });

  it('one coupon under 50 parallel checkouts of different orders: exactly one holds it', async () => {
    let code = '';
    const t = await started(async (t) => {
      const tpl = must(await t.call('POST', '/v1/coupons/templates', { name: 'c', coupon_type: 'discount', value: 500 }, { key: t.admin }), 201).body;
      code = must(await t.call('POST', `/v1/coupons/templates/${tpl.template_id}/issue`, { user_id: 'u' }, { key: t.admin }), 201).body.code;
    });
    const body = { user_id: 'u', cart: { lines: [line] }, coupon_codes: [code] };
    const q = must(await t.call('POST', '/v1/checkout/quote', body), 200).body;
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => t.call('POST', '/v1/checkout/orders', { ...body, order_id: `o${i}`, quote_hash: q.quote_hash })));
    expect(answers.filter((r) => r.status === 200).length).toBe(1);
    for (const r of answers.filter((x) => x.status !== 200)) {
      expect([r.status, ['coupon_locked', 'quote_changed'].includes(r.body.error.code)]).toEqual([409, true]);
    }
  });

  it("one user's parallel checkouts within a per-user limit of 3: exactly 3 units", async () => {
    let promotionId = '';
    const t = await started(async (t) => {
      promotionId = must(await t.call('POST', '/v1/promotions', { name: 'hot', promotion_type: 'flash_sale', ...window, flash_sale: { items: [{ item_id: 'hot', special_price: 100, stock: 100, per_user_limit: 3 }] } }, { key: t.admin }), 201).body.promotion_id;
    });
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => buy(t, 'same-user', `o${i}`)));
    expect(answers.filter((r) => r.status === 200).length).toBe(3);
    for (const r of answers.filter((x) => x.status !== 200)) expect(r.body.error.code).toBe('promotion_per_user_limit_reached');
    expect(must(await t.call('GET', `/v1/promotions/${promotionId}`), 200).body.stock[0].sold).toBe(3);
  });
});
