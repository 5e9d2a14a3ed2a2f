import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { codeCampaign } from '../../../test/helpers/redeem-code-helpers.js';
import { type TestApp, testApp, type TenantFixture } from '../../../test/helpers/test-app.js';
import { runGrantSet } from './grant.statement.js';

/**
 * mh_grant_set (sql/mh_grant_set.sql) is the one grant path: a group commit's grants are settled
 * as one set, and a grant on its own is the same function over one item. Like
 * redemption.set.test.ts, these run the function (runGrantSet) with the parameters the service
 * would send: the same items go once as one batch and once one statement each, and must answer
 * and write what grants one by one do (the answers and final counters are written down too).
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
function item(s: Scenario, userId: string, cause: string | null, limits: { per_user_limit?: number; min_interval_ms?: number } = {}) {
  const grantId = id('grt');
  return {
    ...limits,
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
    period_key: limits.per_user_limit === undefined ? null : 'LIFETIME',
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

type Outcome = { outcome: string; code?: string; details?: Record<string, unknown>; grant?: Record<string, unknown> };

/** Runs the items in one statement (as one batch) or one statement each; counts the calls of the grant functions. */
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
      outcomes.push(...(await runGrantSet(trx, group)));
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

async function countsOf(app: TestApp, tenantId: string) {
  const { rows } = await sql<{ grants: number; entries: number; stock: number; counted: number }>`
    select (select count(*)::int from reward_grant where tenant_id = ${tenantId}) as grants,
           (select count(*)::int from ledger_entry where tenant_id = ${tenantId}) as entries,
           (select sum(used)::int from reward_stock_slot where tenant_id = ${tenantId}) as stock,
           (select coalesce(sum(granted), 0)::int from reward_user_counter where tenant_id = ${tenantId}) as counted`.execute(app.database.db);
  return rows[0];
}

describe('the one grant path (mh_grant_set), for a group commit or one grant', () => {
  it('answers and writes for a batch what one statement per grant does', async () => {
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
    // One call of the set function for the batch, one per grant one by one, and nothing else.
    expect([set.asSet, set.perItem]).toEqual([1, 0]);
    expect([reference.asSet, reference.perItem]).toEqual([6, 0]);

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

  it('settles what a set cannot take at once: a stale snapshot, a reward no slot can cover', async () => {
    const app = await testApp();
    const s = await scenario(app);
    const stale = items(s).slice(0, 3).map((p) => ({ ...p, reward_version: s.rewardVersion - 1 }));
    expect((await run(app, stale, true)).map((o) => o.outcome)).toEqual(['stale', 'stale', 'stale']);

    // Stock of 2 left in its slots: no slot covers the batch's three grants, so each takes its
    // own: two find room, the third finds no slot it may take without waiting (busy, which the
    // batcher then runs on its own), and its claim is undone.
    const low = await scenario(app, 2);
    const outcomes = await run(app, [item(low, 'a', 'x1'), item(low, 'b', 'x2'), item(low, 'c', null)], true);
    expect(outcomes.map((o) => o.outcome)).toEqual(['granted', 'granted', 'busy']);
    expect([outcomes.asSet, outcomes.perItem]).toEqual([1, 0]);
    const { rows } = await sql<{ grants: number; stock: number }>`
      select (select count(*)::int from reward_grant where tenant_id = ${low.t.tenantId}) as grants,
             (select sum(used)::int from reward_stock_slot where tenant_id = ${low.t.tenantId}) as stock`.execute(app.database.db);
    expect(rows[0]).toEqual({ grants: 2, stock: 2 });
  });

  it('refuses inside a batch as one by one: per_user_limit_reached, then min_interval_not_elapsed, with the counters exact', async () => {
    const app = await testApp();
    const answers: Outcome[][] = [];
    for (const asOneBatch of [true, false]) {
      const s = await scenario(app);
      // Limit 1: u1's second grant is refused, its cause's claim and count undone.
      const limited = [item(s, 'u1', null, { per_user_limit: 1 }), item(s, 'u1', 'k1', { per_user_limit: 1 }), item(s, 'u2', null, { per_user_limit: 1 })];
      // One a minute: u3's second grant is refused after the stock, which it gives back.
      const spaced = [item(s, 'u3', null, { min_interval_ms: 60_000 }), item(s, 'u3', null, { min_interval_ms: 60_000 })];
      const outcomes = await run(app, [...limited, ...spaced], asOneBatch);
      answers.push(outcomes);
      expect(outcomes.map((o) => o.code ?? o.outcome)).toEqual(['granted', 'per_user_limit_reached', 'granted', 'granted', 'min_interval_not_elapsed']);
      expect(outcomes[1]!.details).toEqual({ per_user_limit: 1 });
      expect(outcomes[4]!.details).toEqual({ retry_after_seconds: 60 });
      expect(outcomes.perItem).toBe(0);
      // Three grants; two LIFETIME counts (u1, u2) and one LAST stamp (u3).
      expect(await countsOf(app, s.t.tenantId)).toEqual({ grants: 3, entries: 3, stock: 3, counted: 3 });
    }
    expect(answers[0]!.map(shape)).toEqual(answers[1]!.map(shape));
  });
});
