import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { codeCampaign } from '../../../test/helpers/redeem-code-helpers.js';
import { type TestApp, testApp, type TenantFixture } from '../../../test/helpers/test-app.js';

/**
 * mh_grant_set (sql/mh_grant_set.sql): the plain grants of a group commit are settled as a set. Like
 * redemption.set.test.ts, these call mh_grant_batch directly with the parameters the service
 * would send: the same items go once as one batch (the set path) and once one statement each
 * (mh_grant, the reference), and must answer and write the same.
 */

let n = 0;
const id = (prefix: string) => `${prefix}_${Date.now().toString(36)}_${++n}`;

interface Scenario {
  t: TenantFixture;
  rewardId: string;
  rewardVersion: number;
  campaignId: string;
}

async function scenario(app: TestApp, stock?: number): Promise<Scenario> {
  const t = await app.newTenant();
  const { campaignId, rewardId } = await codeCampaign(t, { points: 10, ...(stock === undefined ? {} : { total_stock: stock }) });
  const version = (await sql<{ version: number }>`select version from reward where tenant_id = ${t.tenantId} and reward_id = ${rewardId}`.execute(app.database.db)).rows[0]!.version;
  return { t, rewardId, rewardVersion: version, campaignId };
}

/** The parameter the grant service builds for a grant (see grant.statement.ts toParameter). */
function item(s: Scenario, userId: string, cause: string | null) {
  const grantId = id('grt');
  return {
    tenant_id: s.t.tenantId,
    reward_id: s.rewardId,
    reward_version: s.rewardVersion,
    campaign_id: s.campaignId,
    grant_id: grantId,
    reward_type: 'POINTS',
    product_code: s.t.productCode,
    user_id: userId,
    quantity: 1,
    source: cause === null ? null : 'task_completion',
    source_id: cause,
    status: 'DELIVERED',
    distributor: 'AUTO',
    delivery_status: 'NOT_REQUIRED',
    payload: { points: 10 },
    now: new Date().toISOString(),
    period_key: null,
    credit: { entry_id: id('led'), asset: 'POINTS', amount: 10, cause_type: 'reward_grant', memo: 'Task reward' },
  };
}

/** A busy group commit's mix: the same user three times, a cause twice, a cause granted before. */
function items(s: Scenario) {
  return [
    item(s, 'u1', null),
    item(s, 'u1', 'c1'), // the same user again, with a cause: one account, entries in order
    item(s, 'u2', 'c2'),
    item(s, 'u3', 'c1'), // the same cause again: the first item's grant, replayed
    item(s, 'u1', null),
    item(s, 'u4', 'before'), // a cause that already has its grant: replayed
  ];
}

type Outcome = { outcome: string; code?: string; grant?: Record<string, unknown> };

/** Runs the items in one statement (as one batch) or one statement each; counts the calls of mh_grant and mh_grant_set. */
async function run(app: TestApp, params: ReturnType<typeof item>[], asOneBatch: boolean) {
  return app.database.db.transaction().execute(async (trx) => {
    await sql`set local track_functions = 'pl'`.execute(trx);
    // The connection's counts not yet reported include earlier transactions': count the difference.
    const counts = async () => {
      const { rows } = await sql<{ funcname: string; calls: string }>`select funcname, calls from pg_stat_xact_user_functions where funcname in ('mh_grant', 'mh_grant_set')`.execute(trx);
      return (name: string) => Number(rows.find((r) => r.funcname === name)?.calls ?? 0);
    };
    const before = await counts();
    const outcomes: Outcome[] = [];
    for (const group of asOneBatch ? [params] : params.map((p) => [p])) {
      const { rows } = await sql<{ r: Outcome }>`select r from mh_grant_batch(${JSON.stringify(group)}::jsonb) as r`.execute(trx);
      outcomes.push(...rows.map((row) => row.r));
    }
    const after = await counts();
    const calls = (name: string) => after(name) - before(name);
    return Object.assign(outcomes, { perItem: calls('mh_grant'), asSet: calls('mh_grant_set') });
  });
}

/** What an outcome says, without the ids and times that differ between two runs. */
function shape(o: Outcome) {
  if (!o.grant) return o;
  const { grant_id: _g, tenant_id: _t, created_at: _c, updated_at: _u, reward_id: _w, campaign_id: _k, stock_slots, ...grant } = o.grant;
  return { outcome: o.outcome, grant: { ...grant, slots: (stock_slots as unknown[]).length } };
}

async function ledgerOf(app: TestApp, tenantId: string, userId: string) {
  const { rows } = await sql<{ amount: string; balance_after: string; account_seq: string }>`
    select amount, balance_after, account_seq from ledger_entry where tenant_id = ${tenantId} and user_id = ${userId} order by created_at, entry_seq`.execute(app.database.db);
  const account = await sql<{ balance: string; entry_count: string }>`select balance, entry_count from ledger_account where tenant_id = ${tenantId} and user_id = ${userId}`.execute(app.database.db);
  return { entries: rows.map((r) => [Number(r.amount), Number(r.balance_after), Number(r.account_seq)]), account: account.rows.map((r) => [Number(r.balance), Number(r.entry_count)]) };
}

describe('plain grants of a group commit as a set (mh_grant_set)', () => {
  it('answers and writes exactly what one statement per grant does', async () => {
    const app = await testApp();
    const asSet = await scenario(app);
    const oneByOne = await scenario(app);
    for (const s of [asSet, oneByOne]) await run(app, [item(s, 'u4', 'before')], false);

    const set = await run(app, items(asSet), true);
    const reference = await run(app, items(oneByOne), false);
    expect(set.map((o) => o.outcome)).toEqual(['granted', 'granted', 'granted', 'replayed', 'granted', 'replayed']);
    expect(set.map(shape)).toEqual(reference.map(shape));
    // The replayed cause answers the grant its first item made, not a new one.
    expect(set[3]!.grant!.grant_id).toBe(set[1]!.grant!.grant_id);
    // In the batch only the second item of a cause and the cause granted before went one by one.
    expect([set.asSet, set.perItem]).toEqual([1, 2]);
    expect([reference.asSet, reference.perItem]).toEqual([0, 6]);

    for (const s of [asSet, oneByOne]) {
      // u1: three grants of 10 points, in the batch's order.
      expect(await ledgerOf(app, s.t.tenantId, 'u1')).toEqual({
        entries: [
          [10, 10, 1],
          [10, 20, 2],
          [10, 30, 3],
        ],
        account: [[30, 3]],
      });
      expect(await ledgerOf(app, s.t.tenantId, 'u3')).toEqual({ entries: [], account: [] });
      const counts = await sql<{ grants: number; entries: number; stock: number }>`
        select (select count(*)::int from reward_grant where tenant_id = ${s.t.tenantId}) as grants,
               (select count(*)::int from ledger_entry where tenant_id = ${s.t.tenantId}) as entries,
               (select sum(used)::int from reward_stock_slot where tenant_id = ${s.t.tenantId}) as stock`.execute(app.database.db);
      // The earlier grant and four of the batch's six.
      expect(counts.rows[0]).toEqual({ grants: 5, entries: 5, stock: 5 });
    }
  });

  it('leaves to the one-by-one path what it cannot settle: a stale snapshot, a reward no slot can cover', async () => {
    const app = await testApp();
    const s = await scenario(app);
    const stale = items(s).slice(0, 3).map((p) => ({ ...p, reward_version: s.rewardVersion - 1 }));
    expect((await run(app, stale, true)).map((o) => o.outcome)).toEqual(['stale', 'stale', 'stale']);

    // Stock of 2 left in its slots: no slot covers the batch's three grants, so the claims the set
    // made are undone and each goes one by one: two find room, the third finds no slot it may
    // take without waiting (busy, which the batcher then runs on its own).
    const low = await scenario(app, 2);
    const outcomes = await run(app, [item(low, 'a', 'x1'), item(low, 'b', 'x2'), item(low, 'c', null)], true);
    expect(outcomes.map((o) => o.outcome)).toEqual(['granted', 'granted', 'busy']);
    expect([outcomes.asSet, outcomes.perItem]).toEqual([1, 3]);
    const { rows } = await sql<{ grants: number; stock: number }>`
      select (select count(*)::int from reward_grant where tenant_id = ${low.t.tenantId}) as grants,
             (select sum(used)::int from reward_stock_slot where tenant_id = ${low.t.tenantId}) as stock`.execute(app.database.db);
    expect(rows[0]).toEqual({ grants: 2, stock: 2 });
  });
});
