import { describe, expect, it } from 'vitest';
import { runTransaction } from '../../db/client.js';
import { ManualClock } from '../../platform/clock.js';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { promotionBody } from './testing/promotion-fixture.js';

const T0 = new Date('2033-09-01T00:00:00Z');
// The sweep is global (every tenant): its tests run at a time no other test's reservations lapse by.
const SWEEP_T0 = new Date('2011-06-01T00:00:00Z');

async function setup(clock: ManualClock) {
  const app = await testApp({ clock });
  const t = await app.newTenant();
  const promotions = app.app.services.promotions;
  const create = async (overrides: Record<string, unknown>, start = T0) => must(await t.call('POST', '/v1/promotions', promotionBody(start, overrides), { key: t.admin }), 201).body.promotion_id as string;
  const inTrx = <T>(fn: (trx: Parameters<typeof promotions.reserveLines>[2]) => Promise<T>) => runTransaction(app.database.db, fn);
  const reserve = (order: string, lines: { promotion_id: string; item_id: string; quantity: number }[], user = 'u1', ttl?: number) =>
    inTrx((trx) => promotions.reserveLines(t.tenantId, { user_id: user, order_id: order, lines, ...(ttl ? { ttl_seconds: ttl } : {}) }, trx));
  const settle = (order: string, action: 'commit' | 'release' | 'refund') => inTrx((trx) => promotions.settleOrder(t.tenantId, order, action, trx));
  const sold = async (id: string) => Object.fromEntries((must(await t.call('GET', `/v1/promotions/${id}`), 200).body.stock as { item_id: string; sold: number }[]).map((s) => [s.item_id, s.sold]));
  const counts = async (id: string, user: string) =>
    Object.fromEntries(
      (await app.database.db.selectFrom('promotion_user_count').select(['item_id', 'n']).where('tenant_id', '=', t.tenantId).where('promotion_id', '=', id).where('user_id', '=', user).execute()).map((r) => [r.item_id, r.n]),
    );
  return { app, t, promotions, create, reserve, settle, sold, counts, inTrx };
}

const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
};

describe('promotion reservations of an order (reserveLines, settleOrder)', () => {
  it('one order holds several items of several promotions; the same lines again answer the same; commit, refund over the order', async () => {
    const clock = new ManualClock(new Date(T0.getTime() + 1000));
    const { t, create, reserve, settle, sold, counts } = await setup(clock);
    const flash = await create({ flash_sale: { items: [{ item_id: 'a', special_price: 1, stock: 10, per_user_limit: 5 }, { item_id: 'b', special_price: 1, stock: 5 }] } });
    const gift = await create({ promotion_type: 'gift', flash_sale: undefined, gift: { min_amount: 100, gift_item_id: 'g', gift_stock: 3 } });
    const lines = [
      { promotion_id: flash, item_id: 'a', quantity: 2 },
      { promotion_id: flash, item_id: 'b', quantity: 1 },
      { promotion_id: gift, item_id: 'g', quantity: 1 },
      { promotion_id: flash, item_id: 'a', quantity: 1 },
    ];
    const views = await reserve('o1', lines);
    // Lines of one promotion and item merge; one view per merged line, first appearance first.
    expect(views.map((v) => [v.promotion_id, v.item_id, v.quantity, v.status])).toEqual([
      [flash, 'a', 3, 'reserved'],
      [flash, 'b', 1, 'reserved'],
      [gift, 'g', 1, 'reserved'],
    ]);
    expect(views[0]!.expires_at).toBe(new Date(clock.now().getTime() + 900_000).toISOString());
    expect(await reserve('o1', lines)).toEqual(views);
    expect(await code(reserve('o1', [{ promotion_id: flash, item_id: 'a', quantity: 2 }]))).toBe('promotion_order_mismatch');
    expect(await code(reserve('o1', [{ promotion_id: flash, item_id: 'a', quantity: 3 }], 'u2'))).toBe('promotion_order_mismatch');
    expect([await sold(flash), await sold(gift), await counts(flash, 'u1')]).toEqual([{ a: 3, b: 1 }, { g: 1 }, { a: 3 }]);

    expect((await settle('o1', 'commit')).map((v) => v.status)).toEqual(['committed', 'committed', 'committed']);
    expect((await settle('o1', 'commit')).map((v) => v.status)).toEqual(['committed', 'committed', 'committed']);
    expect(await code(settle('o1', 'release'))).toBe('promotion_reservation_state');
    expect((await settle('o1', 'refund')).map((v) => v.status)).toEqual(['refunded', 'refunded', 'refunded']);
    expect((await settle('o1', 'refund')).map((v) => v.status)).toEqual(['refunded', 'refunded', 'refunded']);
    expect([await sold(flash), await sold(gift), await counts(flash, 'u1')]).toEqual([{ a: 0, b: 0 }, { g: 0 }, { a: 0 }]);
    expect(await code(settle('o1', 'commit'))).toBe('promotion_reservation_state');
    expect(await code(settle('nope', 'commit'))).toBe('promotion_reservation_not_found');

    // The per-promotion routes act on every item of the order in that promotion; refund is one of them.
    await reserve('o2', [{ promotion_id: flash, item_id: 'a', quantity: 1 }, { promotion_id: flash, item_id: 'b', quantity: 2 }, { promotion_id: gift, item_id: 'g', quantity: 1 }]);
    const refundEarly = await t.call('POST', `/v1/promotions/${flash}/refund`, { order_id: 'o2' });
    expect([refundEarly.status, refundEarly.body.error.code, refundEarly.body.error.details.status]).toEqual([409, 'promotion_reservation_state', 'reserved']);
    const committed = must(await t.call('POST', `/v1/promotions/${flash}/commit`, { order_id: 'o2' }), 200).body;
    expect(committed).toMatchObject({ promotion_id: flash, order_id: 'o2', status: 'committed' });
    expect(committed.reservations.map((r: { item_id: string; status: string }) => [r.item_id, r.status])).toEqual([['a', 'committed'], ['b', 'committed']]);
    expect(must(await t.call('POST', `/v1/promotions/${flash}/refund`, { order_id: 'o2' }), 200).body.status).toBe('refunded');
    expect(must(await t.call('POST', `/v1/promotions/${gift}/release`, { order_id: 'o2' }), 200).body.status).toBe('released');
    expect([await sold(flash), await sold(gift)]).toEqual([{ a: 0, b: 0 }, { g: 0 }]);
    expect((await t.call('POST', `/v1/promotions/${gift}/refund`, { order_id: 'o9' })).body.error.code).toBe('promotion_reservation_not_found');
  });

  it('all or nothing: a refused line (sold out, per-user limit, window, audience, item) leaves no row and no unit taken', async () => {
    const clock = new ManualClock(new Date(T0.getTime() + 1000));
    const { t, create, reserve, sold, counts, app } = await setup(clock);
    const flash = await create({ flash_sale: { items: [{ item_id: 'a', special_price: 1, stock: 10, per_user_limit: 5 }, { item_id: 'b', special_price: 1, stock: 1 }] } });
    const later = await create({}, new Date(T0.getTime() + 3_600_000));
    const audience = must(await t.call('POST', '/v1/audiences', { audience_name: 'vip', audience_type: 'LIST', product_code: t.productCode }, { key: t.admin }), 201).body.audience_id as string;
    const vip = await create({ audience_id: audience });
    const a1 = { promotion_id: flash, item_id: 'a', quantity: 1 };
    const cases: [{ promotion_id: string; item_id: string; quantity: number }, string][] = [
      [{ promotion_id: flash, item_id: 'b', quantity: 2 }, 'promotion_sold_out'],
      [{ promotion_id: flash, item_id: 'zz', quantity: 1 }, 'promotion_item_not_found'],
      [{ promotion_id: later, item_id: 'a', quantity: 1 }, 'promotion_not_active'],
      [{ promotion_id: vip, item_id: 'a', quantity: 1 }, 'promotion_not_in_audience'],
      [{ promotion_id: 'prm_nope', item_id: 'a', quantity: 1 }, 'promotion_not_found'],
    ];
    for (const [line, expected] of cases) expect(await code(reserve(`x-${expected}`, [a1, line]))).toBe(expected);
    expect(await code(reserve('x-limit', [{ ...a1, quantity: 4 }, { ...a1, quantity: 2 }]))).toBe('promotion_per_user_limit_reached');
    expect([await sold(flash), await counts(flash, 'u1')]).toEqual([{ a: 0, b: 0 }, {}]);
    const rows = await app.database.db.selectFrom('promotion_reservation').select('order_id').where('tenant_id', '=', t.tenantId).execute();
    expect(rows).toEqual([]);
    // Bad input is 400 invalid_request naming the field.
    for (const [input, field] of [
      [{ lines: [] }, 'lines'],
      [{ lines: [{ ...a1, quantity: 0 }] }, 'lines.0.quantity'],
      [{ lines: [a1], ttl_seconds: 0 }, 'ttl_seconds'],
      [{ lines: [{ ...a1, item_id: '' }] }, 'lines.0.item_id'],
    ] as const) {
      const err = await app.app.services.promotions.reserveLines(t.tenantId, { user_id: 'u1', order_id: 'bad', ...input }, app.database.db).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'invalid_request', details: { field } });
    }
    // The route: ttl_seconds out of range is 400; the window message follows Accept-Language.
    expect((await t.call('POST', `/v1/promotions/${flash}/reserve`, { user_id: 'u', order_id: 'r', item_id: 'a', quantity: 1, ttl_seconds: 0 })).status).toBe(400);
    const early = await t.call('POST', `/v1/promotions/${later}/reserve`, { user_id: 'u', order_id: 'r', item_id: 'a', quantity: 1 }, { headers: { 'accept-language': 'zh-CN' } });
    expect([early.status, early.body.error.code, early.body.error.message, early.body.error.details.reason]).toEqual([400, 'promotion_not_active', '活动未开始或已结束', 'not_started']);
  });

  it('TTL: ttl_seconds on the route; a commit after it is 409 expired; the sweep releases lapsed reservations once', async () => {
    const clock = new ManualClock(new Date(SWEEP_T0.getTime() + 1000));
    const { t, create, reserve, settle, sold, counts, promotions } = await setup(clock);
    const flash = await create({ flash_sale: { items: [{ item_id: 'a', special_price: 1, stock: 10, per_user_limit: 5 }] } }, SWEEP_T0);
    const r = must(await t.call('POST', `/v1/promotions/${flash}/reserve`, { user_id: 'u1', order_id: 'o1', item_id: 'a', quantity: 2, ttl_seconds: 60 }), 200).body;
    expect(r.expires_at).toBe(new Date(clock.now().getTime() + 60_000).toISOString());
    await reserve('o2', [{ promotion_id: flash, item_id: 'a', quantity: 1 }], 'u1');
    clock.advance(61_000);
    // Lapsed but not swept yet: the commit is refused (the hold is over), a release still works.
    const late = await t.call('POST', `/v1/promotions/${flash}/commit`, { order_id: 'o1' });
    expect([late.status, late.body.error.code]).toEqual([409, 'promotion_reservation_expired']);
    // (The sweep is global: other tests' lapsed rows may be in its count; this test looks at its own rows.)
    expect(await promotions.releaseLapsed()).toBeGreaterThanOrEqual(1);
    expect(await reserve('o1', [{ promotion_id: flash, item_id: 'a', quantity: 2 }])).toMatchObject([{ status: 'released' }]);
    await promotions.releaseLapsed();
    expect((await t.call('POST', `/v1/promotions/${flash}/commit`, { order_id: 'o1' })).body.error.code).toBe('promotion_reservation_expired');
    expect(must(await t.call('POST', `/v1/promotions/${flash}/release`, { order_id: 'o1' }), 200).body.status).toBe('released');
    expect([await sold(flash), await counts(flash, 'u1')]).toEqual([{ a: 1 }, { a: 1 }]);
    expect((await settle('o2', 'commit'))[0]!.status).toBe('committed');
    clock.advance(900_000);
    await promotions.releaseLapsed();
    expect([await sold(flash), (await settle('o2', 'commit'))[0]!.status]).toEqual([{ a: 1 }, 'committed']);
  });

  it('live: the tenant promotions active now (window and slots), by priority, cached until a change by this process', async () => {
    const clock = new ManualClock(new Date(T0.getTime() + 1000));
    const { app, t, create, reserve, promotions } = await setup(clock);
    const hour = 3_600_000;
    const flash = await create({ priority: 5, flash_sale: { items: [{ item_id: 'a', special_price: 1, stock: 10, per_user_limit: 2 }] } });
    const bulk = await create({ priority: 10, stacking_group: 'g1', promotion_type: 'bulk_discount', flash_sale: undefined, bulk_discount: { tiers: [{ threshold: 100, off: 10 }] } });
    const slots = { items: [{ item_id: 's', special_price: 1, stock: 3 }], time_slots: [{ start_time: new Date(T0.getTime() + hour).toISOString(), end_time: new Date(T0.getTime() + 2 * hour).toISOString() }] };
    const slotted = await create({ priority: 5, flash_sale: slots });
    const later = await create({ priority: 99 }, new Date(T0.getTime() + 3 * hour));
    const ended = await create({});
    must(await t.call('POST', `/v1/promotions/${ended}/end`, undefined, { key: t.admin }), 200);
    const ids = async () => (await promotions.live(t.tenantId)).map((p) => p.promotion_id);
    const live = await promotions.live(t.tenantId);
    expect(live.map((p) => p.promotion_id)).toEqual([bulk, flash]);
    expect(live[0]).toMatchObject({ name: 'Flash', promotion_type: 'bulk_discount', stacking_group: 'g1', exclusive: false, priority: 10, audience_id: null, scope: { all: true }, stock: [] });
    expect(live[0]!.terms).toEqual({ type: 'bulk_discount', tiers: [{ threshold: 100, off: 10 }] });
    expect(live[1]!.stock).toEqual([{ item_id: 'a', kind: 'flash', left: 10, per_user_limit: 2 }]);
    expect(live[1]!.start_time).toEqual(T0);

    // Cached: a change made elsewhere (written straight to the table) is not seen within the TTL...
    await app.database.db.updateTable('promotion').set({ priority: 1 }).where('tenant_id', '=', t.tenantId).where('promotion_id', '=', bulk).execute();
    expect(await ids()).toEqual([bulk, flash]);
    // ...but a reserve by this process drops the entry (stock left, and the other change, show).
    await reserve('o1', [{ promotion_id: flash, item_id: 'a', quantity: 2 }]);
    const after = await promotions.live(t.tenantId);
    expect([after.map((p) => p.promotion_id), after[0]!.stock[0]!.left]).toEqual([[flash, bulk], 8]);
    // The clock moves the answer without a read: into the slot, then past the window of `later`'s start.
    clock.set(new Date(T0.getTime() + hour + 1));
    expect(await ids()).toEqual([...[flash, slotted].sort(), bulk]);
    clock.set(new Date(T0.getTime() + 3 * hour + 1));
    expect(await ids()).toEqual([later, flash, bulk]);
    must(await t.call('POST', `/v1/promotions/${later}/end`, undefined, { key: t.admin }), 200);
    expect(await ids()).toEqual([flash, bulk]);
    expect(await promotions.live('t_nobody')).toEqual([]);
  });
});
