import { afterAll, describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { generateVapidKeys } from './channels/push-webpush.js';
import { type FcmPeer, generateServiceAccount, startFcmPeer, startWebPushPeer, type WebPushPeer } from './channels/testing/push-peers.js';
import { createCampaign, createProvider, getRun, PUBLIC_BASE, recordIdOf, recordOf, recordsOf, runCampaign } from './testing/e2e-helpers.js';
import { seedCustomers } from './testing/outreach-fixture.js';

/**
 * Push end to end through the pipeline: FCM HTTP v1 (OAuth service account) and Web Push (VAPID,
 * aes128gcm) against local peers that verify the credentials and, for Web Push, decrypt the payload.
 */

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
});

const PUSH = {
  title: 'Hi {{ customer.name }}',
  body: 'Your June gift: https://shop.example.test/gift',
  data: { coupon: 'JUNE-{{ customer.user_id }}' },
};
const trackedClick = (rid: string) => new RegExp(`^Your June gift: ${PUBLIC_BASE.replace(/[.:/]/g, '\\$&')}/t/c\\.${rid}\\.0\\.[A-Za-z0-9_-]{16}$`);

describe('outreach e2e: push', () => {
  it('fcm: each device token gets its rendered notification; an unregistered token fails invalid_address; no token is no_address', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 3, 'app', (i) => ({ fcm_token: `fcm-token-${i}` }));
    must(await t.call('PUT', '/v1/customers/notoken', { tags: ['app'], attributes: { name: 'No token' } }), 201);
    must(await t.call('PUT', '/v1/customers/muted', { tags: ['app'], attributes: { name: 'Muted', fcm_token: 'fcm-token-muted' }, consent: { push: 'opt_out' } }), 201);
    const account = generateServiceAccount();
    const peer: FcmPeer = await startFcmPeer({ accounts: [account] });
    closers.push(() => peer.close());
    peer.answerFor('fcm-token-2', 'unregistered');
    await createProvider(t, { name: 'fcm', kind: 'fcm', config: { project_id: peer.projectId, token_uri: peer.tokenUri, base_url: peer.baseUrl }, secrets: account.secrets });
    const { campaign_id } = await createCampaign(t, { channel: 'push_notification', target_tags: ['app'], content: PUSH });
    const runId = await runCampaign(app, t, campaign_id);

    expect(peer.refusedAssertions).toEqual([]);
    expect(peer.tokensIssued).toBe(1);
    expect(peer.messages.map((m) => m.message.token).sort()).toEqual(['fcm-token-0', 'fcm-token-1']);
    const records = await recordsOf(app, runId);
    for (const customer of ['u00000', 'u00001']) {
      const r = records.find((x) => x.customer_id === customer)!;
      const rid = recordIdOf(runId, r.seq);
      const sent = peer.messages.find((m) => m.message.token === r.address)!;
      expect(sent.message.notification).toMatchObject({ title: `Hi 客户${customer.slice(-1)}` });
      expect(sent.message.notification!.body).toMatch(trackedClick(rid));
      expect(sent.message.data).toEqual({ coupon: `JUNE-${customer}`, record_id: rid });
      expect(r).toMatchObject({ status: 'delivered', provider_message_id: sent.name });
    }
    expect(await recordOf(app, runId, 'u00002')).toMatchObject({ status: 'failed', reason: 'invalid_address', address: 'fcm-token-2' });
    expect(await recordOf(app, runId, 'notoken')).toMatchObject({ status: 'skipped', reason: 'no_address' });
    expect(await recordOf(app, runId, 'muted')).toMatchObject({ status: 'skipped', reason: 'opted_out' });
    const run = await getRun(t, runId);
    expect(run.status).toBe('completed');
    expect(run.stats).toMatchObject({ planned: 5, attempted: 3, sent: 2, delivered: 2, failed: 1, skipped: 2, skipped_by_reason: { no_address: 1, opted_out: 1 }, remaining: 0 });
    expect(run.stats.rates.send_success_rate).toBe(0.6667);
  });

  it('web push: the peer decrypts each rendered payload with the subscription keys; a gone subscription fails invalid_address', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const peer: WebPushPeer = await startWebPushPeer();
    closers.push(() => peer.close());
    const keys = generateVapidKeys();
    const subscriptions = [0, 1, 2].map(() => peer.createSubscription({ applicationServerKey: keys.publicKey }));
    await seedCustomers(t, 3, 'web', (i) => ({ web_push_subscription: subscriptions[i] }));
    must(await t.call('PUT', '/v1/customers/broken', { tags: ['web'], attributes: { name: 'Broken', web_push_subscription: { keys: {} } } }), 201);
    peer.answerFor(subscriptions[1]!, 'gone');
    await createProvider(t, { name: 'web push', kind: 'web_push', config: { subject: 'mailto:push@shop.example.test', public_key: keys.publicKey }, secrets: { private_key: keys.privateKey } });
    const { campaign_id } = await createCampaign(t, { channel: 'push_notification', target_tags: ['web'], content: PUSH });
    const runId = await runCampaign(app, t, campaign_id);

    expect(peer.refused).toEqual([]);
    expect(peer.deliveries.map((d) => d.endpoint).sort()).toEqual([subscriptions[0]!.endpoint, subscriptions[2]!.endpoint].sort());
    const records = await recordsOf(app, runId);
    for (const i of [0, 2]) {
      const r = records.find((x) => x.customer_id === `u0000${i}`)!;
      const rid = recordIdOf(runId, r.seq);
      const delivery = peer.deliveries.find((d) => d.endpoint === subscriptions[i]!.endpoint)!;
      const payload = delivery.json as { title: string; body: string; data: Record<string, string>; record_id: string };
      expect(payload.title).toBe(`Hi 客户${i}`);
      expect(payload.body).toMatch(trackedClick(rid));
      expect(payload.data).toEqual({ coupon: `JUNE-u0000${i}` });
      expect(payload.record_id).toBe(rid);
      expect(delivery.vapid.publicKey).toBe(keys.publicKey);
      expect(delivery.vapid.claims).toMatchObject({ aud: peer.origin, sub: 'mailto:push@shop.example.test' });
      expect(r).toMatchObject({ status: 'delivered', provider_message_id: `${peer.origin}/message/${delivery.messageId}` });
      expect(JSON.parse(r.address!)).toEqual(subscriptions[i]);
    }
    expect(await recordOf(app, runId, 'u00001')).toMatchObject({ status: 'failed', reason: 'invalid_address' });
    expect((await recordOf(app, runId, 'u00001')).error_message).toMatch(/410/);
    expect(await recordOf(app, runId, 'broken')).toMatchObject({ status: 'skipped', reason: 'invalid_address' });
    const run = await getRun(t, runId);
    expect(run.stats).toMatchObject({ planned: 4, attempted: 3, delivered: 2, failed: 1, skipped: 1, skipped_by_reason: { invalid_address: 1 }, remaining: 0 });
  });
});
