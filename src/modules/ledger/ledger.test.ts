import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { must, type Reply, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { ManualClock, systemClock } from '../../platform/clock.js';
import { AppError } from '../../platform/errors.js';
import { createLedgerService, type LedgerAsset, type LedgerService, type PostEntryInput } from './index.js';

function expectError(reply: Reply, status: number, code: string, details?: Record<string, unknown>) {
  expect({ status: reply.status, code: reply.body?.error?.code }, JSON.stringify(reply.body)).toEqual({ status, code });
  if (details) expect(reply.body.error.details).toMatchObject(details);
}

/** Runs `fn` and returns the AppError it throws (failing the test if it throws anything else or nothing). */
async function appError(fn: () => Promise<unknown>): Promise<AppError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected an AppError, nothing was thrown');
}

const uid = (label = 'u') => `${label}_${randomBytes(5).toString('hex')}`;

interface Ctx {
  app: TestApp;
  t: TenantFixture;
  ledger: LedgerService;
}

async function setup(): Promise<Ctx> {
  const app = await testApp();
  return { app, t: await app.newTenant(), ledger: createLedgerService({ db: app.database.db, clock: systemClock }) };
}

/** A GRANT through the service, as the rewards module will post it. */
function grant(ctx: Ctx, userId: string, amount: number, asset: LedgerAsset = 'POINTS', causeId = uid('grant'), extra: Partial<PostEntryInput> = {}) {
  return ctx.ledger.post(ctx.app.database.db, {
    tenantId: ctx.t.tenantId,
    userId,
    asset,
    amount,
    entryType: 'GRANT',
    causeType: 'reward_grant',
    causeId,
    ...extra,
  });
}

const path = (userId: string, rest = 'ledger') => `/v1/users/${encodeURIComponent(userId)}/${rest}`;
const balances = async (t: TenantFixture, userId: string) => must(await t.call('GET', path(userId, 'balances')), 200).body;
const balanceOf = async (t: TenantFixture, userId: string, asset: LedgerAsset = 'POINTS') =>
  ((await balances(t, userId)).balances as { asset: string; balance: number }[]).find((b) => b.asset === asset)!.balance;
const history = async (t: TenantFixture, userId: string, query: Record<string, string | number> = {}) =>
  must(await t.call('GET', path(userId), undefined, { query }), 200).body;
const debit = (t: TenantFixture, userId: string, body: Record<string, unknown>, options: { key?: string; headers?: Record<string, string> } = {}) =>
  t.call('POST', path(userId, 'ledger/debit'), body, options);
const adjust = (t: TenantFixture, userId: string, body: Record<string, unknown>, options: { key?: string; headers?: Record<string, string> } = {}) =>
  t.call('POST', path(userId, 'ledger/adjust'), body, { key: t.admin, ...options });

describe('GET /v1/users/:user_id/balances and /ledger', () => {
  it('a user without entries has every asset at 0 and an empty history', async () => {
    const { t } = await setup();
    const user = uid();
    expect(await balances(t, user)).toEqual({
      user_id: user,
      balances: [
        { asset: 'POINTS', balance: 0 },
        { asset: 'BALANCE', balance: 0 },
        { asset: 'SUBSCRIPTION_DAYS', balance: 0 },
      ],
    });
    expect(await history(t, user)).toEqual({ entries: [], pagination: { total: 0, page: 1, page_size: 20 } });
  });

  it('shows what the service posted: balances per asset and the entries, newest first', async () => {
    const ctx = await setup();
    const user = uid();
    const first = await grant(ctx, user, 100, 'POINTS', 'g1', { memo: 'welcome' });
    expect(first).toEqual({
      entry_id: expect.stringMatching(/^led_[0-9A-Z]{26}$/),
      user_id: user,
      asset: 'POINTS',
      amount: 100,
      balance_after: 100,
      entry_type: 'GRANT',
      cause_type: 'reward_grant',
      cause_id: 'g1',
      reverses_entry_id: null,
      memo: 'welcome',
      created_at: expect.any(String),
    });
    const second = await grant(ctx, user, 1999, 'BALANCE', 'g2');
    const third = await grant(ctx, user, 30, 'SUBSCRIPTION_DAYS', 'g3');
    const fourth = await grant(ctx, user, 5, 'POINTS', 'g4');
    expect(fourth.balance_after).toBe(105);

    expect((await balances(ctx.t, user)).balances).toEqual([
      { asset: 'POINTS', balance: 105 },
      { asset: 'BALANCE', balance: 1999 },
      { asset: 'SUBSCRIPTION_DAYS', balance: 30 },
    ]);
    const all = await history(ctx.t, user);
    expect(all.pagination).toEqual({ total: 4, page: 1, page_size: 20 });
    expect(all.entries).toEqual([fourth, third, second, first]);
  });

  it('pages and filters by asset and entry_type; total counts the filtered entries', async () => {
    const ctx = await setup();
    const user = uid();
    const made = [];
    for (let i = 1; i <= 5; i++) made.push(await grant(ctx, user, i, 'POINTS'));
    made.push(await grant(ctx, user, 700, 'BALANCE'));
    const spent = must(await debit(ctx.t, user, { asset: 'POINTS', amount: 4 }), 201).body;

    const page1 = await history(ctx.t, user, { page_size: 3 });
    expect(page1.pagination).toEqual({ total: 7, page: 1, page_size: 3 });
    expect(page1.entries.map((e: { entry_id: string }) => e.entry_id)).toEqual([spent.entry_id, made[5]!.entry_id, made[4]!.entry_id]);
    const page3 = await history(ctx.t, user, { page: 3, page_size: 3 });
    expect(page3.entries.map((e: { entry_id: string }) => e.entry_id)).toEqual([made[0]!.entry_id]);
    expect((await history(ctx.t, user, { page: 4, page_size: 3 })).entries).toEqual([]);

    const points = await history(ctx.t, user, { asset: 'POINTS' });
    expect(points.pagination.total).toBe(6);
    expect(points.entries.every((e: { asset: string }) => e.asset === 'POINTS')).toBe(true);
    const spends = await history(ctx.t, user, { entry_type: 'SPEND' });
    expect(spends).toEqual({ entries: [spent], pagination: { total: 1, page: 1, page_size: 20 } });
    const balanceGrants = await history(ctx.t, user, { asset: 'BALANCE', entry_type: 'GRANT' });
    expect(balanceGrants.entries).toEqual([made[5]]);
    expect((await history(ctx.t, user, { asset: 'SUBSCRIPTION_DAYS' })).pagination.total).toBe(0);
  });

  it('orders entries of one millisecond exactly (by their place in the account)', async () => {
    const app = await testApp({ clock: new ManualClock('2030-01-01T00:00:00Z') });
    try {
      const ctx = { app, t: await app.newTenant(), ledger: createLedgerService({ db: app.database.db, clock: new ManualClock('2030-01-01T00:00:00Z') }) };
      const user = uid();
      const made = [];
      for (let i = 0; i < 12; i++) made.push(await grant(ctx, user, 10 + i));
      const { entries } = await history(ctx.t, user);
      expect(entries.map((e: { entry_id: string }) => e.entry_id)).toEqual(made.reverse().map((e) => e.entry_id));
      expect(entries.every((e: { created_at: string }) => e.created_at === '2030-01-01T00:00:00.000Z')).toBe(true);
    } finally {
      await app.app.close();
    }
  });

  it('takes any user id up to 100 characters, unicode and slashes included', async () => {
    const ctx = await setup();
    for (const user of ['用户 1', 'a/b?c#d', 'x'.repeat(100), 'mail@example.com']) {
      await grant(ctx, user, 7);
      expect(await balanceOf(ctx.t, user)).toBe(7);
      expect((await history(ctx.t, user)).entries[0].user_id).toBe(user);
      expect(must(await debit(ctx.t, user, { asset: 'POINTS', amount: 7 }), 201).body.user_id).toBe(user);
    }
  });

  const badQueries: [string, Record<string, string | number>, string][] = [
    ['unknown asset', { asset: 'COINS' }, 'asset'],
    ['unknown entry_type', { entry_type: 'GIFT' }, 'entry_type'],
    ['page_size 501', { page_size: 501 }, 'page_size'],
    ['page 0', { page: 0 }, 'page'],
    ['unknown query parameter', { sort: 'amount' }, 'sort'],
  ];
  it.each(badQueries)('refuses a ledger query with %s: 400 invalid_request', async (_label, query, field) => {
    const { t } = await setup();
    expectError(await t.call('GET', path(uid()), undefined, { query }), 400, 'invalid_request', { field });
  });

  it('refuses a user id with control characters: 400 invalid_request', async () => {
    const { t } = await setup();
    expectError(await t.call('GET', '/v1/users/a%0Ab/balances'), 400, 'invalid_request', { field: 'user_id' });
    expectError(await t.call('GET', '/v1/users/a%00b/ledger'), 400, 'invalid_request', { field: 'user_id' });
    expectError(await t.call('POST', '/v1/users/a%00b/ledger/debit', { asset: 'POINTS', amount: 1 }), 400, 'invalid_request', {
      field: 'user_id',
    });
  });
});

describe('POST /v1/users/:user_id/ledger/debit', () => {
  it('spends: 201 with the SPEND entry, and the balance goes down', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 100);
    const r = must(await debit(ctx.t, user, { asset: 'POINTS', amount: 30, memo: 'coffee' }), 201);
    expect(r.body).toEqual({
      entry_id: expect.stringMatching(/^led_/),
      user_id: user,
      asset: 'POINTS',
      amount: -30,
      balance_after: 70,
      entry_type: 'SPEND',
      cause_type: 'debit',
      cause_id: r.body.entry_id,
      reverses_entry_id: null,
      memo: 'coffee',
      created_at: expect.any(String),
    });
    expect(await balanceOf(ctx.t, user)).toBe(70);
    expect((await history(ctx.t, user)).entries[0]).toEqual(r.body);
    // Spending it all is fine; zero is a balance.
    expect(must(await debit(ctx.t, user, { asset: 'POINTS', amount: 70 }), 201).body.balance_after).toBe(0);
  });

  it('spends money in minor units from BALANCE', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 1050, 'BALANCE');
    must(await debit(ctx.t, user, { asset: 'BALANCE', amount: 999 }), 201);
    expect((await balances(ctx.t, user)).balances).toEqual([
      { asset: 'POINTS', balance: 0 },
      { asset: 'BALANCE', balance: 51 },
      { asset: 'SUBSCRIPTION_DAYS', balance: 0 },
    ]);
  });

  it('refuses more than the balance: 409 insufficient_balance with {asset, balance, requested}; nothing changes', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 50);
    const before = await history(ctx.t, user);
    expectError(await debit(ctx.t, user, { asset: 'POINTS', amount: 51 }), 409, 'insufficient_balance', {
      asset: 'POINTS',
      balance: 50,
      requested: 51,
    });
    // Other assets are separate accounts.
    expectError(await debit(ctx.t, user, { asset: 'BALANCE', amount: 1 }), 409, 'insufficient_balance', {
      asset: 'BALANCE',
      balance: 0,
      requested: 1,
    });
    expect(await balanceOf(ctx.t, user)).toBe(50);
    expect(await history(ctx.t, user)).toEqual(before);
  });

  it('refuses a user who never had an account: 409 insufficient_balance, balance 0, and creates no account', async () => {
    const ctx = await setup();
    const user = uid();
    expectError(await debit(ctx.t, user, { asset: 'POINTS', amount: 1 }), 409, 'insufficient_balance', { balance: 0, requested: 1 });
    const accounts = await ctx.app.database.db
      .selectFrom('ledger_account')
      .selectAll()
      .where('tenant_id', '=', ctx.t.tenantId)
      .where('user_id', '=', user)
      .execute();
    expect(accounts).toEqual([]);
  });

  it('a repeated reference_id answers the first entry with 200 and spends once', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 100);
    const first = must(await debit(ctx.t, user, { asset: 'POINTS', amount: 40, reference_id: 'order-1' }), 201).body;
    expect(first.cause_id).toBe('order-1');
    const again = must(await debit(ctx.t, user, { asset: 'POINTS', amount: 40, reference_id: 'order-1', memo: 'retry' }), 200);
    expect(again.body).toEqual(first);
    expect(await balanceOf(ctx.t, user)).toBe(60);
    expect((await history(ctx.t, user, { entry_type: 'SPEND' })).pagination.total).toBe(1);
    // Even when the balance could no longer pay for it, the repeat is the first answer.
    must(await debit(ctx.t, user, { asset: 'POINTS', amount: 60 }), 201);
    expect(must(await debit(ctx.t, user, { asset: 'POINTS', amount: 40, reference_id: 'order-1' }), 200).body).toEqual(first);
  });

  it('a reference_id reused for another amount, asset or user: 409 reference_id_reused', async () => {
    const ctx = await setup();
    const [user, other] = [uid(), uid()];
    await grant(ctx, user, 100);
    await grant(ctx, user, 100, 'BALANCE');
    await grant(ctx, other, 100);
    const first = must(await debit(ctx.t, user, { asset: 'POINTS', amount: 10, reference_id: 'r-1' }), 201).body;
    const details = { reference_id: 'r-1', entry_id: first.entry_id };
    expectError(await debit(ctx.t, user, { asset: 'POINTS', amount: 11, reference_id: 'r-1' }), 409, 'reference_id_reused', details);
    expectError(await debit(ctx.t, user, { asset: 'BALANCE', amount: 10, reference_id: 'r-1' }), 409, 'reference_id_reused', details);
    expectError(await debit(ctx.t, other, { asset: 'POINTS', amount: 10, reference_id: 'r-1' }), 409, 'reference_id_reused', details);
    expect((await balances(ctx.t, user)).balances.slice(0, 2)).toEqual([
      { asset: 'POINTS', balance: 90 },
      { asset: 'BALANCE', balance: 100 },
    ]);
    expect(await balanceOf(ctx.t, other)).toBe(100);
  });

  it('is idempotent by Idempotency-Key: the retry replays the 201 and spends nothing more', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 100);
    const headers = { 'idempotency-key': `debit-${uid()}` };
    const first = must(await debit(ctx.t, user, { asset: 'POINTS', amount: 25 }, { headers }), 201);
    const retry = must(await debit(ctx.t, user, { asset: 'POINTS', amount: 25 }, { headers }), 201);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(await balanceOf(ctx.t, user)).toBe(75);
    expectError(await debit(ctx.t, user, { asset: 'POINTS', amount: 26 }, { headers }), 422, 'idempotency_key_reused');
    expect(await balanceOf(ctx.t, user)).toBe(75);
  });

  it('records a refusal and a reference repeat under the Idempotency-Key with the status it answered', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 10);
    const refused = { 'idempotency-key': `k-${uid()}` };
    expectError(await debit(ctx.t, user, { asset: 'POINTS', amount: 11 }, { headers: refused }), 409, 'insufficient_balance');
    await grant(ctx, user, 100);
    // The retry gets the recorded refusal, not a debit of the now sufficient balance.
    const replayed = await debit(ctx.t, user, { asset: 'POINTS', amount: 11 }, { headers: refused });
    expectError(replayed, 409, 'insufficient_balance');
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(await balanceOf(ctx.t, user)).toBe(110);

    const first = must(await debit(ctx.t, user, { asset: 'POINTS', amount: 5, reference_id: 'ref-k' }), 201).body;
    const repeat = { 'idempotency-key': `k-${uid()}` };
    expect(must(await debit(ctx.t, user, { asset: 'POINTS', amount: 5, reference_id: 'ref-k' }, { headers: repeat }), 200).body).toEqual(first);
    const replay = must(await debit(ctx.t, user, { asset: 'POINTS', amount: 5, reference_id: 'ref-k' }, { headers: repeat }), 200);
    expect(replay.body).toEqual(first);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(await balanceOf(ctx.t, user)).toBe(105);
  });

  const badBodies: [string, Record<string, unknown>, string][] = [
    ['amount 0', { asset: 'POINTS', amount: 0 }, 'amount'],
    ['a negative amount', { asset: 'POINTS', amount: -5 }, 'amount'],
    ['a fractional amount', { asset: 'POINTS', amount: 1.5 }, 'amount'],
    ['an amount as a string', { asset: 'POINTS', amount: '5' }, 'amount'],
    ['an amount over 10^12', { asset: 'POINTS', amount: 1_000_000_000_001 }, 'amount'],
    ['no amount', { asset: 'POINTS' }, 'amount'],
    ['no asset', { amount: 5 }, 'asset'],
    ['an unknown asset', { asset: 'COINS', amount: 5 }, 'asset'],
    ['SUBSCRIPTION_DAYS (not spendable)', { asset: 'SUBSCRIPTION_DAYS', amount: 5 }, 'asset'],
    ['an empty reference_id', { asset: 'POINTS', amount: 5, reference_id: '' }, 'reference_id'],
    ['a reference_id over 128 characters', { asset: 'POINTS', amount: 5, reference_id: 'r'.repeat(129) }, 'reference_id'],
    ['a reference_id with a newline', { asset: 'POINTS', amount: 5, reference_id: 'a\nb' }, 'reference_id'],
    ['a memo over 500 characters', { asset: 'POINTS', amount: 5, memo: 'm'.repeat(501) }, 'memo'],
    ['a memo with NUL', { asset: 'POINTS', amount: 5, memo: 'a\u0000b' }, 'memo'],
    ['an unknown field', { asset: 'POINTS', amount: 5, amout: 5 }, 'amout'],
  ];
  it.each(badBodies)('refuses %s: 400 invalid_request', async (_label, body, field) => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 100);
    expectError(await debit(ctx.t, user, body), 400, 'invalid_request', { field });
    expect(await balanceOf(ctx.t, user)).toBe(100);
  });

  it('refuses a missing body (400) and another tenant named in the body (403 tenant_mismatch)', async () => {
    const { t, app } = await setup();
    const other = await app.newTenant();
    expectError(await t.call('POST', path(uid(), 'ledger/debit')), 400, 'invalid_request');
    expectError(await debit(t, uid(), { tenant_id: other.tenantId, asset: 'POINTS', amount: 1 }), 403, 'tenant_mismatch');
    // Naming its own tenant is fine.
    expectError(await debit(t, uid(), { tenant_id: t.tenantId, asset: 'POINTS', amount: 1 }), 409, 'insufficient_balance');
  });
});

describe('POST /v1/users/:user_id/ledger/adjust', () => {
  it('credits and debits with ADJUST entries carrying the reason; never below zero', async () => {
    const ctx = await setup();
    const user = uid();
    const up = must(await adjust(ctx.t, user, { asset: 'SUBSCRIPTION_DAYS', amount: 30, reason: 'support ticket 42' }), 201).body;
    expect(up).toMatchObject({
      user_id: user,
      asset: 'SUBSCRIPTION_DAYS',
      amount: 30,
      balance_after: 30,
      entry_type: 'ADJUST',
      cause_type: 'adjust',
      memo: 'support ticket 42',
    });
    const down = must(await adjust(ctx.t, user, { asset: 'SUBSCRIPTION_DAYS', amount: -12, reason: 'overgranted' }), 201).body;
    expect(down).toMatchObject({ amount: -12, balance_after: 18 });
    expectError(await adjust(ctx.t, user, { asset: 'SUBSCRIPTION_DAYS', amount: -19, reason: 'too much' }), 409, 'insufficient_balance', {
      asset: 'SUBSCRIPTION_DAYS',
      balance: 18,
      requested: 19,
    });
    expect(await balanceOf(ctx.t, user, 'SUBSCRIPTION_DAYS')).toBe(18);
    expect((await history(ctx.t, user)).entries).toEqual([down, up]);
  });

  it('a repeated reference_id answers the first entry (200); reused otherwise is 409 reference_id_reused', async () => {
    const ctx = await setup();
    const user = uid();
    const first = must(await adjust(ctx.t, user, { asset: 'BALANCE', amount: 500, reason: 'refund', reference_id: 'case-7' }), 201).body;
    expect(must(await adjust(ctx.t, user, { asset: 'BALANCE', amount: 500, reason: 'refund again', reference_id: 'case-7' }), 200).body).toEqual(first);
    expectError(await adjust(ctx.t, user, { asset: 'BALANCE', amount: 501, reason: 'x', reference_id: 'case-7' }), 409, 'reference_id_reused');
    // Debits and adjustments keep their own reference ids.
    expect(must(await debit(ctx.t, user, { asset: 'BALANCE', amount: 100, reference_id: 'case-7' }), 201).body.cause_type).toBe('debit');
    expect(await balanceOf(ctx.t, user, 'BALANCE')).toBe(400);
  });

  it('needs an admin key: service 403 insufficient_role, readonly 403', async () => {
    const ctx = await setup();
    const user = uid();
    const body = { asset: 'POINTS', amount: 5, reason: 'x' };
    expectError(await adjust(ctx.t, user, body, { key: ctx.t.service }), 403, 'insufficient_role', { required_role: 'admin' });
    expectError(await adjust(ctx.t, user, body, { key: ctx.t.readonly }), 403, 'insufficient_role');
    expect(await balanceOf(ctx.t, user)).toBe(0);
  });

  const badBodies: [string, Record<string, unknown>, string][] = [
    ['amount 0', { asset: 'POINTS', amount: 0, reason: 'x' }, 'amount'],
    ['a fractional amount', { asset: 'POINTS', amount: -0.5, reason: 'x' }, 'amount'],
    ['an amount under -10^12', { asset: 'POINTS', amount: -1_000_000_000_001, reason: 'x' }, 'amount'],
    ['no reason', { asset: 'POINTS', amount: 5 }, 'reason'],
    ['an empty reason', { asset: 'POINTS', amount: 5, reason: '' }, 'reason'],
    ['an unknown asset', { asset: 'GOLD', amount: 5, reason: 'x' }, 'asset'],
    ['an unknown field', { asset: 'POINTS', amount: 5, reason: 'x', memo: 'y' }, 'memo'],
  ];
  it.each(badBodies)('refuses %s: 400 invalid_request', async (_label, body, field) => {
    const { t } = await setup();
    expectError(await adjust(t, uid(), body), 400, 'invalid_request', { field });
  });
});

describe('keys', () => {
  it('a readonly key reads balances and history but cannot debit: 403 read_only_key', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 10);
    const ro = { key: ctx.t.readonly };
    expect(must(await ctx.t.call('GET', path(user, 'balances'), undefined, ro), 200).body.balances[0]).toEqual({ asset: 'POINTS', balance: 10 });
    expect(must(await ctx.t.call('GET', path(user), undefined, ro), 200).body.pagination.total).toBe(1);
    expectError(await debit(ctx.t, user, { asset: 'POINTS', amount: 1 }, ro), 403, 'read_only_key', { key_role: 'readonly' });
    expect(await balanceOf(ctx.t, user)).toBe(10);
  });

  it('the master key gets 403 tenant_key_required; no key 401', async () => {
    const { app } = await setup();
    const user = uid();
    for (const [key, status, code] of [
      [app.master, 403, 'tenant_key_required'],
      [null, 401, 'unauthorized'],
    ] as const) {
      expectError(await app.call('GET', path(user, 'balances'), undefined, { key }), status, code);
      expectError(await app.call('GET', path(user), undefined, { key }), status, code);
      expectError(await app.call('POST', path(user, 'ledger/debit'), { asset: 'POINTS', amount: 1 }, { key }), status, code);
      expectError(await app.call('POST', path(user, 'ledger/adjust'), { asset: 'POINTS', amount: 1, reason: 'x' }, { key }), status, code);
    }
  });
});

describe('tenant walls', () => {
  it("another tenant's key sees its own empty accounts for the same user id, never A's entries", async () => {
    const ctx = await setup();
    const b = await ctx.app.newTenant();
    const user = uid();
    await grant(ctx, user, 100);
    must(await debit(ctx.t, user, { asset: 'POINTS', amount: 10, reference_id: 'shared-ref' }), 201);
    const aHistory = await history(ctx.t, user);

    for (const key of [b.admin, b.service, b.readonly]) {
      const own = must(await b.call('GET', path(user, 'balances'), undefined, { key }), 200).body;
      expect(own.balances.map((x: { balance: number }) => x.balance)).toEqual([0, 0, 0]);
      const list = must(await b.call('GET', path(user), undefined, { key }), 200).body;
      expect(list).toEqual({ entries: [], pagination: { total: 0, page: 1, page_size: 20 } });
    }
    // B cannot spend A's points, and A's reference_id means nothing in B.
    expectError(await debit(b, user, { asset: 'POINTS', amount: 1, reference_id: 'shared-ref' }), 409, 'insufficient_balance', { balance: 0 });
    must(await adjust(b, user, { asset: 'POINTS', amount: 3, reason: 'B only' }), 201);
    expect(must(await debit(b, user, { asset: 'POINTS', amount: 2, reference_id: 'shared-ref' }), 201).body.balance_after).toBe(1);
    // A's cause means nothing in B either.
    expect(await ctx.ledger.reverseCause(ctx.app.database.db, { tenantId: b.tenantId, causeType: 'debit', causeId: 'shared-ref-missing' })).toEqual([]);

    expect(await history(ctx.t, user)).toEqual(aHistory);
    expect(await balanceOf(ctx.t, user)).toBe(90);
    expect(await balanceOf(b, user)).toBe(1);
    expectError(await b.call('GET', path(user), undefined, { query: { tenant_id: ctx.t.tenantId } }), 403, 'tenant_mismatch');
  });
});

describe('post (service, for other modules)', () => {
  it('posts the same (cause, entry type, asset) once: the repeat answers the first entry', async () => {
    const ctx = await setup();
    const user = uid();
    const first = await grant(ctx, user, 100, 'POINTS', 'grant-1');
    const again = await ctx.ledger.postEntry(ctx.app.database.db, {
      tenantId: ctx.t.tenantId,
      userId: user,
      asset: 'POINTS',
      amount: 100,
      entryType: 'GRANT',
      causeType: 'reward_grant',
      causeId: 'grant-1',
    });
    expect(again).toEqual({ entry: first, created: false });
    expect(await grant(ctx, user, 100, 'POINTS', 'grant-1')).toEqual(first);
    expect(await balanceOf(ctx.t, user)).toBe(100);
    expect((await history(ctx.t, user)).pagination.total).toBe(1);

    // The same cause may post another asset, or another entry type.
    await grant(ctx, user, 30, 'BALANCE', 'grant-1');
    await ctx.ledger.post(ctx.app.database.db, {
      tenantId: ctx.t.tenantId,
      userId: user,
      asset: 'POINTS',
      amount: -40,
      entryType: 'EXPIRE',
      causeType: 'reward_grant',
      causeId: 'grant-1',
    });
    expect((await balances(ctx.t, user)).balances.slice(0, 2)).toEqual([
      { asset: 'POINTS', balance: 60 },
      { asset: 'BALANCE', balance: 30 },
    ]);
  });

  it('refuses the same cause with another amount or user: 409 ledger_cause_reused', async () => {
    const ctx = await setup();
    const [user, other] = [uid(), uid()];
    const first = await grant(ctx, user, 100, 'POINTS', 'grant-x');
    for (const [who, amount] of [
      [user, 101],
      [other, 100],
    ] as const) {
      const err = await appError(() => grant(ctx, who, amount, 'POINTS', 'grant-x'));
      expect({ status: err.status, code: err.code, details: err.details }).toEqual({
        status: 409,
        code: 'ledger_cause_reused',
        details: { cause_type: 'reward_grant', cause_id: 'grant-x', entry_id: first.entry_id },
      });
    }
    expect(await balanceOf(ctx.t, user)).toBe(100);
    expect(await balanceOf(ctx.t, other)).toBe(0);
  });

  it('runs on the caller\'s transaction: rolled back with it', async () => {
    const ctx = await setup();
    const user = uid();
    await expect(
      ctx.app.database.db.transaction().execute(async (trx) => {
        const e = await ctx.ledger.post(trx, {
          tenantId: ctx.t.tenantId,
          userId: user,
          asset: 'POINTS',
          amount: 5,
          entryType: 'GRANT',
          causeType: 'reward_grant',
          causeId: 'g',
        });
        expect(e.balance_after).toBe(5);
        throw new Error('the caller failed later');
      }),
    ).rejects.toThrow('the caller failed later');
    expect(await balanceOf(ctx.t, user)).toBe(0);
    expect((await history(ctx.t, user)).entries).toEqual([]);
    // ... and the cause is free again.
    expect((await grant(ctx, user, 5, 'POINTS', 'g')).balance_after).toBe(5);
  });

  it('refuses a debit below zero with 409 insufficient_balance, leaving the caller\'s transaction usable', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 3);
    const spend: PostEntryInput = {
      tenantId: ctx.t.tenantId,
      userId: user,
      asset: 'POINTS',
      amount: -4,
      entryType: 'SPEND',
      causeType: 'order',
      causeId: 'o1',
    };
    const err = await appError(() => ctx.ledger.post(ctx.app.database.db, spend));
    expect({ status: err.status, code: err.code, details: err.details }).toEqual({
      status: 409,
      code: 'insufficient_balance',
      details: { asset: 'POINTS', balance: 3, requested: 4 },
    });
    // The refusal is an answer, not a failed statement: the caller can go on in its transaction.
    await ctx.app.database.db.transaction().execute(async (trx) => {
      await expect(ctx.ledger.post(trx, spend)).rejects.toMatchObject({ code: 'insufficient_balance' });
      await ctx.ledger.post(trx, { ...spend, amount: -3 });
    });
    expect(await balanceOf(ctx.t, user)).toBe(0);
  });

  const bad: [string, Partial<PostEntryInput>, string][] = [
    ['amount 0', { amount: 0 }, 'amount'],
    ['a fractional amount', { amount: 2.5 }, 'amount'],
    ['an amount over 10^12', { amount: 1_000_000_000_001 }, 'amount'],
    ['a negative GRANT', { amount: -5 }, 'amount'],
    ['a positive SPEND', { entryType: 'SPEND' }, 'amount'],
    ['a positive EXPIRE', { entryType: 'EXPIRE' }, 'amount'],
    ['an unknown asset', { asset: 'GOLD' as LedgerAsset }, 'asset'],
    ['an unknown entry type', { entryType: 'GIFT' as PostEntryInput['entryType'] }, 'entry_type'],
    ['an empty user id', { userId: '' }, 'user_id'],
    ['an empty cause id', { causeId: '' }, 'cause_id'],
    ['a memo with NUL', { memo: 'a\u0000' }, 'memo'],
  ];
  it.each(bad)('refuses %s: 400 invalid_request', async (_label, override, field) => {
    const ctx = await setup();
    const user = uid();
    const err = await appError(() => grant(ctx, user, 5, 'POINTS', uid('g'), override));
    expect({ status: err.status, code: err.code, field: err.details?.field }).toEqual({ status: 400, code: 'invalid_request', field });
  });
});

describe('reverseCause', () => {
  it('revokes every entry of the cause with a linked REVOKE; twice is a no-op', async () => {
    const ctx = await setup();
    const user = uid();
    const db = ctx.app.database.db;
    const points = await grant(ctx, user, 100, 'POINTS', 'grant-r');
    const money = await grant(ctx, user, 250, 'BALANCE', 'grant-r');
    await grant(ctx, user, 7, 'POINTS', 'grant-other');

    // Both entries of the cause may share a millisecond, so their order is not part of the contract.
    const byAsset = (entries: { asset: string }[]) => [...entries].sort((x, y) => (x.asset === 'POINTS' ? -1 : 1) - (y.asset === 'POINTS' ? -1 : 1));
    const revoked = byAsset(await ctx.ledger.reverseCause(db, { tenantId: ctx.t.tenantId, causeType: 'reward_grant', causeId: 'grant-r', memo: 'order cancelled' }));
    expect(revoked).toHaveLength(2);
    expect(revoked[0]).toMatchObject({
      asset: 'POINTS',
      amount: -100,
      balance_after: 7,
      entry_type: 'REVOKE',
      cause_type: 'reward_grant',
      cause_id: 'grant-r',
      reverses_entry_id: points.entry_id,
      memo: 'order cancelled',
    });
    expect(revoked[1]).toMatchObject({ asset: 'BALANCE', amount: -250, balance_after: 0, entry_type: 'REVOKE', reverses_entry_id: money.entry_id });
    expect((await balances(ctx.t, user)).balances.slice(0, 2)).toEqual([
      { asset: 'POINTS', balance: 7 },
      { asset: 'BALANCE', balance: 0 },
    ]);
    expect(await ctx.ledger.reverseCause(db, { tenantId: ctx.t.tenantId, causeType: 'reward_grant', causeId: 'grant-r' })).toEqual([]);
    expect(byAsset((await history(ctx.t, user, { entry_type: 'REVOKE' })).entries)).toEqual(revoked);
    // A reversed cause still posts once: the original GRANT answers the repeat, nothing moves.
    expect(await grant(ctx, user, 100, 'POINTS', 'grant-r')).toEqual(points);
    expect(await balanceOf(ctx.t, user)).toBe(7);
  });

  it('answers [] for a cause without entries', async () => {
    const ctx = await setup();
    expect(await ctx.ledger.reverseCause(ctx.app.database.db, { tenantId: ctx.t.tenantId, causeType: 'reward_grant', causeId: 'nothing' })).toEqual([]);
  });

  it('refuses when the user already spent it: 409 insufficient_balance, and revokes nothing of the cause', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 500, 'BALANCE', 'grant-s');
    await grant(ctx, user, 100, 'POINTS', 'grant-s');
    must(await debit(ctx.t, user, { asset: 'POINTS', amount: 60 }), 201);
    const before = await history(ctx.t, user);
    const err = await appError(() => ctx.ledger.reverseCause(ctx.app.database.db, { tenantId: ctx.t.tenantId, causeType: 'reward_grant', causeId: 'grant-s' }));
    expect({ status: err.status, code: err.code }).toEqual({ status: 409, code: 'insufficient_balance' });
    expect(err.details).toMatchObject({ asset: 'POINTS', balance: 40, requested: 100, user_id: user });
    // The BALANCE revoke that came first was rolled back with it.
    expect(await history(ctx.t, user)).toEqual(before);
    expect((await balances(ctx.t, user)).balances.slice(0, 2)).toEqual([
      { asset: 'POINTS', balance: 40 },
      { asset: 'BALANCE', balance: 500 },
    ]);
  });

  it('reverses a debit (a refund): the REVOKE credits it back', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 100);
    const spent = must(await debit(ctx.t, user, { asset: 'POINTS', amount: 80, reference_id: 'order-9' }), 201).body;
    const [refund] = await ctx.ledger.reverseCause(ctx.app.database.db, { tenantId: ctx.t.tenantId, causeType: 'debit', causeId: 'order-9' });
    expect(refund).toMatchObject({ amount: 80, balance_after: 100, entry_type: 'REVOKE', reverses_entry_id: spent.entry_id, cause_id: 'order-9' });
    expect(await balanceOf(ctx.t, user)).toBe(100);
    // The reference still names the first debit.
    expect(must(await debit(ctx.t, user, { asset: 'POINTS', amount: 80, reference_id: 'order-9' }), 200).body).toEqual(spent);
    expect(await balanceOf(ctx.t, user)).toBe(100);
  });

  it("runs on the caller's transaction and is rolled back with it", async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 10, 'POINTS', 'grant-t');
    await expect(
      ctx.app.database.db.transaction().execute(async (trx) => {
        expect(await ctx.ledger.reverseCause(trx, { tenantId: ctx.t.tenantId, causeType: 'reward_grant', causeId: 'grant-t' })).toHaveLength(1);
        throw new Error('caller failed');
      }),
    ).rejects.toThrow('caller failed');
    expect(await balanceOf(ctx.t, user)).toBe(10);
    expect(await ctx.ledger.reverseCause(ctx.app.database.db, { tenantId: ctx.t.tenantId, causeType: 'reward_grant', causeId: 'grant-t' })).toHaveLength(1);
    expect(await balanceOf(ctx.t, user)).toBe(0);
  });
});

describe('the books balance', () => {
  it('every account equals the sum of its entries, and each entry chains from the one before', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 100, 'POINTS', 'c1');
    await grant(ctx, user, 900, 'BALANCE', 'c1');
    must(await debit(ctx.t, user, { asset: 'POINTS', amount: 30 }), 201);
    must(await adjust(ctx.t, user, { asset: 'BALANCE', amount: -100, reason: 'fix' }), 201);
    await ctx.ledger.reverseCause(ctx.app.database.db, { tenantId: ctx.t.tenantId, causeType: 'reward_grant', causeId: 'c1' }).catch(() => undefined);
    await grant(ctx, user, 5, 'SUBSCRIPTION_DAYS', 'c2');

    const db = ctx.app.database.db;
    const accounts = await db.selectFrom('ledger_account').selectAll().where('tenant_id', '=', ctx.t.tenantId).where('user_id', '=', user).execute();
    expect(accounts).toHaveLength(3);
    for (const account of accounts) {
      const entries = await db
        .selectFrom('ledger_entry')
        .selectAll()
        .where('tenant_id', '=', ctx.t.tenantId)
        .where('user_id', '=', user)
        .where('asset', '=', account.asset)
        .orderBy('account_seq')
        .execute();
      let running = 0;
      entries.forEach((e, i) => {
        running += Number(e.amount);
        expect(Number(e.balance_after)).toBe(running);
        expect(Number(e.account_seq)).toBe(i + 1);
      });
      expect(Number(account.balance)).toBe(running);
      expect(Number(account.entry_count)).toBe(entries.length);
      const sum = await sql<{ s: number }>`select coalesce(sum(amount), 0)::bigint as s from ledger_entry
        where tenant_id = ${ctx.t.tenantId} and user_id = ${user} and asset = ${account.asset}`.execute(db);
      expect(Number(sum.rows[0]!.s)).toBe(Number(account.balance));
    }
  });
});
