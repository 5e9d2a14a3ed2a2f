import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { closeServer, listenOnLoopback, readBody } from './channels/testing/peer-http.js';
import { genericCallback, type SmsPeer } from './channels/testing/sms-peers.js';
import {
  createCampaign,
  createProvider,
  drain,
  getRun,
  INJECT_ORIGIN,
  makeDue,
  postCallback,
  recordIdOf,
  recordOf,
  recordsOf,
  runCampaign,
  sleep,
  statusCounts,
  suppressions,
  TEST_RATE,
} from './testing/e2e-helpers.js';
import { seedCustomers, smsProvider } from './testing/outreach-fixture.js';

/**
 * SMS end to end through the generic signed gateway: addresses checked at send time, throttling
 * and an outage survived with every message sent exactly once, signed status callbacks and a
 * "TD" reply.
 */

const peers: SmsPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

const SMS = { text: '{{ customer.name }}，您的6月好礼已到账。退订请回复TD。' };
const unverified = (r: { status: number; body: unknown }) => r.status === 401 && JSON.stringify(r.body).includes('callback_unverified');

describe('outreach e2e: SMS through the generic gateway', () => {
  it('skips customers without or with malformed phones, fails numbers the gateway refuses, and survives throttling and an outage without a duplicate', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 5, 'vip');
    must(await t.call('PUT', '/v1/customers/nophone', { tags: ['vip'], attributes: { name: 'No phone', email: 'np@example.test' } }), 201);
    must(await t.call('PUT', '/v1/customers/badphone', { tags: ['vip'], attributes: { name: 'Bad phone', phone: 'call me maybe' } }), 201);
    const { peer, providerId } = await smsProvider(t, { rate: TEST_RATE });
    peers.push(peer);
    peer.invalidNumbers.add('+8613800000004');
    // The gateway throttles the first request it authenticates (Retry-After: 1 s).
    peer.throttleNext(1, '1');

    const { campaign_id } = await createCampaign(t, { channel: 'sms', target_tags: ['vip'], content: SMS, provider_id: providerId });
    const runId = await runCampaign(app, t, campaign_id);

    expect(await recordOf(app, runId, 'nophone')).toMatchObject({ status: 'skipped', reason: 'no_address', address: null });
    expect(await recordOf(app, runId, 'badphone')).toMatchObject({ status: 'skipped', reason: 'invalid_address', address: 'call me maybe' });
    // Five calls reached the gateway: one was throttled (deferred), the rest answered for good.
    expect(peer.requests).toBe(5);
    const first = await recordsOf(app, runId);
    const deferred = first.filter((r) => r.status === 'deferred');
    expect(deferred).toHaveLength(1);
    expect(deferred[0]).toMatchObject({ reason: 'throttled', attempts: 0 });
    expect(deferred[0]!.error_message).toMatch(/429/);
    const during = await getRun(t, runId);
    expect(during.status).toBe('sending');
    expect(during.stats).toMatchObject({ planned: 7, deferred: 1, skipped: 2, skipped_by_reason: { no_address: 1, invalid_address: 1 }, remaining: 1 });

    // Once the provider's cool-down is over and the record is due, it goes out.
    await sleep(1100);
    expect(await makeDue(app, runId)).toBe(1);
    await drain(app, t);
    expect(peer.requests).toBe(6);
    expect(await recordOf(app, runId, 'u00004')).toMatchObject({ status: 'failed', reason: 'invalid_address', address: '+8613800000004', error_message: 'invalid_number' });
    expect(await statusCounts(app, runId)).toEqual({ sent: 4, failed: 1, skipped: 2 });
    expect(peer.messages.map((m) => m.to).sort()).toEqual(['+8613800000000', '+8613800000001', '+8613800000002', '+8613800000003']);
    expect(peer.messages.find((m) => m.to === '+8613800000000')!.text).toBe('客户0，您的6月好礼已到账。退订请回复TD。');
    const done = await getRun(t, runId);
    expect(done.status).toBe('completed');
    expect(done.stats).toMatchObject({ planned: 7, attempted: 5, sent: 4, failed: 1, deferred: 0, skipped: 2, remaining: 0 });

    // The gateway goes down for a second campaign: every record waits (provider_unavailable),
    // except the number the gateway said does not exist, which is suppressed now...
    const second = await createCampaign(t, { channel: 'sms', target_tags: ['vip'], content: SMS, provider_id: providerId });
    await peer.down();
    const run2 = await runCampaign(app, t, second.campaign_id);
    expect(peer.requests).toBe(6);
    expect(await recordOf(app, run2, 'u00004')).toMatchObject({ status: 'skipped', reason: 'suppressed' });
    const waiting = (await recordsOf(app, run2)).filter((r) => r.status === 'deferred');
    expect(waiting.map((r) => r.reason)).toEqual(['provider_unavailable', 'provider_unavailable', 'provider_unavailable', 'provider_unavailable']);
    expect((await getRun(t, run2)).stats).toMatchObject({ planned: 7, attempted: 0, sent: 0, deferred: 4, skipped: 3 });
    // ... and is sent once the gateway is back: each message once.
    await peer.up();
    expect(await makeDue(app, run2)).toBe(4);
    await drain(app, t);
    expect(await statusCounts(app, run2)).toEqual({ sent: 4, skipped: 3 });
    expect(peer.requests).toBe(10);
    expect(peer.messages).toHaveLength(8);
    const keys = peer.messages.map((m) => m.key);
    expect(new Set(keys).size).toBe(8);
    const run2Ids = (await recordsOf(app, run2)).filter((r) => r.status === 'sent').map((r) => recordIdOf(run2, r.seq));
    expect(keys.slice(4).sort()).toEqual(run2Ids.sort());
    expect((await getRun(t, run2)).stats).toMatchObject({ attempted: 4, sent: 4, failed: 0, deferred: 0, remaining: 0 });
  });

  it('signed status callbacks move records once; an unsigned or forged one is 401; "TD" suppresses the number for the next run', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 3, 'vip');
    const { peer, secret, providerId } = await smsProvider(t, { rate: TEST_RATE });
    peers.push(peer);
    const { campaign_id } = await createCampaign(t, { channel: 'sms', target_tags: ['vip'], content: SMS });
    const runId = await runCampaign(app, t, campaign_id);
    expect(peer.messages).toHaveLength(3);
    const records = await recordsOf(app, runId);
    expect(records.map((r) => r.status)).toEqual(['sent', 'sent', 'sent']);
    const byCustomer = (c: string) => records.find((r) => r.customer_id === c)!;

    const statusPath = `/v1/outreach/callbacks/${providerId}/status`;
    const url = `${INJECT_ORIGIN}${statusPath}`;
    // By the gateway's message id, and by our record id.
    const report = genericCallback(url, secret, [
      { message_id: byCustomer('u00000').provider_message_id, status: 'delivered' },
      { id: recordIdOf(runId, byCustomer('u00001').seq), status: 'undelivered', error: 'absent subscriber' },
    ]);
    expect(must(await postCallback(app, statusPath, report), 200).body).toEqual({ code: 0, applied: 2, ignored: 0 });
    expect(byCustomer('u00000').provider_message_id).toMatch(/^gm_\d+$/);
    expect(await recordOf(app, runId, 'u00000')).toMatchObject({ status: 'delivered' });
    expect(await recordOf(app, runId, 'u00001')).toMatchObject({ status: 'failed', reason: 'undelivered', error_message: 'absent subscriber' });
    // The same report delivered again (a gateway retry) changes nothing.
    must(await postCallback(app, statusPath, report), 200);
    const stats = (await getRun(t, runId)).stats;
    expect(stats).toMatchObject({ sent: 3, delivered: 1, failed: 1 });
    expect(stats.rates.delivery_rate).toBe(0.3333);

    const late = [{ message_id: byCustomer('u00002').provider_message_id, status: 'delivered' }];
    const forged = genericCallback(url, 'another-secret-of-24-chars', late);
    const stale = genericCallback(url, secret, late, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    const unsigned = { url, headers: { 'content-type': 'application/json' }, rawBody: JSON.stringify(late), body: late };
    for (const bad of [forged, stale, unsigned]) expect(unverified(await postCallback(app, statusPath, bad))).toBe(true);
    expect(await recordOf(app, runId, 'u00002')).toMatchObject({ status: 'sent' });

    const inboundPath = `/v1/outreach/callbacks/${providerId}/inbound`;
    const replies = genericCallback(`${INJECT_ORIGIN}${inboundPath}`, secret, [
      { from: '+8613800000000', text: 'TD' },
      { from: '+8613800000001', text: 'thanks!' },
    ]);
    expect(must(await postCallback(app, inboundPath, replies), 200).body).toEqual({ code: 0, received: 2, unsubscribed: 1 });
    expect(await suppressions(app, t.tenantId, 'sms')).toEqual([
      { address: '+8613800000000', reason: 'reply_td' },
      { address: '13800000000', reason: 'reply_td' },
    ]);
    expect(must(await t.call('GET', '/v1/customers/u00000'), 200).body.consent.sms.status).toBe('opt_out');
    expect(must(await t.call('GET', '/v1/customers/u00001'), 200).body.consent.sms).toBeNull();
    expect(await recordOf(app, runId, 'u00000')).toMatchObject({ response: { action: 'unsubscribe', via: 'sms_reply' } });

    const next = await createCampaign(t, { channel: 'sms', target_tags: ['vip'], content: SMS });
    const run2 = await runCampaign(app, t, next.campaign_id);
    expect(peer.messages.slice(3).map((m) => m.to).sort()).toEqual(['+8613800000001', '+8613800000002']);
    expect(await recordOf(app, run2, 'u00000')).toMatchObject({ status: 'skipped', reason: 'opted_out' });
  });

  it('a delivery report that arrives before the send is written (a fast gateway) is applied with the acceptance, not lost', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 3, 'vip');
    const secret = randomBytes(24).toString('hex');
    let statusPath = '';
    const early: unknown[] = [];
    // A gateway that reports the outcome on our status endpoint before it answers the send.
    const server = createServer((req, res) => {
      void readBody(req).then(async (raw) => {
        const { id, to } = JSON.parse(raw.toString()) as { id: string; to: string };
        const report = to.endsWith('1') ? { id, status: 'undelivered', error: 'absent subscriber' } : { id, status: 'delivered' };
        early.push((await postCallback(app, statusPath, genericCallback(`${INJECT_ORIGIN}${statusPath}`, secret, [report]))).body);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ message_id: `fast-${id}` }));
      });
    });
    const origin = await listenOnLoopback(server);
    try {
      const provider = await createProvider(t, { name: 'fast', kind: 'sms_generic', config: { url: `${origin}/sms` }, secrets: { secret } });
      statusPath = provider.callback_url;
      const { campaign_id } = await createCampaign(t, { channel: 'sms', target_tags: ['vip'], content: SMS });
      const runId = await runCampaign(app, t, campaign_id);

      expect(early).toEqual([1, 2, 3].map(() => ({ code: 0, applied: 1, ignored: 0 })));
      expect(await recordOf(app, runId, 'u00000')).toMatchObject({ status: 'delivered', provider_message_id: `fast-${recordIdOf(runId, 1)}` });
      expect(await recordOf(app, runId, 'u00001')).toMatchObject({ status: 'failed', reason: 'undelivered', error_message: 'absent subscriber' });
      expect(await recordOf(app, runId, 'u00002')).toMatchObject({ status: 'delivered' });
      const stats = (await getRun(t, runId)).stats;
      expect(stats).toMatchObject({ planned: 3, attempted: 3, sent: 3, delivered: 2, failed: 1, remaining: 0 });
      expect(stats.rates.delivery_rate).toBe(0.6667);

      // The gateway's usual later copy of the same reports changes nothing.
      const records = await recordsOf(app, runId);
      const again = records.map((r) => ({ id: recordIdOf(runId, r.seq), status: r.customer_id === 'u00001' ? 'undelivered' : 'delivered' }));
      must(await postCallback(app, statusPath, genericCallback(`${INJECT_ORIGIN}${statusPath}`, secret, again)), 200);
      expect((await getRun(t, runId)).stats).toMatchObject({ sent: 3, delivered: 2, failed: 1 });
    } finally {
      await closeServer(server);
    }
  });

  it('three send loops draining the same run at once send each message exactly once', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 40, 'vip');
    const { peer } = await smsProvider(t, { rate: TEST_RATE });
    peers.push(peer);
    const { campaign_id } = await createCampaign(t, { channel: 'sms', target_tags: ['vip'], content: SMS });
    const run = must(await t.call('POST', `/v1/outreach/campaigns/${campaign_id}/trigger`, {}), 202).body as { run_id: string };
    await Promise.all([drain(app, t), drain(app, t), drain(app, t)]);
    await drain(app, t);

    expect(peer.requests).toBe(40);
    expect(peer.messages).toHaveLength(40);
    expect(new Set(peer.messages.map((m) => m.to)).size).toBe(40);
    expect(await statusCounts(app, run.run_id)).toEqual({ sent: 40 });
    expect((await getRun(t, run.run_id)).stats).toMatchObject({ planned: 40, attempted: 40, sent: 40, remaining: 0 });
  });

  it('callbacks naming no provider, or a deleted one, are 401', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { peer, secret, providerId } = await smsProvider(t, { rate: TEST_RATE });
    peers.push(peer);
    const path = (id: string) => `/v1/outreach/callbacks/${id}/status`;
    const body = [{ id: 'run_0-1', status: 'delivered' }];
    expect(unverified(await postCallback(app, path('prv_nothing'), genericCallback(`${INJECT_ORIGIN}${path('prv_nothing')}`, secret, body)))).toBe(true);
    expect(must(await postCallback(app, path(providerId), genericCallback(`${INJECT_ORIGIN}${path(providerId)}`, secret, body)), 200).body).toEqual({ code: 0, applied: 0, ignored: 1 });
    must(await t.call('DELETE', `/v1/outreach/providers/${providerId}`, undefined, { key: t.admin }), 204);
    expect(unverified(await postCallback(app, path(providerId), genericCallback(`${INJECT_ORIGIN}${path(providerId)}`, secret, body)))).toBe(true);
  });

  it('throttling never counts toward max_attempts: a record throttled 15 times then refused once by a 503 waits and is sent', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 1, 'vip');
    const { peer } = await smsProvider(t, { rate: TEST_RATE });
    peers.push(peer);
    const { campaign_id } = await createCampaign(t, { channel: 'sms', target_tags: ['vip'], content: SMS });
    // Retry-After: 0, so that the provider's cool-down does not hold the test.
    peer.throttleNext(15, '0');
    const runId = await runCampaign(app, t, campaign_id);
    for (let i = 1; i < 15; i += 1) {
      expect(await makeDue(app, runId)).toBe(1);
      await drain(app, t);
    }
    expect(peer.requests).toBe(15);
    expect(await recordOf(app, runId, 'u00000')).toMatchObject({ status: 'deferred', reason: 'throttled' });
    peer.failNext(1, 503);
    await makeDue(app, runId);
    await drain(app, t);
    expect(peer.requests).toBe(16);
    expect(await recordOf(app, runId, 'u00000')).toMatchObject({ status: 'deferred', reason: 'provider_unavailable' });
    await makeDue(app, runId);
    await drain(app, t);
    expect(peer.messages).toHaveLength(1);
    expect(await recordOf(app, runId, 'u00000')).toMatchObject({ status: 'sent' });
    expect((await getRun(t, runId)).stats).toMatchObject({ attempted: 1, sent: 1, failed: 0, deferred: 0 });
  });
});

