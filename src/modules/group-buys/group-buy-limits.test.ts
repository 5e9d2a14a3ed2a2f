import { describe, expect, it } from 'vitest';
import { must, type Reply, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';
import { activityBody } from './testing/group-buy-fixture.js';

/**
 * rate_limits.group_buy_join (defaults: 30 creates and joins per end user an hour, 300 per
 * end-user IP): counted by the platform limiter before any database work. Creates and joins share
 * the bucket (opening a group is the leader's join). Each test has its own tenant, so its own keys.
 */

async function newActivity(t: TenantFixture, overrides: Record<string, unknown> = {}): Promise<string> {
  return must(await t.call('POST', '/v1/group-buys/activities', activityBody({ open_minutes: 600, ...overrides }), { key: t.admin }), 201).body.activity_id as string;
}

function codes(replies: Reply[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of replies) {
    const key = r.status < 300 ? String(r.status) : `${r.status} ${r.body?.error?.code}${r.body?.error?.details?.rule ? ` ${r.body.error.details.rule}` : ''}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

describe('group-buy anti-abuse limits', () => {
  it("one user's 50 parallel creates: exactly 30 groups, 20 refused 429 rate_limited with Retry-After", async () => {
    const t = await (await testApp()).newTenant();
    const activityId = await newActivity(t, { per_user_limit: 1000 });
    const replies = await Promise.all(Array.from({ length: 50 }, () => t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: 'busy' })));
    expect(codes(replies)).toEqual({ '201': 30, '429 rate_limited user': 20 });
    const limited = replies.find((r) => r.status === 429)!;
    expect(limited.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    expect(limited.body.error.details.retry_after_seconds).toBe(Number(limited.headers['retry-after']));
    const groups = must(await t.call('GET', `/v1/group-buys/activities/${activityId}/groups?page_size=100`), 200).body;
    expect(groups.pagination.total).toBe(30);
    // Nothing half-written: the refused ones left no group and no member.
    expect(groups.groups.every((g: { member_count: number; members: unknown[] }) => g.member_count === 1 && g.members.length === 1)).toBe(true);
  }, 60_000);

  it("one user's 40 parallel joins of 40 groups: exactly 30 joined; creates and joins share the bucket", async () => {
    const t = await (await testApp()).newTenant();
    const activityId = await newActivity(t, { per_user_limit: 1000, group_size: 3 });
    const groupIds: string[] = [];
    for (let i = 0; i < 40; i++) groupIds.push(must(await t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: `lead-${i}` }), 201).body.group_id);
    const replies = await Promise.all(groupIds.map((g) => t.call('POST', `/v1/group-buys/groups/${g}/join`, { user_id: 'joiner' })));
    expect(codes(replies)).toEqual({ '200': 30, '429 rate_limited user': 10 });
    // The joiner's 31st attempt of any kind is refused, also a create and on the document's paths.
    expect(codes([await t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: 'joiner' })])).toEqual({ '429 rate_limited user': 1 });
    expect(codes([await t.call('POST', '/marketing/group-buy', { activity_id: activityId, user_id: 'joiner' })])).toEqual({ '429 rate_limited user': 1 });
    expect(codes([await t.call('POST', `/marketing/group-buy/${groupIds[0]}/join`, { user_id: 'joiner' })])).toEqual({ '429 rate_limited user': 1 });
    // Another user is not affected.
    must(await t.call('POST', `/marketing/group-buy/${groupIds[0]}/join`, { user_id: 'someone-else' }), 200);
  }, 60_000);

  it('the document paths count too: 35 creates by one user on POST /marketing/group-buy give exactly 30', async () => {
    const t = await (await testApp()).newTenant();
    const activityId = await newActivity(t, { per_user_limit: 1000 });
    const replies = await Promise.all(Array.from({ length: 35 }, () => t.call('POST', '/marketing/group-buy', { activity_id: activityId, user_id: 'doc-user' })));
    expect(codes(replies)).toEqual({ '201': 30, '429 rate_limited user': 5 });
    expect(replies.find((r) => r.status === 429)!.headers['retry-after']).toMatch(/^[1-9]\d*$/);
  }, 60_000);

  it('310 users behind one client_ip: exactly 300 get through; a client_ip that is not an address is 400', async () => {
    const t = await (await testApp()).newTenant();
    const activityId = await newActivity(t, { per_user_limit: 1 });
    const bad = await t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: 'x', client_ip: 'not-an-ip' });
    expect({ status: bad.status, code: bad.body.error.code, field: bad.body.error.details.field }).toEqual({ status: 400, code: 'invalid_request', field: 'client_ip' });
    const replies = await Promise.all(
      Array.from({ length: 310 }, (_, i) =>
        i % 2 === 0
          ? t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: `ip-${i}`, client_ip: '203.0.113.9' })
          : t.call('POST', '/marketing/group-buy', { activity_id: activityId, user_id: `ip-${i}`, client_ip: '203.0.113.9' }),
      ),
    );
    expect(codes(replies)).toEqual({ '201': 300, '429 rate_limited client_ip': 10 });
    expect(must(await t.call('GET', `/v1/group-buys/activities/${activityId}/groups?page_size=1`), 200).body.pagination.total).toBe(300);
    // Another address is not affected.
    must(await t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: 'elsewhere', client_ip: '198.51.100.1' }), 201);
  }, 120_000);
});
