import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { must, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';

const uid = () => randomBytes(5).toString('hex');

/** Credits the user's BALANCE through the ledger, as a settled referral reward would. */
async function credit(a: TestApp, t: TenantFixture, userId: string, amount: number) {
  await a.app.services.ledger.post(a.database.db, { tenantId: t.tenantId, userId, asset: 'BALANCE', amount, entryType: 'GRANT', causeType: 'test_credit', causeId: uid() });
}

async function balance(t: TenantFixture, userId: string): Promise<number> {
  return must(await t.call('GET', `/v1/referrals/rewards/balance/${userId}`), 200).body.balance;
}

describe('withdrawals', () => {
  it('hold the amount at request; an admin approves (paid out by hand) or rejects (the amount comes back); decided once', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const user = `u-${uid()}`;
    await credit(a, t, user, 5000);
    const w = must(await t.call('POST', '/v1/referrals/withdrawals', { user_id: user, amount: 2000, account: '招商银行 6225 **** 1234' }), 201).body;
    expect(w).toMatchObject({ user_id: user, amount: 2000, currency: 'CNY', status: 'pending', account: '招商银行 6225 **** 1234', decided_at: null });
    expect(await balance(t, user)).toBe(3000);
    expect(must(await t.call('GET', `/v1/referrals/withdrawals/${w.withdrawal_id}`), 200).body).toEqual(w);
    // Only an admin key decides.
    expect((await t.call('POST', `/v1/referrals/withdrawals/${w.withdrawal_id}/approve`, {})).status).toBe(403);
    const approved = must(await t.call('POST', `/v1/referrals/withdrawals/${w.withdrawal_id}/approve`, { note: 'paid by bank transfer' }, { key: t.admin }), 200).body;
    expect(approved).toMatchObject({ status: 'approved', note: 'paid by bank transfer', decided_at: expect.any(String) });
    const again = await t.call('POST', `/v1/referrals/withdrawals/${w.withdrawal_id}/approve`, {}, { key: t.admin });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'withdrawal_already_decided', details: { status: 'approved' } });
    expect((await t.call('POST', `/v1/referrals/withdrawals/${w.withdrawal_id}/reject`, { reason: 'late' }, { key: t.admin })).body.error.code).toBe('withdrawal_already_decided');
    expect(await balance(t, user)).toBe(3000);

    // The document's path; rejected: the amount is back, and a rejected one cannot be approved.
    const w2 = must(await t.call('POST', '/api/v1/rewards/withdraw', { userId: user, amount: 1000 }), 201).body;
    expect(await balance(t, user)).toBe(2000);
    expect(must(await t.call('POST', `/v1/referrals/withdrawals/${w2.withdrawal_id}/reject`, { reason: 'account name mismatch' }, { key: t.admin }), 200).body).toMatchObject({ status: 'rejected', reason: 'account name mismatch' });
    expect(await balance(t, user)).toBe(3000);
    expect((await t.call('POST', `/v1/referrals/withdrawals/${w2.withdrawal_id}/approve`, {}, { key: t.admin })).body.error).toMatchObject({ code: 'withdrawal_already_decided', details: { status: 'rejected' } });
    expect(await balance(t, user)).toBe(3000);
    const entries = must(await t.call('GET', `/v1/users/${user}/ledger`), 200).body.entries.map((e: { amount: number; entry_type: string; cause_type: string }) => [e.entry_type, e.amount, e.cause_type]);
    expect(entries).toEqual([
      ['REVOKE', 1000, 'referral_withdrawal'],
      ['SPEND', -1000, 'referral_withdrawal'],
      ['SPEND', -2000, 'referral_withdrawal'],
      ['GRANT', 5000, 'test_credit'],
    ]);

    // More than the balance: refused, nothing written.
    const over = await t.call('POST', '/v1/referrals/withdrawals', { user_id: user, amount: 3001 });
    expect(over.status).toBe(409);
    expect(over.body.error.code).toBe('insufficient_balance');
    const list = must(await t.call('GET', `/v1/referrals/withdrawals?user_id=${user}`), 200).body;
    expect(list.pagination.total).toBe(2);
    expect(list.withdrawals.map((x: { withdrawal_id: string }) => x.withdrawal_id)).toEqual([w2.withdrawal_id, w.withdrawal_id]);
    expect(must(await t.call('GET', `/v1/referrals/withdrawals?user_id=${user}&status=rejected`), 200).body.withdrawals).toHaveLength(1);

    // Bad input is a 400; another tenant sees none of it.
    expect((await t.call('POST', '/v1/referrals/withdrawals', { user_id: user, amount: 0 })).status).toBe(400);
    expect((await t.call('POST', '/api/v1/rewards/withdraw', { amount: 10 })).body.error.code).toBe('invalid_request');
    expect((await t.call('POST', `/v1/referrals/withdrawals/${w.withdrawal_id}/reject`, {}, { key: t.admin })).status).toBe(400);
    const other = await a.newTenant();
    expect((await other.call('GET', `/v1/referrals/withdrawals/${w.withdrawal_id}`)).body.error.code).toBe('withdrawal_not_found');
    expect((await other.call('POST', `/v1/referrals/withdrawals/${w.withdrawal_id}/reject`, { reason: 'x' }, { key: other.admin })).status).toBe(404);
    expect(must(await other.call('GET', '/v1/referrals/withdrawals'), 200).body.pagination.total).toBe(0);
  });

  it('an Idempotency-Key makes a retried request one withdrawal', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const user = `u-${uid()}`;
    await credit(a, t, user, 1000);
    const headers = { 'idempotency-key': `wd-${uid()}` };
    const first = must(await t.call('POST', '/v1/referrals/withdrawals', { user_id: user, amount: 600 }, { headers }), 201).body;
    const second = must(await t.call('POST', '/v1/referrals/withdrawals', { user_id: user, amount: 600 }, { headers }), 201).body;
    expect(second.withdrawal_id).toBe(first.withdrawal_id);
    expect(await balance(t, user)).toBe(400);
  });

  it('120 parallel requests never overdraw; 102 parallel decisions decide each withdrawal once; exact balances', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const user = `u-${uid()}`;
    await credit(a, t, user, 10_000);
    const replies = await Promise.all(Array.from({ length: 120 }, (_, i) => t.call('POST', i % 2 ? '/v1/referrals/withdrawals' : '/api/v1/rewards/withdraw', { user_id: user, amount: 300 })));
    const created = replies.filter((r) => r.status === 201).map((r) => r.body as { withdrawal_id: string });
    expect(created).toHaveLength(33);
    for (const r of replies.filter((x) => x.status !== 201)) {
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('insufficient_balance');
    }
    expect(await balance(t, user)).toBe(100);
    const rows = await a.database.db.selectFrom('referral_withdrawal').select(['amount', 'status']).where('tenant_id', '=', t.tenantId).execute();
    expect(rows).toHaveLength(33);

    // Three approvals and three rejections race for each of 17 withdrawals.
    const targets = created.slice(0, 17);
    const decisions = await Promise.all(
      targets.flatMap((w) =>
        Array.from({ length: 6 }, (_, i) =>
          i % 2
            ? t.call('POST', `/v1/referrals/withdrawals/${w.withdrawal_id}/approve`, { note: 'paid' }, { key: t.admin }).then((r) => ({ id: w.withdrawal_id, r }))
            : t.call('POST', `/v1/referrals/withdrawals/${w.withdrawal_id}/reject`, { reason: 'no' }, { key: t.admin }).then((r) => ({ id: w.withdrawal_id, r })),
        ),
      ),
    );
    expect(decisions).toHaveLength(102);
    let rejected = 0;
    for (const w of targets) {
      const mine = decisions.filter((d) => d.id === w.withdrawal_id);
      const won = mine.filter((d) => d.r.status === 200);
      expect(won).toHaveLength(1);
      for (const d of mine.filter((x) => x.r.status !== 200)) expect(d.r.body.error.code).toBe('withdrawal_already_decided');
      if (won[0]!.r.body.status === 'rejected') rejected++;
    }
    expect(await balance(t, user)).toBe(100 + 300 * rejected);
    const revokes = await a.database.db.selectFrom('ledger_entry').select('entry_id').where('tenant_id', '=', t.tenantId).where('user_id', '=', user).where('entry_type', '=', 'REVOKE').execute();
    expect(revokes).toHaveLength(rejected);
    const byStatus = await a.database.db.selectFrom('referral_withdrawal').select(['status']).where('tenant_id', '=', t.tenantId).execute();
    expect(byStatus.filter((r) => r.status === 'pending')).toHaveLength(16);
    expect(byStatus.filter((r) => r.status === 'rejected')).toHaveLength(rejected);
  });
});
