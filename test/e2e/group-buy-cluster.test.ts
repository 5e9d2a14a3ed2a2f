import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { testDbKind } from '../helpers/database.js';
import { client } from './server-process.js';
import { twoServersOnScratchDatabase } from './two-servers.js';

/**
 * Group-buy joins spread over two API processes on one PostgreSQL database: no group gets more
 * members than its size, member rows equal member_count, and one user's parallel joins stop at the
 * activity's per_user_limit.
 */
const MASTER = 'group-buy-master-key-0123456789abcdef';
const GROUPS = 20;
const SIZE = 5;
const JOINS = 400;

describe.runIf(testDbKind() === 'postgres')('group-buy joins across two API processes on PostgreSQL', () => {
  const cluster = twoServersOnScratchDatabase('groupbuy', MASTER);

  it(`${JOINS} joins over ${GROUPS} groups of ${SIZE}, and one user over 10 groups with per_user_limit 2`, async () => {
    const [a, b] = cluster.servers.map((s) => client(s.url)) as [ReturnType<typeof client>, ReturnType<typeof client>];
    expect((await a('POST', '/v1/tenants', { key: MASTER, body: { tenant_id: 'shop', name: 'Shop' } })).status).toBe(201);
    const key = (await a('POST', '/v1/tenants/shop/api-keys', { key: MASTER, body: { name: 'admin', role: 'admin' } })).body.key as string;
    const now = Date.now();
    const activity = async (perUserLimit: number) => {
      const body = {
        name: 'Tea',
        item_id: 'sku-tea',
        group_price: 990,
        original_price: 1990,
        group_size: SIZE,
        open_minutes: 600,
        per_user_limit: perUserLimit,
        start_time: new Date(now - 60_000).toISOString(),
        end_time: new Date(now + 86_400_000).toISOString(),
      };
      const reply = await a('POST', '/v1/group-buys/activities', { key, body });
      expect(reply.status).toBe(201);
      return reply.body.activity_id as string;
    };
    const openGroups = async (activityId: string, n: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const reply = await a('POST', `/v1/group-buys/activities/${activityId}/groups`, { key, body: { user_id: `lead-${i}` } });
        expect(reply.status).toBe(201);
        ids.push(reply.body.group_id as string);
      }
      return ids;
    };

    const activityId = await activity(1);
    const groupIds = await openGroups(activityId, GROUPS);
    let x = 7;
    const picks = Array.from({ length: JOINS }, () => {
      x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
      return Math.floor((x / 2_147_483_648) * GROUPS);
    });
    const replies = await Promise.all(
      picks.map((g, i) => (i % 2 === 0 ? a : b)('POST', `/v1/group-buys/groups/${groupIds[g]}/join`, { key, body: { user_id: `user-${i}` } })),
    );
    const expected = groupIds.reduce((sum, _, g) => sum + Math.min(SIZE - 1, picks.filter((p) => p === g).length), 0);
    const ok = replies.filter((r) => r.status === 200).length;
    expect(ok).toBe(expected);
    expect(replies.filter((r) => r.status !== 200).every((r) => r.status === 409 && r.body.error.code === 'group_full')).toBe(true);

    const greedyActivity = await activity(2);
    const greedyGroups = await openGroups(greedyActivity, 10);
    const greedy = await Promise.all(greedyGroups.map((g, i) => (i % 2 === 0 ? a : b)('POST', `/v1/group-buys/groups/${g}/join`, { key, body: { user_id: 'greedy' } })));
    expect(greedy.filter((r) => r.status === 200)).toHaveLength(2);
    expect(greedy.filter((r) => r.status === 409 && r.body.error.code === 'per_user_limit_reached')).toHaveLength(8);

    const db = new pg.Client({ connectionString: cluster.url });
    await db.connect();
    try {
      const groups = await db.query(
        `select g.group_id, g.member_count, g.group_size, (select count(*)::int from group_buy_member m where m.tenant_id = g.tenant_id and m.group_id = g.group_id) as rows
         from group_buy_group g where g.activity_id = $1`,
        [activityId],
      );
      for (const g of groups.rows) {
        expect(g.member_count).toBeLessThanOrEqual(SIZE);
        expect(g.rows).toBe(g.member_count);
      }
      const total = groups.rows.reduce((sum: number, g: { member_count: number }) => sum + g.member_count, 0);
      expect(total).toBe(GROUPS + expected);
      const perUser = await db.query('select max(n)::int as most from (select count(*) as n from group_buy_member where activity_id = $1 group by user_id) c', [activityId]);
      expect(perUser.rows[0].most).toBe(1);
      const counter = await db.query("select groups_joined from group_buy_participant where activity_id = $1 and user_id = 'greedy'", [greedyActivity]);
      expect(counter.rows).toEqual([{ groups_joined: 2 }]);
    } finally {
      await db.end();
    }
  }, 120_000);
});
