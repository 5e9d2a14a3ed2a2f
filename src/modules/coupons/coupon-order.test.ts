import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { runTransaction } from '../../db/client.js';
import { AppError } from '../../platform/errors.js';
import { ManualClock } from '../../platform/clock.js';
import { must, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { evaluateCoupon } from './coupon.rules.js';
import type { LockForOrderInput } from './coupon.order.js';

const uid = () => Math.random().toString(36).slice(2, 10);

async function newTemplate(t: TenantFixture, body: Record<string, unknown> = {}) {
  return must(await t.call('POST', '/v1/coupons/templates', { name: 'T', coupon_type: 'discount', value: 500, ...body }, { key: t.admin }), 201).body as { template_id: string };
}
async function claim(t: TenantFixture, templateId: string, userId: string) {
  return must(await t.call('POST', `/v1/coupons/templates/${templateId}/issue`, { user_id: userId }, { key: t.admin }), 201).body as { coupon_id: string; code: string; template_id: string };
}
async function couponFor(t: TenantFixture, userId: string, body: Record<string, unknown> = {}) {
  return claim(t, (await newTemplate(t, body)).template_id, userId);
}
const cart = { lines: [{ item_id: 'sku1', unit_price: 4000, quantity: 1 }], shipping_fee: 0 };

/** Counts the statements that read or write the coupon table (patched on the executors' prototype, so transactions count too). */
function countCouponStatements(app: TestApp) {
  let proto = Object.getPrototypeOf(app.database.db.getExecutor());
  while (proto && !Object.prototype.hasOwnProperty.call(proto, 'executeQuery')) proto = Object.getPrototypeOf(proto);
  const original = proto.executeQuery;
  const counter = {
    n: 0,
    restore: () => {
      proto.executeQuery = original;
    },
  };
  proto.executeQuery = function (this: unknown, compiled: { sql: string }, ...rest: unknown[]) {
    if (/\bcoupon\b(?!_)/.test(compiled.sql)) counter.n++;
    return original.call(this, compiled, ...rest);
  };
  return counter;
}

function services(app: TestApp) {
  const coupons = app.app.services.coupons;
  const db = app.database.db;
  return {
    coupons,
    lock: (tenantId: string, input: Omit<LockForOrderInput, 'cart'> & { cart?: LockForOrderInput['cart'] }) =>
      runTransaction(db, (trx) => coupons.lockForOrder(tenantId, { cart, ...input }, trx)),
    settle: (tenantId: string, orderId: string, action: 'commit' | 'release' | 'refund') => runTransaction(db, (trx) => coupons.settleOrder(tenantId, orderId, action, trx)),
  };
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; details: Record<string, unknown> }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return { code: err.code, details: (err.details ?? {}) as Record<string, unknown> };
    throw err;
  }
  throw new Error('expected a refusal');
}

const statusOf = async (t: TenantFixture, id: string) => must(await t.call('GET', `/v1/coupons/${id}`), 200).body as { status: string; order_id: string | null; locked_until: string | null };

describe('forQuote', () => {
  it("codes name the user's coupons only (any status); the wallet adds what could be usable now, newest first, each once", async () => {
    const clock = new ManualClock('2034-01-01T00:00:00Z');
    const app = await testApp({ clock });
    const t = await app.newTenant();
    const u = `u_${uid()}`;
    const first = await couponFor(t, u, { stacking_group: 'store' });
    clock.advance(1000);
    const soon = await couponFor(t, u, { valid_until: '2034-01-01T01:00:00Z' });
    clock.advance(1000);
    const held = await couponFor(t, u);
    must(await t.call('POST', `/v1/coupons/${held.coupon_id}/lock`, { order_id: 'o1', user_id: u, cart, ttl_seconds: 86_400 }), 200);
    clock.advance(1000);
    const newest = await couponFor(t, u, { coupon_type: 'gift', gift_item_id: 'mug' });
    const others = await couponFor(t, 'someone-else');
    clock.advance(2 * 3600_000); // `soon` is past its validity now (not swept yet)

    const svc = app.app.services.coupons;
    const wallet = await svc.forQuote(t.tenantId, u, { wallet: true });
    expect(wallet.coupons.map((c) => c.coupon_id)).toEqual([newest.coupon_id, first.coupon_id]);
    expect(wallet.unknown_codes).toEqual([]);
    const q = wallet.coupons[1]!;
    expect(q).toMatchObject({ code: first.code, template_id: first.template_id, name: 'T', status: 'available', coupon_type: 'discount', value: 500, stacking_group: 'store', scope: { all: true } });
    expect(evaluateCoupon(q, clock.now(), cart)).toMatchObject({ usable: true, discount: 500 });

    const byCode = await svc.forQuote(t.tenantId, u, { codes: [held.code, others.code, 'NOPE-NOPE', soon.code.toLowerCase(), held.code] });
    expect(byCode.coupons.map((c) => c.coupon_id)).toEqual([held.coupon_id, soon.coupon_id]);
    expect(byCode.coupons[0]).toMatchObject({ status: 'locked', order_id: 'o1' });
    expect(evaluateCoupon(byCode.coupons[1]!, clock.now())).toMatchObject({ usable: false, reason: 'expired' });
    // Another user's code is as unknown as a code of nobody.
    expect(byCode.unknown_codes).toEqual([others.code, 'NOPE-NOPE']);

    const both = await svc.forQuote(t.tenantId, u, { codes: [first.code], wallet: true });
    expect(both.coupons.map((c) => c.coupon_id)).toEqual([first.coupon_id, newest.coupon_id]);
    await expect(svc.forQuote(t.tenantId, u, { codes: Array.from({ length: 101 }, (_, i) => `C${i}`) })).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await svc.forQuote(t.tenantId, u, {})).toEqual({ coupons: [], unknown_codes: [] });
  });

  it('reads no coupon row while the wallet is cached; every change of the user\'s coupons drops it at once; the TTL ends it', async () => {
    const clock = new ManualClock('2035-01-01T00:00:00Z');
    const app = await testApp({ clock });
    const t = await app.newTenant();
    const u = `u_${uid()}`;
    const svc = app.app.services.coupons;
    const tpl = await newTemplate(t, { refund_returns: true, valid_until: '2035-06-01T00:00:00Z' });
    const a = await claim(t, tpl.template_id, u);
    const ids = async () => (await svc.forQuote(t.tenantId, u, { wallet: true })).coupons.map((c) => c.coupon_id).sort();
    const counter = countCouponStatements(app);
    /** Past the TTL (and any tombstone), read once, then the next quote must come from the cache. */
    const warm = async () => {
      clock.advance(2001);
      const fresh = await ids();
      counter.n = 0;
      expect(await ids()).toEqual(fresh);
      expect(counter.n).toBe(0);
      return fresh;
    };
    try {
      expect(await warm()).toEqual([a.coupon_id]);
      // A change behind the service's back is not seen while cached: the quote read nothing.
      await sql`update coupon set status = 'voided' where tenant_id = ${t.tenantId} and coupon_id = ${a.coupon_id}`.execute(app.database.db);
      counter.n = 0;
      expect(await ids()).toEqual([a.coupon_id]);
      expect(counter.n).toBe(0);
      clock.advance(2001);
      expect(await ids()).toEqual([]);
      await sql`update coupon set status = 'available' where tenant_id = ${t.tenantId} and coupon_id = ${a.coupon_id}`.execute(app.database.db);

      // claim (issue and grant take the same path)
      await warm();
      const b = await claim(t, tpl.template_id, u);
      expect(await ids()).toEqual([a.coupon_id, b.coupon_id].sort());
      // lock, release
      await warm();
      must(await t.call('POST', `/v1/coupons/${a.coupon_id}/lock`, { order_id: 'o1', user_id: u, cart }), 200);
      expect(await ids()).toEqual([b.coupon_id]);
      await warm();
      must(await t.call('POST', `/v1/coupons/${a.coupon_id}/release`, { order_id: 'o1' }), 200);
      expect(await ids()).toEqual([a.coupon_id, b.coupon_id].sort());
      // commit (through the document's use), refund
      await warm();
      must(await t.call('POST', `/marketing/coupons/${a.coupon_id}/use`, { order_id: 'o2', user_id: u, order_amount: 5000 }), 200);
      expect(await ids()).toEqual([b.coupon_id]);
      await warm();
      must(await t.call('POST', `/v1/coupons/${a.coupon_id}/refund`, { order_id: 'o2' }), 200);
      expect(await ids()).toEqual([a.coupon_id, b.coupon_id].sort());
      // void
      await warm();
      must(await t.call('POST', `/v1/coupons/${b.coupon_id}/void`, {}, { key: t.admin }), 200);
      expect(await ids()).toEqual([a.coupon_id]);
      // the expiry sweep: cached while still valid, gone once swept
      clock.set('2035-05-31T23:59:57Z');
      await warm(); // now 23:59:59.xxx
      clock.advance(1500);
      expect(await ids()).toEqual([a.coupon_id]);
      expect(await svc.expireDue()).toBeGreaterThanOrEqual(1);
      expect(await ids()).toEqual([]);
    } finally {
      counter.restore();
    }
  });
});

describe('lockForOrder', () => {
  it('locks all the coupons of the order or none, with the rules of `available` (stacking among them and with what the order holds)', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { lock } = services(app);
    const u = `u_${uid()}`;
    const a = await couponFor(t, u, { stacking_group: 'store', value: 700 });
    const b = await couponFor(t, u, { stacking_group: 'store' });
    const c = await couponFor(t, u, { discount_kind: 'percent', value: 10, min_amount: 1000 });
    const ship = await couponFor(t, u, { coupon_type: 'shipping' });
    const d = await couponFor(t, 'other-user');
    const e = await couponFor(t, u);
    must(await t.call('POST', `/v1/coupons/${e.coupon_id}/void`, {}, { key: t.admin }), 200);
    const free = await couponFor(t, u);

    // Line amounts after earlier offers are what the coupons price on.
    const priced = { lines: [{ item_id: 'x', unit_price: 5000, quantity: 1, amount: 3000 }], shipping_fee: 600 };
    const locked = await lock(t.tenantId, { user_id: u, order_id: 'o1', coupon_ids: [a.coupon_id, c.coupon_id, ship.coupon_id], cart: priced });
    expect(locked.map((l) => [l.coupon.coupon_id, l.coupon.status, l.coupon.order_id, l.discount, l.shipping_discount, l.eligible_amount])).toEqual([
      [a.coupon_id, 'locked', 'o1', 700, 0, 3000],
      [c.coupon_id, 'locked', 'o1', 300, 0, 3000],
      [ship.coupon_id, 'locked', 'o1', 0, 600, 3000],
    ]);
    const again = await lock(t.tenantId, { user_id: u, order_id: 'o1', coupon_ids: [c.coupon_id, a.coupon_id], cart: priced });
    expect(again.map((l) => l.coupon.locked_until)).toEqual([locked[1]!.coupon.locked_until, locked[0]!.coupon.locked_until]);

    // The order holds `a` (group store): `b` of the same group is refused for it.
    expect(await refusal(lock(t.tenantId, { user_id: u, order_id: 'o1', coupon_ids: [b.coupon_id] }))).toEqual({
      code: 'coupon_not_usable',
      details: { coupon_id: b.coupon_id, reason: 'not_stackable_with', conflicts_with: [a.coupon_id] },
    });
    const refusals: [string[], string, Record<string, unknown> | null][] = [
      [[free.coupon_id, c.coupon_id], 'coupon_locked', { coupon_id: c.coupon_id }],
      [[free.coupon_id, d.coupon_id], 'coupon_owner_mismatch', { coupon_id: d.coupon_id }],
      [[free.coupon_id, e.coupon_id], 'coupon_not_available', { coupon_id: e.coupon_id, status: 'voided' }],
      [[free.coupon_id, 'cpn_nope'], 'coupon_not_found', null],
    ];
    for (const [ids, code, details] of refusals) {
      const r = await refusal(lock(t.tenantId, { user_id: u, order_id: 'o2', coupon_ids: ids }));
      expect(r.code).toBe(code);
      if (details) expect(r.details).toEqual(details);
      // None: the coupon that was fine is not held either.
      expect((await statusOf(t, free.coupon_id)).status).toBe('available');
    }
    const twoOfAGroup = await refusal(lock(t.tenantId, { user_id: u, order_id: 'o3', coupon_ids: [free.coupon_id, b.coupon_id, (await couponFor(t, u, { stacking_group: 'store' })).coupon_id] }));
    expect(twoOfAGroup).toMatchObject({ code: 'coupon_not_usable', details: { coupon_id: b.coupon_id, reason: 'not_stackable_with' } });
    const min = await couponFor(t, u, { min_amount: 100_000 });
    expect(await refusal(lock(t.tenantId, { user_id: u, order_id: 'o3', coupon_ids: [free.coupon_id, min.coupon_id] }))).toMatchObject({ code: 'coupon_not_usable', details: { reason: 'below_min_amount' } });
    expect((await statusOf(t, free.coupon_id)).status).toBe('available');
    expect(await lock(t.tenantId, { user_id: u, order_id: 'o3', coupon_ids: [] })).toEqual([]);
  });

  it('200 parallel orders lock one coupon: exactly one holds it; 100 parallel orders lock the same two coupons (either order): one holds both, never half', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { lock } = services(app);
    const u = `u_${uid()}`;
    const one = await couponFor(t, u);
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => lock(t.tenantId, { user_id: u, order_id: `ord-${i}`, coupon_ids: [one.coupon_id] })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const codes = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as AppError).code] : []));
    expect(codes).toEqual(Array.from({ length: 199 }, () => 'coupon_locked'));

    const a = await couponFor(t, u);
    const b = await couponFor(t, u);
    const pair = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) => lock(t.tenantId, { user_id: u, order_id: `pair-${i}`, coupon_ids: i % 2 ? [a.coupon_id, b.coupon_id] : [b.coupon_id, a.coupon_id] })),
    );
    const won = pair.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(won).toHaveLength(1);
    expect(new Set(pair.flatMap((r) => (r.status === 'rejected' ? [(r.reason as AppError).code] : [])))).toEqual(new Set(['coupon_locked']));
    const holder = won[0]![0]!.coupon.order_id;
    expect([(await statusOf(t, a.coupon_id)).order_id, (await statusOf(t, b.coupon_id)).order_id]).toEqual([holder, holder]);
  }, 120_000);
});

describe('settleOrder', () => {
  it('commits, releases and refunds every coupon of the order in one go, idempotent; used_count moves per template', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { lock, settle } = services(app);
    const u = `u_${uid()}`;
    const back = await newTemplate(t, { refund_returns: true });
    const kept = await newTemplate(t, {});
    const [a1, a2, k1] = [await claim(t, back.template_id, u), await claim(t, back.template_id, u), await claim(t, kept.template_id, u)];
    const usedCount = async (id: string) => must(await t.call('GET', `/v1/coupons/templates/${id}`), 200).body.used_count as number;
    const ids = [a1.coupon_id, a2.coupon_id, k1.coupon_id];
    await lock(t.tenantId, { user_id: u, order_id: 'o1', coupon_ids: ids });

    const committed = await settle(t.tenantId, 'o1', 'commit');
    expect(committed.map((c) => [c.coupon_id, c.status, c.order_id])).toEqual(ids.sort().map((id) => [id, 'used', 'o1']));
    expect([await usedCount(back.template_id), await usedCount(kept.template_id)]).toEqual([2, 1]);
    expect((await settle(t.tenantId, 'o1', 'commit')).map((c) => c.status)).toEqual(['used', 'used', 'used']);
    expect([await usedCount(back.template_id), await usedCount(kept.template_id)]).toEqual([2, 1]);
    expect(await settle(t.tenantId, 'o1', 'release')).toHaveLength(3); // nothing locked: nothing changes

    const refunded = await settle(t.tenantId, 'o1', 'refund');
    expect(Object.fromEntries(refunded.map((c) => [c.coupon_id, [c.status, c.order_id]]))).toEqual({
      [a1.coupon_id]: ['available', null],
      [a2.coupon_id]: ['available', null],
      [k1.coupon_id]: ['used', 'o1'],
    });
    expect([await usedCount(back.template_id), await usedCount(kept.template_id)]).toEqual([0, 1]);
    expect((await settle(t.tenantId, 'o1', 'refund')).map((c) => c.coupon_id)).toEqual([k1.coupon_id]);
    expect([await usedCount(back.template_id), await usedCount(kept.template_id)]).toEqual([0, 1]);

    await lock(t.tenantId, { user_id: u, order_id: 'o2', coupon_ids: [a1.coupon_id, a2.coupon_id] });
    const released = await settle(t.tenantId, 'o2', 'release');
    expect(released.map((c) => [c.status, c.order_id])).toEqual([['available', null], ['available', null]]);
    expect(await settle(t.tenantId, 'o2', 'release')).toEqual([]);

    // The per-coupon route commits that coupon only.
    await lock(t.tenantId, { user_id: u, order_id: 'o3', coupon_ids: [a1.coupon_id, a2.coupon_id] });
    must(await t.call('POST', `/v1/coupons/${a1.coupon_id}/commit`, { order_id: 'o3' }), 200);
    expect([(await statusOf(t, a1.coupon_id)).status, (await statusOf(t, a2.coupon_id)).status]).toEqual(['used', 'locked']);
  });

  it('a commit that finds a lapsed lock of the order refuses (409 coupon_lock_expired) and commits nothing', async () => {
    const clock = new ManualClock('2036-01-01T00:00:00Z');
    const app = await testApp({ clock });
    const t = await app.newTenant();
    const { lock, settle } = services(app);
    const u = `u_${uid()}`;
    const a = await couponFor(t, u);
    const b = await couponFor(t, u);
    await lock(t.tenantId, { user_id: u, order_id: 'o1', coupon_ids: [a.coupon_id], ttl_seconds: 60 });
    clock.advance(30_000);
    await lock(t.tenantId, { user_id: u, order_id: 'o1', coupon_ids: [b.coupon_id], ttl_seconds: 60 });
    clock.advance(31_000);
    expect(await refusal(settle(t.tenantId, 'o1', 'commit'))).toEqual({ code: 'coupon_lock_expired', details: { coupon_id: a.coupon_id } });
    expect((await statusOf(t, b.coupon_id)).status).toBe('locked');
    // Locking again renews it; then the commit goes through.
    await lock(t.tenantId, { user_id: u, order_id: 'o1', coupon_ids: [a.coupon_id, b.coupon_id] });
    expect((await settle(t.tenantId, 'o1', 'commit')).map((c) => c.status)).toEqual(['used', 'used']);
  });
});

describe('GET /v1/coupons/templates/:id/stats', () => {
  it('claim and use rates, coupons locked, expired and voided now, distinct users: counted by the database', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const tpl = await newTemplate(t, { usage_limit: 10, per_user_limit: 3 });
    const empty = must(await t.call('GET', `/v1/coupons/templates/${tpl.template_id}/stats`, undefined, { key: t.readonly }), 200).body;
    expect(empty).toEqual({
      template_id: tpl.template_id, usage_limit: 10, claimed_count: 0, claim_rate: 0, used_count: 0, use_rate: null,
      available_count: 0, locked_count: 0, expired_count: 0, voided_count: 0, distinct_users: 0,
    });
    const [c1, c2, c3, c4, c5] = [await claim(t, tpl.template_id, 'x'), await claim(t, tpl.template_id, 'x'), await claim(t, tpl.template_id, 'y'), await claim(t, tpl.template_id, 'z'), await claim(t, tpl.template_id, 'z')];
    must(await t.call('POST', `/v1/coupons/${c1.coupon_id}/lock`, { order_id: 'o1', user_id: 'x', cart }), 200);
    must(await t.call('POST', `/marketing/coupons/${c2.coupon_id}/use`, { order_id: 'o2', user_id: 'x', order_amount: 5000 }), 200);
    must(await t.call('POST', `/v1/coupons/${c3.coupon_id}/void`, {}, { key: t.admin }), 200);
    await sql`update coupon set valid_until = now() - interval '1 day' where tenant_id = ${t.tenantId} and coupon_id = ${c4.coupon_id}`.execute(app.database.db);
    const stats = must(await t.call('GET', `/v1/coupons/templates/${tpl.template_id}/stats`), 200).body;
    expect(stats).toEqual({
      template_id: tpl.template_id, usage_limit: 10, claimed_count: 5, claim_rate: 0.5, used_count: 1, use_rate: 0.2,
      available_count: 1, locked_count: 1, expired_count: 1, voided_count: 1, distinct_users: 3,
    });
    expect(c5.coupon_id).toBeTruthy();
    const unlimited = await newTemplate(t, {});
    await claim(t, unlimited.template_id, 'x');
    const three = [await claim(t, unlimited.template_id, 'x'), await claim(t, unlimited.template_id, 'y')];
    must(await t.call('POST', `/marketing/coupons/${three[0]!.coupon_id}/use`, { order_id: 'o3', user_id: 'x', order_amount: 5000 }), 200);
    expect(must(await t.call('GET', `/v1/coupons/templates/${unlimited.template_id}/stats`), 200).body).toMatchObject({ usage_limit: null, claim_rate: null, claimed_count: 3, used_count: 1, use_rate: 0.3333 });
    const missing = await t.call('GET', '/v1/coupons/templates/cpt_nope/stats', undefined, { headers: { 'accept-language': 'zh-CN' } });
    expect([missing.status, missing.body.error.code, missing.body.error.message]).toEqual([404, 'coupon_template_not_found', '优惠券模板不存在']);
  });
});
