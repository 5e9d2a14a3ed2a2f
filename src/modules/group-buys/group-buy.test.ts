import { describe, expect, it } from 'vitest';
import { must, type Reply, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';
import { preferredLanguage } from './group-buy.language.js';
import { activityBody } from './testing/group-buy-fixture.js';

const MINUTE = 60_000;

function expectError(reply: Reply, status: number, code: string) {
  expect({ status: reply.status, code: reply.body?.error?.code }, JSON.stringify(reply.body)).toEqual({ status, code });
}

async function newActivity(t: TenantFixture, overrides: Record<string, unknown> = {}) {
  return must(await t.call('POST', '/v1/group-buys/activities', activityBody(overrides), { key: t.admin }), 201).body as { activity_id: string; status: string };
}

describe('group-buy activities', () => {
  it('are created, listed, read, changed before they start and ended', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const active = await newActivity(t);
    expect(active).toMatchObject({ status: 'active', group_size: 3, per_user_limit: 1, virtual_fill: false, webhook_url: null, group_price: 9_900 });
    const later = await newActivity(t, { start_time: new Date(Date.now() + 60 * MINUTE).toISOString() });
    expect(later.status).toBe('scheduled');

    const list = must(await t.call('GET', '/v1/group-buys/activities?status=active'), 200).body;
    expect(list.activities.map((a: { activity_id: string }) => a.activity_id)).toEqual([active.activity_id]);
    expect(list.pagination.total).toBe(1);
    expect(must(await t.call('GET', `/v1/group-buys/activities/${later.activity_id}`), 200).body.status).toBe('scheduled');
    expectError(await t.call('GET', '/v1/group-buys/activities/gba_nope'), 404, 'activity_not_found');

    // Changes only before the start.
    expect(must(await t.call('PUT', `/v1/group-buys/activities/${later.activity_id}`, { group_size: 5 }, { key: t.admin }), 200).body.group_size).toBe(5);
    expectError(await t.call('PUT', `/v1/group-buys/activities/${active.activity_id}`, { group_size: 5 }, { key: t.admin }), 409, 'activity_started');

    const ended = must(await t.call('POST', `/v1/group-buys/activities/${active.activity_id}/end`, undefined, { key: t.admin }), 200).body;
    expect(ended.status).toBe('ended');
    expectError(await t.call('POST', `/v1/group-buys/activities/${active.activity_id}/end`, undefined, { key: t.admin }), 409, 'activity_ended');
  });

  it('refuse bad settings with stable codes', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const post = (o: Record<string, unknown>) => t.call('POST', '/v1/group-buys/activities', activityBody(o), { key: t.admin });
    expectError(await post({ group_size: 11 }), 400, 'group_size_too_large');
    expectError(await post({ group_size: 1 }), 400, 'invalid_request');
    expectError(await post({ group_price: -1 }), 400, 'invalid_request');
    expectError(await post({ group_price: 20_000 }), 400, 'invalid_request');
    expectError(await post({ end_time: new Date(Date.now() - 2 * MINUTE).toISOString() }), 400, 'invalid_time_range');
    expectError(await post({ webhook_url: 'https://example.invalid/hook' }), 400, 'webhook_incomplete');
    expectError(await t.call('POST', '/v1/group-buys/activities', activityBody()), 403, 'insufficient_role');
  });
});

describe('group-buy groups', () => {
  it('open with the leader, take joins until full, then succeed', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { activity_id: activityId } = await newActivity(t);
    const opened = must(await t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: 'lead', order_id: 'o-1' }), 201).body;
    expect(opened).toMatchObject({ status: 'open', member_count: 1, group_size: 3, leader_user_id: 'lead', virtual_members: 0 });
    expect(opened.members).toEqual([expect.objectContaining({ user_id: 'lead', order_id: 'o-1', is_leader: true })]);
    const groupId = opened.group_id as string;

    const open = must(await t.call('GET', `/v1/group-buys/activities/${activityId}/groups?status=open`), 200).body;
    expect(open.groups.map((g: { group_id: string }) => g.group_id)).toEqual([groupId]);

    expect(must(await t.call('POST', `/v1/group-buys/groups/${groupId}/join`, { user_id: 'u2', order_id: 'o-2' }), 200).body.member_count).toBe(2);
    expectError(await t.call('POST', `/v1/group-buys/groups/${groupId}/join`, { user_id: 'u2' }), 409, 'already_joined');
    expectError(await t.call('POST', `/v1/group-buys/groups/${groupId}/join`, { user_id: 'lead' }), 409, 'already_joined');
    // per_user_limit 1: u2 cannot lead another group of the activity.
    expectError(await t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: 'u2' }), 409, 'per_user_limit_reached');

    const full = must(await t.call('POST', `/v1/group-buys/groups/${groupId}/join`, { user_id: 'u3' }), 200).body;
    expect(full).toMatchObject({ status: 'succeeded', member_count: 3 });
    expect(full.completed_at).not.toBeNull();
    expectError(await t.call('POST', `/v1/group-buys/groups/${groupId}/join`, { user_id: 'u4' }), 409, 'group_full');
    // The refused u4 did not use their place: they can still open a group.
    must(await t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: 'u4' }), 201);

    const read = must(await t.call('GET', `/v1/group-buys/groups/${groupId}`, undefined, { key: t.readonly }), 200).body;
    expect(read.members.map((m: { user_id: string }) => m.user_id).sort()).toEqual(['lead', 'u2', 'u3']);
    expectError(await t.call('GET', '/v1/group-buys/groups/grp_nope'), 404, 'group_not_found');
    expectError(await t.call('POST', '/v1/group-buys/groups/grp_nope/join', { user_id: 'x' }), 404, 'group_not_found');
    expectError(await t.call('POST', `/v1/group-buys/groups/${groupId}/join`, { user_id: 'x' }, { key: t.readonly }), 403, 'read_only_key');

    const metrics = (await app.call('GET', '/metrics', undefined, { key: null })).body as string;
    expect(metrics).toMatch(/^marketing_group_buy_groups_created_total [1-9]\d*$/m);
    expect(metrics).toMatch(/^marketing_group_buy_joins_total [1-9]\d*$/m);
    expect(metrics).toMatch(/^marketing_group_buy_groups_succeeded_total\{how="full"\} [1-9]\d*$/m);

    // Another tenant sees none of it.
    const other = await app.newTenant();
    expectError(await other.call('GET', `/v1/group-buys/groups/${groupId}`), 404, 'group_not_found');
    expectError(await other.call('POST', `/v1/group-buys/groups/${groupId}/join`, { user_id: 'z' }), 404, 'group_not_found');
  });

  it('refuse groups and joins of an activity that is not active, in the caller language', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const later = await newActivity(t, { start_time: new Date(Date.now() + 60 * MINUTE).toISOString() });
    const refused = await t.call('POST', `/v1/group-buys/activities/${later.activity_id}/groups`, { user_id: 'a' });
    expectError(refused, 400, 'activity_not_active');
    expect(refused.body.error.message).toBe('The activity has not started or has ended');
    const zh = await t.call('POST', `/v1/group-buys/activities/${later.activity_id}/groups`, { user_id: 'a' }, { headers: { 'accept-language': 'zh-CN,zh;q=0.9,en;q=0.8' } });
    expectError(zh, 400, 'activity_not_active');
    expect(zh.body.error.message).toBe('活动未开始或已结束');

    // A group of an activity ended since cannot be joined.
    const active = await newActivity(t);
    const groupId = must(await t.call('POST', `/v1/group-buys/activities/${active.activity_id}/groups`, { user_id: 'a' }), 201).body.group_id;
    must(await t.call('POST', `/v1/group-buys/activities/${active.activity_id}/end`, undefined, { key: t.admin }), 200);
    expectError(await t.call('POST', `/v1/group-buys/groups/${groupId}/join`, { user_id: 'b' }), 400, 'activity_not_active');
  });
});

describe('the product document paths', () => {
  it('open and join groups verbatim, answering its statuses and messages', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { activity_id: activityId } = await newActivity(t, { group_size: 2 });
    expectError(await t.call('POST', '/marketing/group-buy', { activity_id: activityId, user_id: 'a' }, { key: null }), 401, 'unauthorized');
    const opened = must(await t.call('POST', '/marketing/group-buy', { activity_id: activityId, user_id: 'a', order_id: 'o-a' }), 201).body;
    expect(opened).toMatchObject({ activity_id: activityId, status: 'open', member_count: 1 });
    const joined = must(await t.call('POST', `/marketing/group-buy/${opened.group_id}/join`, { user_id: 'b', order_id: 'o-b' }), 200).body;
    expect(joined).toMatchObject({ status: 'succeeded', member_count: 2 });
    const full = await t.call('POST', `/marketing/group-buy/${opened.group_id}/join`, { user_id: 'c' });
    expectError(full, 409, 'group_full');
    expect(full.body.error.message).toBe('拼团人数已满');

    const later = await newActivity(t, { start_time: new Date(Date.now() + 60 * MINUTE).toISOString() });
    const inactive = await t.call('POST', '/marketing/group-buy', { activity_id: later.activity_id, user_id: 'a' });
    expectError(inactive, 400, 'activity_not_active');
    expect(inactive.body.error.message).toBe('活动未开始或已结束');
    const english = await t.call('POST', '/marketing/group-buy', { activity_id: later.activity_id, user_id: 'a' }, { headers: { 'accept-language': 'en-US' } });
    expect(english.body.error.message).toBe('The activity has not started or has ended');
    expectError(await t.call('POST', '/marketing/group-buy', { activity_id: 'gba_nope', user_id: 'a' }), 404, 'activity_not_found');
  });
});

describe('Accept-Language', () => {
  it('picks zh-CN or en by q-value, else the fallback', () => {
    expect(preferredLanguage(undefined, 'en')).toBe('en');
    expect(preferredLanguage('zh-CN,zh;q=0.9,en;q=0.8', 'en')).toBe('zh-CN');
    expect(preferredLanguage('en-US,en;q=0.9,zh;q=0.8', 'zh-CN')).toBe('en');
    expect(preferredLanguage('fr;q=1, zh-TW;q=0.5', 'en')).toBe('zh-CN');
    expect(preferredLanguage('zh;q=0.2, en;q=0.7', 'zh-CN')).toBe('en');
    expect(preferredLanguage('fr, de', 'zh-CN')).toBe('zh-CN');
    expect(preferredLanguage('zh;q=0, en;q=abc', 'en')).toBe('en');
  });
});
