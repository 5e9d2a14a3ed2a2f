import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { ManualClock } from '../../platform/clock.js';
import { createJobRunner } from '../../platform/jobs.js';
import { standardWebhookHeaders, WEBHOOK_ID_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER } from '../../platform/webhook.js';
import { GROUP_BUY_NOTIFY_QUEUE } from './group-buy.service.js';
import { activityBody } from './testing/group-buy-fixture.js';

const SECRET = 'whsec_group_buy_0123456789abcdef';
const silentLog = { info: () => {}, warn: () => {}, error: () => {} };

interface Received {
  body: string;
  headers: Record<string, string>;
  json: { event: string; delivery_id: string; activity: Record<string, unknown>; group: { group_id: string; status: string; virtual_members: number; members: { user_id: string; order_id: string | null }[] } };
}

async function startReceiver() {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers: Record<string, string> = {};
      for (const name of [WEBHOOK_ID_HEADER, WEBHOOK_TIMESTAMP_HEADER, WEBHOOK_SIGNATURE_HEADER]) headers[name] = String(req.headers[name]);
      received.push({ body, headers, json: JSON.parse(body) as Received['json'] });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/group-buy`,
    about: (groupId: string) => received.filter((d) => d.json.group.group_id === groupId),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * An app on a ManualClock near the real time (the sweep settles every tenant's due groups, so
 * the clock moves by minutes only: the other suites' groups stay open for hours), and a runner of
 * the notify queue only.
 */
async function setup() {
  const clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
  const app = await testApp({ clock });
  const runner = createJobRunner({ db: app.database.db, clock, log: silentLog, random: () => 0.5 });
  runner.register(GROUP_BUY_NOTIFY_QUEUE, app.app.services.groupBuyNotify);
  const receiver = await startReceiver();
  const t = await app.newTenant();
  const activity = async (overrides: Record<string, unknown>) =>
    must(
      await t.call('POST', '/v1/group-buys/activities', activityBody({ group_size: 3, open_minutes: 1, webhook_url: receiver.url, webhook_secret: SECRET, ...overrides }, clock.now().getTime()), { key: t.admin }),
      201,
    ).body.activity_id as string;
  return { app, clock, runner, receiver, t, activity };
}

describe('group-buy expiry and outcome webhooks', () => {
  it('a full group is announced succeeded; an expired one fails, is announced (the refund hook) and gives places back', async () => {
    const { app, clock, runner, receiver, t, activity } = await setup();
    try {
      const activityId = await activity({});
      const full = must(await t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: 'a', order_id: 'oa' }), 201).body.group_id as string;
      must(await t.call('POST', `/v1/group-buys/groups/${full}/join`, { user_id: 'b', order_id: 'ob' }), 200);
      expect(must(await t.call('POST', `/v1/group-buys/groups/${full}/join`, { user_id: 'c', order_id: 'oc' }), 200).body.status).toBe('succeeded');
      const lonely = must(await t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: 'd', order_id: 'od' }), 201).body.group_id as string;
      must(await t.call('POST', `/v1/group-buys/groups/${lonely}/join`, { user_id: 'e', order_id: 'oe' }), 200);
      // d and e hold their one place: neither can open another group while this one is open.
      expect((await t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: 'd' })).body.error.code).toBe('per_user_limit_reached');

      await runner.runDue();
      const success = receiver.about(full);
      expect(success).toHaveLength(1);
      expect(success[0]!.json).toMatchObject({ event: 'group_buy.succeeded', delivery_id: `${full}:group_buy.succeeded`, activity: { activity_id: activityId, group_price: 9_900 } });
      expect(success[0]!.json.group.members.map((m) => m.order_id).sort()).toEqual(['oa', 'ob', 'oc']);
      expectSigned(success[0]!);

      // Not yet due: the sweep leaves it; a minute later it fails.
      await app.app.services.groupBuys.expireDue();
      expect(must(await t.call('GET', `/v1/group-buys/groups/${lonely}`), 200).body.status).toBe('open');
      clock.advance(61_000);
      expectClosed(await t.call('POST', `/v1/group-buys/groups/${lonely}/join`, { user_id: 'f' }));
      expect(await app.app.services.groupBuys.expireDue()).toBeGreaterThanOrEqual(1);
      const failed = must(await t.call('GET', `/v1/group-buys/groups/${lonely}`), 200).body;
      expect(failed).toMatchObject({ status: 'failed', member_count: 2, virtual_members: 0, virtually_filled: false });
      expect(failed.completed_at).not.toBeNull();
      expect(must(await t.call('GET', `/v1/group-buys/activities/${activityId}/groups?status=open`), 200).body.groups).toEqual([]);

      await runner.runDue();
      const refund = receiver.about(lonely);
      expect(refund).toHaveLength(1);
      expect(refund[0]!.json.event).toBe('group_buy.failed');
      expect(refund[0]!.json.group.members.map((m) => `${m.user_id}:${m.order_id}`).sort()).toEqual(['d:od', 'e:oe']);
      expectSigned(refund[0]!);

      // The failed group gave d their place back; a second sweep changes nothing.
      must(await t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: 'd' }), 201);
      await app.app.services.groupBuys.expireDue();
      await runner.runDue();
      expect(receiver.about(lonely)).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  it('an activity with virtual_fill succeeds an incomplete group at expiry, saying so', async () => {
    const { app, clock, runner, receiver, t, activity } = await setup();
    try {
      const activityId = await activity({ virtual_fill: true, group_size: 5 });
      const groupId = must(await t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: 'a', order_id: 'oa' }), 201).body.group_id as string;
      clock.advance(61_000);
      await app.app.services.groupBuys.expireDue();
      const group = must(await t.call('GET', `/v1/group-buys/groups/${groupId}`), 200).body;
      expect(group).toMatchObject({ status: 'succeeded', member_count: 1, virtual_members: 4, virtually_filled: true });
      await runner.runDue();
      const sent = receiver.about(groupId);
      expect(sent.map((d) => d.json.event)).toEqual(['group_buy.succeeded']);
      expect(sent[0]!.json.group).toMatchObject({ virtual_members: 4, members: [expect.objectContaining({ user_id: 'a', order_id: 'oa' })] });
    } finally {
      await receiver.close();
    }
  });

  it('ending an activity settles its open groups at the next sweep', async () => {
    const { app, t, activity, receiver } = await setup();
    try {
      const activityId = await activity({ open_minutes: 600 });
      const groupId = must(await t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: 'a' }), 201).body.group_id as string;
      must(await t.call('POST', `/v1/group-buys/activities/${activityId}/end`, undefined, { key: t.admin }), 200);
      await app.app.services.groupBuys.expireDue();
      expect(must(await t.call('GET', `/v1/group-buys/groups/${groupId}`), 200).body.status).toBe('failed');
    } finally {
      await receiver.close();
    }
  });
});

function expectClosed(reply: { status: number; body: { error?: { code: string } } }) {
  expect({ status: reply.status, code: reply.body.error?.code }).toEqual({ status: 409, code: 'group_closed' });
}

/** Signed in the Standard Webhooks scheme with the activity's secret, over the exact body sent. */
function expectSigned(d: Received) {
  const id = d.headers[WEBHOOK_ID_HEADER]!;
  expect(id).toBe(d.json.delivery_id);
  const expected = standardWebhookHeaders(SECRET, id, Number(d.headers[WEBHOOK_TIMESTAMP_HEADER]), d.body);
  expect(d.headers[WEBHOOK_SIGNATURE_HEADER]).toBe(expected[WEBHOOK_SIGNATURE_HEADER]);
}
