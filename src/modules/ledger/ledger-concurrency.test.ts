import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { must, type Reply, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import type { Database } from '../../db/client.js';
import { systemClock } from '../../platform/clock.js';
import { createLedgerService, type LedgerAsset, type LedgerService } from './index.js';

// Truly parallel on PostgreSQL (a pool of 40 connections); serialised, and so still exact, on the
// single connection of PGlite.

const uid = (label = 'u') => `${label}_${randomBytes(5).toString('hex')}`;

interface Ctx {
  app: TestApp;
  t: TenantFixture;
  db: Database;
  ledger: LedgerService;
}

async function setup(): Promise<Ctx> {
  const app = await testApp();
  const db = app.database.db;
  return { app, t: await app.newTenant(), db, ledger: createLedgerService({ db, clock: systemClock }) };
}

const grant = (ctx: Ctx, userId: string, amount: number, causeId = uid('grant'), asset: LedgerAsset = 'POINTS') =>
  ctx.ledger.post(ctx.db, { tenantId: ctx.t.tenantId, userId, asset, amount, entryType: 'GRANT', causeType: 'reward_grant', causeId });

const debit = (t: TenantFixture, userId: string, body: Record<string, unknown>) =>
  t.call('POST', `/v1/users/${encodeURIComponent(userId)}/ledger/debit`, body);

const codeOf = (r: Reply) => (r.status < 300 ? String(r.status) : `${r.status} ${r.body?.error?.code}`);

function tally(codes: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of codes) out[c] = (out[c] ?? 0) + 1;
  return out;
}

/**
 * Asserts the books of one account: balance = sum of the entries = the last balance_after, the
 * entries chain 1, 2, ... with each balance_after = previous + amount and never below zero.
 */
async function expectBooksBalance(ctx: Ctx, userId: string, asset: LedgerAsset = 'POINTS') {
  const account = await ctx.db
    .selectFrom('ledger_account')
    .selectAll()
    .where('tenant_id', '=', ctx.t.tenantId)
    .where('user_id', '=', userId)
    .where('asset', '=', asset)
    .executeTakeFirstOrThrow();
  const entries = await ctx.db
    .selectFrom('ledger_entry')
    .selectAll()
    .where('tenant_id', '=', ctx.t.tenantId)
    .where('user_id', '=', userId)
    .where('asset', '=', asset)
    .orderBy('account_seq')
    .execute();
  let running = 0;
  entries.forEach((e, i) => {
    running += Number(e.amount);
    expect(Number(e.account_seq)).toBe(i + 1);
    expect(Number(e.balance_after)).toBe(running);
    expect(running).toBeGreaterThanOrEqual(0);
  });
  const sum = await sql<{ s: number }>`select coalesce(sum(amount), 0)::bigint as s from ledger_entry
    where tenant_id = ${ctx.t.tenantId} and user_id = ${userId} and asset = ${asset}`.execute(ctx.db);
  expect(Number(sum.rows[0]!.s)).toBe(Number(account.balance));
  expect(Number(account.balance)).toBe(running);
  expect(Number(account.entry_count)).toBe(entries.length);
  return { balance: Number(account.balance), entries };
}

describe('parallel debits never overdraw', () => {
  it('balance 100, 300 parallel debits of 1: exactly 100 succeed, 200 get 409 insufficient_balance, balance 0', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 100);
    const replies = await Promise.all(Array.from({ length: 300 }, () => debit(ctx.t, user, { asset: 'POINTS', amount: 1 })));
    expect(tally(replies.map(codeOf))).toEqual({ '201': 100, '409 insufficient_balance': 200 });
    for (const r of replies.filter((x) => x.status === 409)) {
      expect(r.body.error.details).toMatchObject({ asset: 'POINTS', requested: 1, balance: 0 });
    }
    // Every success saw a different balance: 99, 98, ..., 0.
    const after = replies.filter((r) => r.status === 201).map((r) => r.body.balance_after as number);
    expect([...after].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));

    const { balance, entries } = await expectBooksBalance(ctx, user);
    expect(balance).toBe(0);
    expect(entries.filter((e) => e.entry_type === 'SPEND')).toHaveLength(100);
    expect(entries).toHaveLength(101);
    const balances = must(await ctx.t.call('GET', `/v1/users/${user}/balances`), 200).body.balances;
    expect(balances[0]).toEqual({ asset: 'POINTS', balance: 0 });
  });

  it('200 parallel credits and debits mixed keep balance == sum(amount) exactly', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 50);
    let credited = 50;
    const work: Promise<{ kind: 'credit' | 'debit'; amount: number; ok: boolean; code?: string }>[] = [];
    for (let i = 0; i < 200; i++) {
      const amount = 1 + (i % 13);
      if (i % 2 === 0) {
        credited += amount;
        work.push(grant(ctx, user, amount, `mixed-${i}`).then(() => ({ kind: 'credit' as const, amount, ok: true })));
      } else {
        work.push(
          debit(ctx.t, user, { asset: 'POINTS', amount }).then((r) => ({
            kind: 'debit' as const,
            amount,
            ok: r.status === 201,
            ...(r.status !== 201 ? { code: codeOf(r) } : {}),
          })),
        );
      }
    }
    const results = await Promise.all(work);
    // A debit either went through or was refused for the balance, nothing else.
    expect(results.filter((r) => !r.ok).every((r) => r.code === '409 insufficient_balance')).toBe(true);
    const debited = results.filter((r) => r.kind === 'debit' && r.ok).reduce((s, r) => s + r.amount, 0);

    const { balance, entries } = await expectBooksBalance(ctx, user);
    expect(balance).toBe(credited - debited);
    expect(entries).toHaveLength(1 + 100 + results.filter((r) => r.kind === 'debit' && r.ok).length);
  });

  it('a reversal racing a spend of the same points: exactly one wins, the balance never goes below zero', async () => {
    const ctx = await setup();
    for (let round = 0; round < 10; round++) {
      const user = uid();
      await grant(ctx, user, 100, `race-${round}`);
      const [revoke, spend] = await Promise.allSettled([
        ctx.ledger.reverseCause(ctx.db, { tenantId: ctx.t.tenantId, causeType: 'reward_grant', causeId: `race-${round}` }),
        debit(ctx.t, user, { asset: 'POINTS', amount: 60 }),
      ]);
      const spent = spend.status === 'fulfilled' && spend.value.status === 201;
      const revoked = revoke.status === 'fulfilled';
      expect(spent !== revoked, `round ${round}: spent ${spent}, revoked ${revoked}`).toBe(true);
      if (!revoked) expect((revoke as PromiseRejectedResult).reason).toMatchObject({ code: 'insufficient_balance' });
      if (!spent) expect(spend.status === 'fulfilled' && codeOf(spend.value)).toBe('409 insufficient_balance');
      const { balance } = await expectBooksBalance(ctx, user);
      expect(balance).toBe(spent ? 40 : 0);
    }
  });
});

describe('parallel repeats post once', () => {
  it('50 parallel posts of the same cause: one entry, one credit, every caller gets that entry', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 10);
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        ctx.ledger.postEntry(ctx.db, {
          tenantId: ctx.t.tenantId,
          userId: user,
          asset: 'POINTS',
          amount: 25,
          entryType: 'GRANT',
          causeType: 'reward_grant',
          causeId: 'same-grant',
        }),
      ),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.entry.entry_id)).size).toBe(1);
    expect(results.every((r) => r.entry.balance_after === 35)).toBe(true);
    const { balance, entries } = await expectBooksBalance(ctx, user);
    expect(balance).toBe(35);
    expect(entries).toHaveLength(2);
  });

  it('50 parallel debits with one reference_id: one 201, 49 repeats (200) of the same entry, spent once', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 100);
    const replies = await Promise.all(
      Array.from({ length: 50 }, () => debit(ctx.t, user, { asset: 'POINTS', amount: 30, reference_id: 'pay-1' })),
    );
    expect(tally(replies.map(codeOf))).toEqual({ '201': 1, '200': 49 });
    expect(new Set(replies.map((r) => r.body.entry_id)).size).toBe(1);
    const { balance, entries } = await expectBooksBalance(ctx, user);
    expect(balance).toBe(70);
    expect(entries).toHaveLength(2);
  });

  it('one reference_id raced over two assets: one entry; the other asset gets 409 reference_id_reused', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 100, uid(), 'POINTS');
    await grant(ctx, user, 100, uid(), 'BALANCE');
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) => debit(ctx.t, user, { asset: i % 2 ? 'POINTS' : 'BALANCE', amount: 10, reference_id: 'two-assets' })),
    );
    const created = replies.filter((r) => r.status === 201);
    expect(created).toHaveLength(1);
    const winner = created[0]!.body;
    for (const r of replies) {
      const sameAsset = (r.status === 201 || r.status === 200 ? r.body.asset : null) === winner.asset;
      if (r.status === 200) expect(r.body).toEqual(winner);
      else if (r.status !== 201) expect(codeOf(r)).toBe('409 reference_id_reused');
      if (r.status === 200) expect(sameAsset).toBe(true);
    }
    expect(tally(replies.map(codeOf))).toEqual({ '201': 1, '200': 19, '409 reference_id_reused': 20 });
    const points = await expectBooksBalance(ctx, user, 'POINTS');
    const money = await expectBooksBalance(ctx, user, 'BALANCE');
    expect(points.balance + money.balance).toBe(190);
  });

  it('20 parallel reversals of one cause: each entry is revoked exactly once', async () => {
    const ctx = await setup();
    const user = uid();
    await grant(ctx, user, 100, 'rev-cause', 'POINTS');
    await grant(ctx, user, 300, 'rev-cause', 'BALANCE');
    // Enough other POINTS that a losing reversal's balance change goes through and must be undone;
    // BALANCE has nothing else, so a losing reversal there is refused for the balance first.
    await grant(ctx, user, 1000, uid(), 'POINTS');
    const results = await Promise.all(
      Array.from({ length: 20 }, () => ctx.ledger.reverseCause(ctx.db, { tenantId: ctx.t.tenantId, causeType: 'reward_grant', causeId: 'rev-cause' })),
    );
    const revokes = results.flat();
    expect(revokes).toHaveLength(2);
    expect(new Set(revokes.map((r) => r.reverses_entry_id)).size).toBe(2);
    expect((await expectBooksBalance(ctx, user, 'POINTS')).balance).toBe(1000);
    expect((await expectBooksBalance(ctx, user, 'BALANCE')).balance).toBe(0);
  });
});
