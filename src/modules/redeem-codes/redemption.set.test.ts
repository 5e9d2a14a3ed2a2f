import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { codeCampaign, createBatch } from '../../../test/helpers/redeem-code-helpers.js';
import { must, type TestApp, testApp, type TenantFixture } from '../../../test/helpers/test-app.js';

/**
 * mh_redeem_batch (sql/mh_redeem_batch.sql), the one redemption function: a set of redemptions is
 * settled as the same items one by one would be. These tests call it directly with the parameters
 * the service would send, so the batch's make-up is exact: the same items go once as one set (a
 * group commit) and once one item per call (a redemption alone), and must answer and write the same.
 */

let n = 0;
const id = (prefix: string) => `${prefix}_${Date.now().toString(36)}_${++n}`;

interface Scenario {
  t: TenantFixture;
  rewardId: string;
  rewardVersion: number;
  campaignId: string;
  campaignVersion: number;
  single: { batch_id: string; seq: number; code: string }[];
  multi: { batch_id: string; seq: number; code: string };
  voided: { batch_id: string; seq: number; code: string };
}

async function scenario(app: TestApp): Promise<Scenario> {
  const t = await app.newTenant();
  const { campaignId, rewardId } = await codeCampaign(t, { points: 10 });
  const single = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 4 }), 201).body;
  const multi = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 1, max_uses: 3 }), 201).body;
  const voided = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 1 }), 201).body;
  must(await t.call('POST', `/v1/redeem-codes/${voided.codes[0]}/void`, {}), 200);
  const codes = async (batchId: string) =>
    (await sql<{ batch_id: string; seq: number; code: string }>`select batch_id, seq, code from redeem_code where tenant_id = ${t.tenantId} and batch_id = ${batchId} order by seq`.execute(app.database.db)).rows;
  const version = async (table: 'reward' | 'campaign', key: string) =>
    (await sql<{ version: number }>`select version from ${sql.table(table)} where tenant_id = ${t.tenantId} and ${sql.ref(`${table}_id`)} = ${key}`.execute(app.database.db)).rows[0]!.version;
  return {
    t,
    rewardId,
    rewardVersion: await version('reward', rewardId),
    campaignId,
    campaignVersion: await version('campaign', campaignId),
    single: await codes(single.batch_id),
    multi: (await codes(multi.batch_id))[0]!,
    voided: (await codes(voided.batch_id))[0]!,
  };
}

/** The parameter the grant service builds for a redemption (see grant.statement.ts toParameter). */
function item(s: Scenario, code: { batch_id: string; seq: number; code: string }, userId: string, maxUses: number, extra: { expires_at?: string } = {}) {
  const grantId = id('grt');
  return {
    tenant_id: s.t.tenantId,
    reward_id: s.rewardId,
    reward_version: s.rewardVersion,
    campaign_id: s.campaignId,
    campaign_version: s.campaignVersion,
    grant_id: grantId,
    reward_type: 'POINTS',
    product_code: s.t.productCode,
    user_id: userId,
    quantity: 1,
    source: 'redeem_code',
    source_id: maxUses === 1 ? `${code.batch_id}:${code.seq}` : `${code.batch_id}:${code.seq}/${userId}`,
    status: 'DELIVERED',
    distributor: 'AUTO',
    delivery_status: 'NOT_REQUIRED',
    payload: { points: 10 },
    now: new Date().toISOString(),
    period_key: null,
    credit: { entry_id: id('led'), asset: 'POINTS', amount: 10, cause_type: 'reward_grant', memo: 'Code reward' },
    redeem: {
      batch_id: code.batch_id,
      seq: code.seq,
      max_uses: maxUses,
      redemption_id: id('rdm'),
      code: code.code,
      campaign_id: s.campaignId,
      product_code: s.t.productCode,
      client_ip: null,
      ...extra,
    },
  };
}

/** The mix of a busy group commit: same user twice, a code twice, a multi-use code, refusals. */
function items(s: Scenario) {
  const [a, b, c, d] = s.single;
  return [
    item(s, a!, 'u1', 1),
    item(s, b!, 'u1', 1), // the same user again: one account, two entries in order
    item(s, c!, 'u2', 1),
    item(s, a!, 'u3', 1), // the same code again: refused under the lock
    item(s, s.multi, 'u1', 3),
    item(s, s.multi, 'u2', 3), // a multi-use code, another user: granted
    item(s, s.multi, 'u1', 3), // ... the same user again: refused
    item(s, s.voided, 'u4', 1),
    item(s, d!, 'u5', 1, { expires_at: '2001-01-01T00:00:00.000Z' }),
  ];
}

type Outcome = { outcome: string; code?: string; grant?: Record<string, unknown>; redemption?: Record<string, unknown>; code_state?: unknown };

/** Runs the items in one statement (as one set) or one statement each. */
async function run(app: TestApp, params: ReturnType<typeof items>, asOneBatch: boolean) {
  return app.database.db.transaction().execute(async (trx) => {
    const outcomes: Outcome[] = [];
    for (const group of asOneBatch ? [params] : params.map((p) => [p])) {
      const { rows } = await sql<{ r: Outcome }>`select r from mh_redeem_batch(${JSON.stringify(group)}::jsonb) as r`.execute(trx);
      outcomes.push(...rows.map((row) => row.r));
    }
    return { outcomes };
  });
}

/** What an outcome says, without the ids and times that differ between two runs. */
function shape(o: Outcome) {
  if (o.outcome !== 'granted') return o;
  const { grant_id: _g, tenant_id: _t, created_at: _c, updated_at: _u, reward_id: _w, campaign_id: _k, stock_slots, ...grant } = o.grant!;
  const { redemption_id: _r, grant_id: _rg, tenant_id: _rt, created_at: _rc, batch_id: _b, code: _code, reward_id: _rw, campaign_id: _rk, ...redemption } = o.redemption!;
  return { outcome: o.outcome, grant: { ...grant, source_id: 'x', slots: (stock_slots as unknown[]).length }, redemption, code_state: o.code_state };
}

async function ledgerOf(app: TestApp, tenantId: string, userId: string) {
  const { rows } = await sql<{ amount: string; balance_after: string; account_seq: string }>`
    select amount, balance_after, account_seq from ledger_entry where tenant_id = ${tenantId} and user_id = ${userId} order by created_at, entry_seq`.execute(app.database.db);
  const account = await sql<{ balance: string; entry_count: string }>`select balance, entry_count from ledger_account where tenant_id = ${tenantId} and user_id = ${userId}`.execute(app.database.db);
  return { entries: rows.map((r) => [Number(r.amount), Number(r.balance_after), Number(r.account_seq)]), account: account.rows.map((r) => [Number(r.balance), Number(r.entry_count)]) };
}

describe('one redemption function for one or many (mh_redeem_batch)', () => {
  it('a set answers and writes exactly what the same redemptions one by one do', async () => {
    const app = await testApp();
    const asSet = await scenario(app);
    const oneByOne = await scenario(app);
    const set = await run(app, items(asSet), true);
    const reference = await run(app, items(oneByOne), false);

    expect(set.outcomes.map((o) => [o.outcome, o.code ?? null])).toEqual([
      ['granted', null],
      ['granted', null],
      ['granted', null],
      ['refused', 'code_already_redeemed'],
      ['granted', null],
      ['granted', null],
      ['refused', 'code_already_redeemed'],
      ['refused', 'code_voided'],
      ['refused', 'code_expired'],
    ]);
    expect(set.outcomes.map(shape)).toEqual(reference.outcomes.map(shape));

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
      const { rows } = await sql<{ status: string; uses: number }>`
        select status, uses from redeem_code where tenant_id = ${s.t.tenantId} order by batch_id, seq`.execute(app.database.db);
      expect(rows.filter((r) => r.status === 'REDEEMED')).toHaveLength(3);
      expect(rows.find((r) => r.uses === 2)).toMatchObject({ status: 'ACTIVE' }); // the multi-use code: u1 and u2
      const counts = await sql<{ grants: number; redemptions: number; stock: number }>`
        select (select count(*)::int from reward_grant where tenant_id = ${s.t.tenantId}) as grants,
               (select count(*)::int from redeem_code_redemption where tenant_id = ${s.t.tenantId}) as redemptions,
               (select sum(used)::int from reward_stock_slot where tenant_id = ${s.t.tenantId}) as stock`.execute(app.database.db);
      expect(counts.rows[0]).toEqual({ grants: 5, redemptions: 5, stock: 5 });
    }
  });

  it('a stale snapshot is answered stale with the codes untouched; in a set a reward no free slot covers is busy', async () => {
    const app = await testApp();
    const s = await scenario(app);
    const stale = items(s).slice(0, 3).map((p) => ({ ...p, reward_version: s.rewardVersion - 1 }));
    const answered = await run(app, stale, true);
    expect(answered.outcomes.map((o) => o.outcome)).toEqual(['stale', 'stale', 'stale']);
    const used = await sql<{ n: number }>`select count(*)::int as n from redeem_code where tenant_id = ${s.t.tenantId} and (uses > 0 or last_redeemed_at is not null)`.execute(app.database.db);
    expect(used.rows[0]!.n).toBe(0);

    // Stock of 2 left in 8 slots: no slot covers the batch's two grants; one by one each finds room or not.
    const t = await app.newTenant();
    const { campaignId, rewardId } = await codeCampaign(t, { total_stock: 2 });
    const batch = must(await createBatch(t, campaignId, { reward_id: rewardId, count: 3 }), 201).body;
    const codes = (await sql<{ batch_id: string; seq: number; code: string }>`select batch_id, seq, code from redeem_code where tenant_id = ${t.tenantId} and batch_id = ${batch.batch_id} order by seq`.execute(app.database.db)).rows;
    const version = async (q: string) => (await sql<{ version: number }>`select version from ${sql.table(q)} where tenant_id = ${t.tenantId} limit 1`.execute(app.database.db)).rows[0]!.version;
    const low: Scenario = { t, rewardId, rewardVersion: await version('reward'), campaignId, campaignVersion: await version('campaign'), single: codes, multi: codes[0]!, voided: codes[0]! };
    const outcomes = (await run(app, codes.map((c, i) => item(low, c, `s${i}`, 1)), true)).outcomes;
    // The third finds no slot it may take without waiting: busy, which the batcher then runs on
    // its own (and which is refused inventory_exhausted there).
    expect(outcomes.map((o) => o.outcome)).toEqual(['granted', 'granted', 'busy']);
  });
});
