import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../platform/clock.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { STACKING_CASES } from './stacking.cases.js';
import { createCaseOffers } from './testing/checkout-fixture.js';

const T0 = new Date('2034-05-01T00:00:00Z');

describe('the quote route prices every stacking case as the engine does', async () => {
  const clock = new ManualClock(new Date(T0.getTime() - 60_000));
  const app = await testApp({ clock });
  const setups = [];
  for (const c of STACKING_CASES) {
    const t = await app.newTenant();
    setups.push({ c, t, ...(await createCaseOffers(t, c, T0, 'u1')) });
  }
  clock.set(new Date(T0.getTime() + 60_000));

  it.each(setups.map((s) => [s.c.name, s] as const))('%s', async (_name, { c, t, codes }) => {
    const q = must(await t.call('POST', '/v1/checkout/quote', { user_id: 'u1', cart: c.cart, coupon_codes: codes.length > 0 ? codes : undefined }), 200).body;
    expect([q.discount, q.shipping_discount, q.total]).toEqual([c.expect.discount, c.expect.shipping_discount, c.expect.total]);
    // Real ids are generated: offers are named after the case's ids. On equal savings the
    // smaller real id wins, so a tie case checks the totals only.
    if (!c.name.includes('deterministically')) {
      expect(q.applied.map((a: { name: string }) => a.name).sort()).toEqual([...c.expect.applied].sort());
      if (c.expect.not_applied) {
        expect(Object.fromEntries(q.not_applied.map((n: { name: string; reason: string }) => [n.name, n.reason]))).toEqual(c.expect.not_applied);
      }
    }
    if (c.expect.line_discounts) expect(q.lines.map((l: { discount: number }) => l.discount)).toEqual(c.expect.line_discounts);
    if (c.expect.gifts) expect(q.gifts).toEqual(c.expect.gifts);
    expect(q.applied.reduce((a: number, o: { discount: number }) => a + o.discount, 0)).toBe(q.discount);
    expect(q.quote_hash).toMatch(/^[0-9a-f]{32}$/);
  });
});
