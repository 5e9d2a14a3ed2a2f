import { describe, expect, it, vi } from 'vitest';
import { must, type Reply, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { ManualClock } from '../../platform/clock.js';

const SECOND = 1000;
const iso = (ms: number) => new Date(ms).toISOString();

function expectError(reply: Reply, status: number, code: string, details?: Record<string, unknown>) {
  expect({ status: reply.status, code: reply.body?.error?.code }, JSON.stringify(reply.body)).toEqual({ status, code });
  if (details) expect(reply.body.error.details).toMatchObject(details);
}

async function newReward(t: TenantFixture, overrides: Record<string, unknown> = {}) {
  const body = { reward_name: 'Limited mug', reward_type: 'PHYSICAL', product_code: t.productCode, total_stock: 10, config: { generator: { sku: 'MUG' } }, ...overrides };
  return must(await t.call('POST', '/v1/rewards', body), 201).body as { reward_id: string };
}

const reserve = (t: TenantFixture, body: Record<string, unknown>) => t.call('POST', '/v1/inventory/reserve', body);
const reserved = async (t: TenantFixture, body: Record<string, unknown>) => must(await reserve(t, body), 201).body;
const confirm = (t: TenantFixture, id: string) => t.call('POST', `/v1/inventory/${id}/confirm`);
const cancel = (t: TenantFixture, id: string) => t.call('POST', `/v1/inventory/${id}/cancel`);
const stockOf = async (t: TenantFixture, rewardId: string) => must(await t.call('GET', `/v1/rewards/${rewardId}`), 200).body.stock;

async function reservations(t: TenantFixture, query: Record<string, string | number> = {}) {
  return must(await t.call('GET', '/v1/inventory/reservations', undefined, { query: { page_size: 500, ...query } }), 200).body as {
    reservations: Record<string, any>[];
    pagination: { total: number; page: number; page_size: number };
  };
}

const findReservation = async (t: TenantFixture, id: string) => (await reservations(t)).reservations.find((r) => r.reservation_id === id);

/**
 * A new app (its own services) whose sold-out gate never forgets: the gate remembers a sold-out
 * answer for 1 s of `Date.now`, which it captures when the app is built, so building the app
 * under a frozen Date makes a stale sold-out answer show however slow the run is. Close it with
 * `app.app.close()`.
 */
async function appWithFrozenGate(clock: ManualClock = new ManualClock(new Date())): Promise<TestApp> {
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    return await testApp({ clock });
  } finally {
    vi.useRealTimers();
  }
}

interface Ctx {
  app: TestApp;
  clock: ManualClock;
  t: TenantFixture;
}

/**
 * An app whose clock starts at the real time (whole seconds) and moves only by hand. Near real
 * time on purpose: the expiry sweep covers every tenant of the shared database, and must not
 * expire the live reservations of other suites running at the same time.
 */
async function withClock(fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  const clock = new ManualClock(new Date(Math.floor(Date.now() / SECOND) * SECOND));
  const app = await testApp({ clock });
  try {
    await fn({ app, clock, t: await app.newTenant() });
  } finally {
    await app.app.close();
  }
}

describe('inventory: reserve, confirm, cancel', () => {
  it('reserves units (reserved), confirms them (used) and cancels others (given back)', () =>
    withClock(async ({ t, clock }) => {
      const T0 = clock.now().getTime();
      const reward = await newReward(t, { total_stock: 10 });

      const r1 = await reserved(t, { reward_id: reward.reward_id, quantity: 3, user_id: 'u1' });
      expect(r1).toEqual({
        reservation_id: expect.stringMatching(/^rsv_/),
        tenant_id: t.tenantId,
        reward_id: reward.reward_id,
        user_id: 'u1',
        quantity: 3,
        status: 'RESERVED',
        expires_at: iso(T0 + 900 * SECOND),
        confirmed_at: null,
        released_at: null,
        created_at: iso(T0),
        updated_at: iso(T0),
      });
      expect(await stockOf(t, reward.reward_id)).toEqual({ total: 10, reserved: 3, used: 0, available: 7 });

      clock.advance(10 * SECOND);
      const confirmed = must(await confirm(t, r1.reservation_id), 200).body;
      expect(confirmed).toEqual({ ...r1, status: 'CONFIRMED', confirmed_at: iso(T0 + 10 * SECOND), updated_at: iso(T0 + 10 * SECOND) });
      expect(await stockOf(t, reward.reward_id)).toEqual({ total: 10, reserved: 0, used: 3, available: 7 });

      const r2 = await reserved(t, { reward_id: reward.reward_id, quantity: 2, ttl_seconds: 60 });
      expect(r2).toMatchObject({ user_id: null, quantity: 2, expires_at: iso(T0 + 70 * SECOND) });
      expect(await stockOf(t, reward.reward_id)).toEqual({ total: 10, reserved: 2, used: 3, available: 5 });
      clock.advance(5 * SECOND);
      const cancelled = must(await cancel(t, r2.reservation_id), 200).body;
      expect(cancelled).toEqual({ ...r2, status: 'CANCELLED', released_at: iso(T0 + 15 * SECOND), updated_at: iso(T0 + 15 * SECOND) });
      expect(await stockOf(t, reward.reward_id)).toEqual({ total: 10, reserved: 0, used: 3, available: 7 });
    }));

  it('reserves from unlimited stock, counting what is held', async () => {
    const t = await (await testApp()).newTenant();
    const reward = await newReward(t, { total_stock: null });
    const r = await reserved(t, { reward_id: reward.reward_id, quantity: 1000 });
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: null, reserved: 1000, used: 0, available: null });
    must(await confirm(t, r.reservation_id), 200);
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: null, reserved: 0, used: 1000, available: null });
  });

  it('refuses more than is available: 409 inventory_exhausted, and nothing is held', async () => {
    const t = await (await testApp()).newTenant();
    const reward = await newReward(t, { total_stock: 5 });
    await reserved(t, { reward_id: reward.reward_id, quantity: 2 });
    expectError(await reserve(t, { reward_id: reward.reward_id, quantity: 4 }), 409, 'inventory_exhausted', { reward_id: reward.reward_id });
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: 5, reserved: 2, used: 0, available: 3 });
    // Exactly what is left can be held, then nothing more.
    await reserved(t, { reward_id: reward.reward_id, quantity: 3 });
    expectError(await reserve(t, { reward_id: reward.reward_id, quantity: 1 }), 409, 'inventory_exhausted');
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: 5, reserved: 5, used: 0, available: 0 });
    expect((await reservations(t, { reward_id: reward.reward_id })).pagination.total).toBe(2);
  });

  it('shares the stock with grants: held units cannot be granted, confirmed ones count as used', async () => {
    const t = await (await testApp()).newTenant();
    const reward = await newReward(t, { total_stock: 5 });
    const r = await reserved(t, { reward_id: reward.reward_id, quantity: 3 });
    expectError(await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'u1', quantity: 3, source: 'o', source_id: '1' }), 409, 'inventory_exhausted');
    must(await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'u1', quantity: 2, source: 'o', source_id: '2' }), 201);
    expectError(await reserve(t, { reward_id: reward.reward_id, quantity: 1 }), 409, 'inventory_exhausted');
    must(await confirm(t, r.reservation_id), 200);
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: 5, reserved: 0, used: 5, available: 0 });
  });

  it('gives cancelled units back to grants at once (the sold-out answer is cleared)', async () => {
    const app = await appWithFrozenGate();
    try {
      const t = await app.newTenant();
      const reward = await newReward(t, { total_stock: 1 });
      const r = await reserved(t, { reward_id: reward.reward_id, quantity: 1 });
      expectError(await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'inventory_exhausted');
      must(await cancel(t, r.reservation_id), 200);
      must(await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'u1' }), 201);
    } finally {
      await app.app.close();
    }
  });

  it('validates the request and refuses unknown or expired rewards', () =>
    withClock(async ({ t, clock }) => {
      const T0 = clock.now().getTime();
      const reward = await newReward(t);
      expectError(await reserve(t, { reward_id: reward.reward_id, quantity: 0 }), 400, 'invalid_request', { field: 'quantity' });
      expectError(await reserve(t, { reward_id: reward.reward_id, quantity: 1001 }), 400, 'invalid_request', { field: 'quantity' });
      expectError(await reserve(t, { reward_id: reward.reward_id, quantity: 1, ttl_seconds: 0 }), 400, 'invalid_request', { field: 'ttl_seconds' });
      expectError(await reserve(t, { reward_id: reward.reward_id, quantity: 1, ttl_seconds: 86_401 }), 400, 'invalid_request', { field: 'ttl_seconds' });
      expectError(await reserve(t, { reward_id: reward.reward_id }), 400, 'invalid_request', { field: 'quantity' });
      expectError(await reserve(t, { reward_id: reward.reward_id, quantity: 1, note: 'x' }), 400, 'invalid_request', { field: 'note' });
      expectError(await reserve(t, { reward_id: 'rwd_missing', quantity: 1 }), 404, 'reward_not_found');
      expectError(await confirm(t, 'rsv_missing'), 404, 'reservation_not_found', { reservation_id: 'rsv_missing' });
      expectError(await cancel(t, 'rsv_missing'), 404, 'reservation_not_found');

      const expiring = await newReward(t, { valid_until: iso(T0 + 60 * SECOND) });
      await reserved(t, { reward_id: expiring.reward_id, quantity: 1 });
      clock.advance(60 * SECOND);
      expectError(await reserve(t, { reward_id: expiring.reward_id, quantity: 1 }), 409, 'reward_expired');
      expect(await stockOf(t, expiring.reward_id)).toMatchObject({ reserved: 1 });
      expectError(await t.call('POST', '/v1/inventory/reserve', { reward_id: reward.reward_id, quantity: 1 }, { key: t.readonly }), 403, 'read_only_key');
    }));
});

describe('inventory: expiry and transitions', () => {
  it('refuses to confirm once expires_at is reached: 409 reservation_expired, the units stay held until released', () =>
    withClock(async ({ t, clock }) => {
      const reward = await newReward(t, { total_stock: 4 });
      const early = await reserved(t, { reward_id: reward.reward_id, quantity: 1, ttl_seconds: 60 });
      const late = await reserved(t, { reward_id: reward.reward_id, quantity: 2, ttl_seconds: 60 });
      clock.advance(60 * SECOND - 1);
      must(await confirm(t, early.reservation_id), 200);
      clock.advance(1);
      expectError(await confirm(t, late.reservation_id), 409, 'reservation_expired', { expires_at: late.expires_at });
      expect((await findReservation(t, late.reservation_id))!.status).toBe('RESERVED');
      expect(await stockOf(t, reward.reward_id)).toEqual({ total: 4, reserved: 2, used: 1, available: 1 });
      // Cancelling an overdue reservation gives its units back at once.
      expect(must(await cancel(t, late.reservation_id), 200).body.status).toBe('CANCELLED');
      expect(await stockOf(t, reward.reward_id)).toEqual({ total: 4, reserved: 0, used: 1, available: 3 });
    }));

  it('confirm twice, cancel a confirmed one, cancel twice, confirm a cancelled one: 409 invalid_reservation_transition', async () => {
    const t = await (await testApp()).newTenant();
    const reward = await newReward(t, { total_stock: 10 });
    const a = await reserved(t, { reward_id: reward.reward_id, quantity: 2 });
    const b = await reserved(t, { reward_id: reward.reward_id, quantity: 3 });
    const confirmedA = must(await confirm(t, a.reservation_id), 200).body;
    expectError(await confirm(t, a.reservation_id), 409, 'invalid_reservation_transition', { status: 'CONFIRMED' });
    expectError(await cancel(t, a.reservation_id), 409, 'invalid_reservation_transition', { status: 'CONFIRMED' });
    must(await cancel(t, b.reservation_id), 200);
    expectError(await cancel(t, b.reservation_id), 409, 'invalid_reservation_transition', { status: 'CANCELLED' });
    expectError(await confirm(t, b.reservation_id), 409, 'invalid_reservation_transition', { status: 'CANCELLED' });
    // The refused calls moved no units.
    expect(await stockOf(t, reward.reward_id)).toEqual({ total: 10, reserved: 0, used: 2, available: 8 });
    expect(await findReservation(t, a.reservation_id)).toEqual(confirmedA);
  });

  it('the expiry sweep marks overdue reservations EXPIRED and gives their units back', () =>
    withClock(async ({ app, t, clock }) => {
      const T0 = clock.now().getTime();
      const reward = await newReward(t, { total_stock: 10 });
      const short = await reserved(t, { reward_id: reward.reward_id, quantity: 3, ttl_seconds: 60 });
      const long = await reserved(t, { reward_id: reward.reward_id, quantity: 2, ttl_seconds: 600 });
      const kept = await reserved(t, { reward_id: reward.reward_id, quantity: 1, ttl_seconds: 60 });
      const dropped = await reserved(t, { reward_id: reward.reward_id, quantity: 1, ttl_seconds: 60 });
      must(await confirm(t, kept.reservation_id), 200);
      must(await cancel(t, dropped.reservation_id), 200);
      expect(await stockOf(t, reward.reward_id)).toEqual({ total: 10, reserved: 5, used: 1, available: 4 });

      // Not yet due: the sweep leaves them alone.
      clock.set(new Date(T0 + 60 * SECOND - 1));
      await app.app.services.inventory.expireDue();
      expect((await findReservation(t, short.reservation_id))!.status).toBe('RESERVED');

      clock.set(new Date(T0 + 61 * SECOND));
      expect(await app.app.services.inventory.expireDue()).toBeGreaterThanOrEqual(1);
      expect(await findReservation(t, short.reservation_id)).toMatchObject({ status: 'EXPIRED', released_at: iso(T0 + 61 * SECOND), confirmed_at: null });
      expect((await findReservation(t, long.reservation_id))!.status).toBe('RESERVED');
      expect((await findReservation(t, kept.reservation_id))!.status).toBe('CONFIRMED');
      expect((await findReservation(t, dropped.reservation_id))!.status).toBe('CANCELLED');
      expect(await stockOf(t, reward.reward_id)).toEqual({ total: 10, reserved: 2, used: 1, available: 7 });
      expect((await reservations(t, { status: 'EXPIRED' })).reservations.map((r) => r.reservation_id)).toEqual([short.reservation_id]);

      // An expired reservation is settled: neither confirmed nor cancelled, and a second sweep gives nothing back twice.
      expectError(await confirm(t, short.reservation_id), 409, 'reservation_expired');
      expectError(await cancel(t, short.reservation_id), 409, 'invalid_reservation_transition', { status: 'EXPIRED' });
      await app.app.services.inventory.expireDue();
      expect(await stockOf(t, reward.reward_id)).toEqual({ total: 10, reserved: 2, used: 1, available: 7 });

      clock.set(new Date(T0 + 600 * SECOND));
      await app.app.services.inventory.expireDue();
      expect((await findReservation(t, long.reservation_id))!.status).toBe('EXPIRED');
      expect(await stockOf(t, reward.reward_id)).toEqual({ total: 10, reserved: 0, used: 1, available: 9 });
    }));

  it('units given back by the sweep can be granted at once', async () => {
    const clock = new ManualClock(new Date(Math.floor(Date.now() / SECOND) * SECOND));
    const app = await appWithFrozenGate(clock);
    try {
      const t = await app.newTenant();
      const reward = await newReward(t, { total_stock: 1 });
      await reserved(t, { reward_id: reward.reward_id, quantity: 1, ttl_seconds: 30 });
      expectError(await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'u1' }), 409, 'inventory_exhausted');
      clock.advance(30 * SECOND);
      await app.app.services.inventory.expireDue();
      must(await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'u1' }), 201);
      expect(await stockOf(t, reward.reward_id)).toEqual({ total: 1, reserved: 0, used: 1, available: 0 });
    } finally {
      await app.app.close();
    }
  });
});

describe('inventory: list', () => {
  it('lists newest first, filtered by reward, user and status, paged', () =>
    withClock(async ({ t, clock }) => {
      const a = await newReward(t);
      const b = await newReward(t);
      const r1 = await reserved(t, { reward_id: a.reward_id, quantity: 1, user_id: 'u1' });
      clock.advance(SECOND);
      const r2 = await reserved(t, { reward_id: a.reward_id, quantity: 2, user_id: 'u2' });
      clock.advance(SECOND);
      const r3 = await reserved(t, { reward_id: b.reward_id, quantity: 1, user_id: 'u1' });
      must(await confirm(t, r1.reservation_id), 200);
      must(await cancel(t, r3.reservation_id), 200);

      const ids = async (query: Record<string, string | number> = {}) => (await reservations(t, query)).reservations.map((r) => r.reservation_id);
      expect(await ids()).toEqual([r3.reservation_id, r2.reservation_id, r1.reservation_id]);
      expect(await ids({ reward_id: a.reward_id })).toEqual([r2.reservation_id, r1.reservation_id]);
      expect(await ids({ user_id: 'u1' })).toEqual([r3.reservation_id, r1.reservation_id]);
      expect(await ids({ status: 'CONFIRMED' })).toEqual([r1.reservation_id]);
      expect(await ids({ status: 'CANCELLED' })).toEqual([r3.reservation_id]);
      expect(await ids({ status: 'RESERVED' })).toEqual([r2.reservation_id]);
      expect(await ids({ status: 'EXPIRED' })).toEqual([]);
      expect(await ids({ user_id: 'u1', reward_id: b.reward_id })).toEqual([r3.reservation_id]);
      const page = await reservations(t, { page: 2, page_size: 2 });
      expect(page.reservations.map((r) => r.reservation_id)).toEqual([r1.reservation_id]);
      expect(page.pagination).toEqual({ total: 3, page: 2, page_size: 2 });
      expect((await reservations(t, { status: 'RESERVED' })).reservations[0]).toEqual(r2);
      expectError(await t.call('GET', '/v1/inventory/reservations', undefined, { query: { status: 'HELD' } }), 400, 'invalid_request', { field: 'status' });
      must(await t.call('GET', '/v1/inventory/reservations', undefined, { key: t.readonly }), 200);
    }));
});

describe('inventory: tenant isolation', () => {
  it("another tenant cannot reserve a tenant's reward nor see, confirm or cancel its reservations", async () => {
    const app = await testApp();
    const a = await app.newTenant();
    const b = await app.newTenant();
    const reward = await newReward(a, { total_stock: 5 });
    const r = await reserved(a, { reward_id: reward.reward_id, quantity: 2, user_id: 'u1' });

    expectError(await reserve(b, { reward_id: reward.reward_id, quantity: 1 }), 404, 'reward_not_found');
    expectError(await confirm(b, r.reservation_id), 404, 'reservation_not_found');
    expectError(await cancel(b, r.reservation_id), 404, 'reservation_not_found');
    const listed = await reservations(b);
    expect(listed.reservations).toEqual([]);
    expect(listed.pagination.total).toBe(0);
    expect((await reservations(b, { reward_id: reward.reward_id })).reservations).toEqual([]);
    expectError(await b.call('GET', '/v1/inventory/reservations', undefined, { query: { tenant_id: a.tenantId } }), 403, 'tenant_mismatch');
    expectError(await reserve(b, { tenant_id: a.tenantId, reward_id: reward.reward_id, quantity: 1 }), 403, 'tenant_mismatch');

    expect(await findReservation(a, r.reservation_id)).toEqual(r);
    expect(await stockOf(a, reward.reward_id)).toEqual({ total: 5, reserved: 2, used: 0, available: 3 });
    must(await confirm(a, r.reservation_id), 200);
  });
});
