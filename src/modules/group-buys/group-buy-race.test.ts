import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { must, type Reply, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';
import { activityBody } from './testing/group-buy-fixture.js';

/**
 * Joins fired at once (Promise.all of app.inject; on PostgreSQL they run on the pool's
 * connections concurrently): the group count, the member rows and the per-user counter are the
 * database's, so the figures are exact whatever the interleaving.
 */

async function newActivity(t: TenantFixture, overrides: Record<string, unknown> = {}): Promise<string> {
  return must(await t.call('POST', '/v1/group-buys/activities', activityBody({ open_minutes: 600, ...overrides }), { key: t.admin }), 201).body.activity_id as string;
}

async function openGroup(t: TenantFixture, activityId: string, leader: string): Promise<string> {
  return must(await t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: leader }), 201).body.group_id as string;
}

function codes(replies: Reply[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of replies) {
    const key = r.status < 300 ? String(r.status) : `${r.status} ${r.body?.error?.code}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** A small deterministic generator, so a failure can be replayed. */
function seeded(seed: number) {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return x / 2_147_483_648;
  };
}

async function consistency(app: Awaited<ReturnType<typeof testApp>>, tenantId: string, activityId: string) {
  const db = app.database.db;
  const groups = await db.selectFrom('group_buy_group').selectAll().where('tenant_id', '=', tenantId).where('activity_id', '=', activityId).execute();
  const counted = await sql<{ group_id: string; n: number }>`
    select group_id, count(*)::int as n from group_buy_member where tenant_id = ${tenantId} and activity_id = ${activityId} group by group_id`.execute(db);
  const rows = new Map(counted.rows.map((r) => [r.group_id, Number(r.n)]));
  const perUser = await sql<{ n: number }>`
    select count(*)::int as n from group_buy_member where tenant_id = ${tenantId} and activity_id = ${activityId} group by user_id order by 1 desc limit 1`.execute(db);
  return { groups, rows, mostGroupsOfOneUser: Number(perUser.rows[0]?.n ?? 0) };
}

describe('group-buy races', () => {
  it('50 users joining 3 groups of 5 at once: no group over 5, rows = counts, a user in one group', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const activityId = await newActivity(t, { group_size: 5 });
    const groupIds = [await openGroup(t, activityId, 'lead-0'), await openGroup(t, activityId, 'lead-1'), await openGroup(t, activityId, 'lead-2')];
    const random = seeded(20);
    const picks = Array.from({ length: 50 }, () => Math.floor(random() * groupIds.length));
    const replies = await Promise.all(picks.map((g, i) => t.call('POST', `/v1/group-buys/groups/${groupIds[g]}/join`, { user_id: `u-${i}` })));

    // Each group takes 4 joiners (the leader is the 5th): the first 4 of those who picked it, whoever they are.
    const expected = groupIds.reduce((sum, _, g) => sum + Math.min(4, picks.filter((p) => p === g).length), 0);
    expect(expected).toBe(12);
    expect(codes(replies)).toEqual({ '200': 12, '409 group_full': 38 });
    const { groups, rows, mostGroupsOfOneUser } = await consistency(app, t.tenantId, activityId);
    for (const g of groups) {
      expect(g.member_count).toBe(5);
      expect(rows.get(g.group_id)).toBe(g.member_count);
      expect(g.status).toBe('succeeded');
    }
    expect(mostGroupsOfOneUser).toBe(1);
  });

  it('300 users joining 20 groups of 5 at once: exactly 80 joins, every group succeeded with 5 rows', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const activityId = await newActivity(t, { group_size: 5 });
    const groupIds: string[] = [];
    for (let i = 0; i < 20; i++) groupIds.push(await openGroup(t, activityId, `lead-${i}`));
    const replies = await Promise.all(Array.from({ length: 300 }, (_, i) => t.call('POST', `/v1/group-buys/groups/${groupIds[i % 20]}/join`, { user_id: `u-${i}` })));
    expect(codes(replies)).toEqual({ '200': 80, '409 group_full': 220 });
    const { groups, rows, mostGroupsOfOneUser } = await consistency(app, t.tenantId, activityId);
    expect(groups).toHaveLength(20);
    for (const g of groups) expect({ count: g.member_count, rows: rows.get(g.group_id), status: g.status }).toEqual({ count: 5, rows: 5, status: 'succeeded' });
    expect(mostGroupsOfOneUser).toBe(1);
  });

  it('30 joins of one group of 5 at once: exactly 4 succeed and the group succeeds', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const activityId = await newActivity(t, { group_size: 5 });
    const groupId = await openGroup(t, activityId, 'lead');
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => t.call('POST', `/v1/group-buys/groups/${groupId}/join`, { user_id: `u-${i}` })));
    expect(codes(replies)).toEqual({ '200': 4, '409 group_full': 26 });
    const group = must(await t.call('GET', `/v1/group-buys/groups/${groupId}`), 200).body;
    expect(group).toMatchObject({ status: 'succeeded', member_count: 5 });
    expect(group.members).toHaveLength(5);
    // Exactly one join saw the group fill (the one that enqueues the success webhook).
    expect(replies.filter((r) => r.status === 200 && r.body.status === 'succeeded')).toHaveLength(1);
  });

  it('one user joining 10 groups at once with per_user_limit 1 gets exactly one; with 3, exactly 3', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    for (const limit of [1, 3]) {
      const activityId = await newActivity(t, { group_size: 5, per_user_limit: limit });
      const groupIds: string[] = [];
      for (let i = 0; i < 10; i++) groupIds.push(await openGroup(t, activityId, `lead-${i}`));
      const replies = await Promise.all(groupIds.map((g) => t.call('POST', `/v1/group-buys/groups/${g}/join`, { user_id: 'greedy' })));
      expect(codes(replies)).toEqual({ '200': limit, '409 per_user_limit_reached': 10 - limit });
      const { groups, rows } = await consistency(app, t.tenantId, activityId);
      expect(groups.reduce((sum, g) => sum + g.member_count, 0)).toBe(10 + limit);
      for (const g of groups) expect(rows.get(g.group_id)).toBe(g.member_count);
    }
  });

  it('one user joining one group 20 times at once is in it once', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const activityId = await newActivity(t, { group_size: 5, per_user_limit: 5 });
    const groupId = await openGroup(t, activityId, 'lead');
    const replies = await Promise.all(Array.from({ length: 20 }, () => t.call('POST', `/v1/group-buys/groups/${groupId}/join`, { user_id: 'twice' })));
    expect(codes(replies)).toEqual({ '200': 1, '409 already_joined': 19 });
    expect(must(await t.call('GET', `/v1/group-buys/groups/${groupId}`), 200).body.member_count).toBe(2);
  });
});
