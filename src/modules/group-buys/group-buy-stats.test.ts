import { describe, expect, it } from 'vitest';
import { must, type Reply, testApp } from '../../../test/helpers/test-app.js';
import { ManualClock } from '../../platform/clock.js';
import { activityBody } from './testing/group-buy-fixture.js';

function expectError(reply: Reply, status: number, code: string) {
  expect({ status: reply.status, code: reply.body?.error?.code }, JSON.stringify(reply.body)).toEqual({ status, code });
}

describe('group-buy activity stats', () => {
  it('count groups by state, participants and members, the success rate and the average time to fill', async () => {
    // A ManualClock near the real time (the sweep settles every tenant's due groups; others stay open for hours).
    const clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
    const app = await testApp({ clock });
    const t = await app.newTenant();
    const newActivity = async (overrides: Record<string, unknown>) =>
      must(await t.call('POST', '/v1/group-buys/activities', activityBody({ group_size: 3, open_minutes: 1, ...overrides }, clock.now().getTime()), { key: t.admin }), 201).body
        .activity_id as string;
    const open = async (activityId: string, user: string) => must(await t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: user }), 201).body.group_id as string;
    const join = async (groupId: string, user: string) => must(await t.call('POST', `/v1/group-buys/groups/${groupId}/join`, { user_id: user }), 200).body;
    const stats = async (activityId: string) => must(await t.call('GET', `/v1/group-buys/activities/${activityId}/stats`, undefined, { key: t.readonly }), 200).body;

    const plain = await newActivity({ per_user_limit: 2 });
    const virtual = await newActivity({ virtual_fill: true });
    expect(await stats(plain)).toEqual({
      activity_id: plain,
      groups_opened: 0,
      groups_open: 0,
      groups_awaiting_settlement: 0,
      groups_succeeded: 0,
      groups_failed: 0,
      groups_virtually_filled: 0,
      participants: 0,
      members: 0,
      virtual_members: 0,
      success_rate: null,
      average_fill_seconds: null,
      as_of: clock.now().toISOString(),
    });

    // plain: A fills in 30 s, B in 50 s, C stays at 2 of 3; virtual: X fills in 20 s, Y has its leader only.
    const [a, b, c] = [await open(plain, 'a'), await open(plain, 'd'), await open(plain, 'g')];
    const [x, y] = [await open(virtual, 'p'), await open(virtual, 's')];
    clock.advance(10_000);
    await join(a, 'b');
    await join(x, 'q');
    clock.advance(10_000);
    expect((await join(x, 'r')).status).toBe('succeeded');
    clock.advance(10_000);
    expect((await join(a, 'c')).status).toBe('succeeded');
    clock.advance(15_000);
    await join(b, 'e');
    await join(c, 'h');
    clock.advance(5_000);
    expect((await join(b, 'f')).status).toBe('succeeded');
    expectError(await t.call('POST', `/v1/group-buys/groups/${b}/join`, { user_id: 'late' }), 409, 'group_full');

    // Past expiry, before the sweep: C and Y wait for settlement.
    clock.advance(11_000);
    expect(await stats(plain)).toMatchObject({
      groups_opened: 3,
      groups_open: 0,
      groups_awaiting_settlement: 1,
      groups_succeeded: 2,
      groups_failed: 0,
      success_rate: 1,
      average_fill_seconds: 40,
      participants: 8,
      members: 8,
    });

    await app.app.services.groupBuys.expireDue();
    // a, already in A, also leads D (per_user_limit 2): one more member, not one more participant.
    await open(plain, 'i');
    await join((await t.call('GET', `/v1/group-buys/activities/${plain}/groups?status=open`)).body.groups[0].group_id, 'a');
    expect(await stats(plain)).toEqual({
      activity_id: plain,
      groups_opened: 4,
      groups_open: 1,
      groups_awaiting_settlement: 0,
      groups_succeeded: 2,
      groups_failed: 1,
      groups_virtually_filled: 0,
      participants: 9,
      members: 10,
      virtual_members: 0,
      success_rate: 0.6667,
      average_fill_seconds: 40,
      as_of: clock.now().toISOString(),
    });
    expect(await stats(virtual)).toMatchObject({
      groups_opened: 2,
      groups_open: 0,
      groups_succeeded: 2,
      groups_failed: 0,
      groups_virtually_filled: 1,
      participants: 4,
      members: 4,
      virtual_members: 2,
      success_rate: 1,
      // Y succeeded by the virtual fill: not a fill by members, not in the average.
      average_fill_seconds: 20,
    });
    expect(must(await t.call('GET', `/v1/group-buys/groups/${y}`), 200).body).toMatchObject({ status: 'succeeded', virtual_members: 2 });

    const metrics = (await app.call('GET', '/metrics', undefined, { key: null })).body as string;
    expect(metrics).toMatch(/^marketing_group_buy_refusals_total\{code="group_full"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^marketing_group_buy_groups_failed_total [1-9]\d*$/m);
    expect(metrics).toMatch(/^marketing_group_buy_groups_succeeded_total\{how="virtual_fill"\} [1-9]\d*$/m);
  });

  it('answer 404 for an unknown activity or one of another tenant', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const activityId = must(await t.call('POST', '/v1/group-buys/activities', activityBody(), { key: t.admin }), 201).body.activity_id as string;
    expectError(await t.call('GET', '/v1/group-buys/activities/gba_nope/stats'), 404, 'activity_not_found');
    expectError(await (await app.newTenant()).call('GET', `/v1/group-buys/activities/${activityId}/stats`), 404, 'activity_not_found');
    expectError(await t.call('GET', `/v1/group-buys/activities/${activityId}/stats`, undefined, { key: null }), 401, 'unauthorized');
  });
});
