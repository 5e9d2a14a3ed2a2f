import { createECDH } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import webpush from 'web-push';
import type { OutboundMessage, ProviderDeps } from './channel.js';
import { generateVapidKeys, webPushKind, type WebPushConfig, type WebPushSecrets } from './push-webpush.js';
import { decryptAes128gcm, startWebPushPeer, type PeerSubscription, type WebPushPeer } from './testing/push-peers.js';

const deps: ProviderDeps = { allowPrivateNetworks: true, timeoutMs: 5_000 };

function message(address: string, recordId = 'rec-1', data: Record<string, string> | undefined = { coupon: 'SAVE10' }): OutboundMessage {
  return {
    recordId,
    tenantId: 't1',
    customerId: 'c1',
    campaignId: 'camp1',
    address,
    content: { channel: 'push_notification', title: 'Hello', body: 'A coupon for you', data },
  };
}

describe('Web Push adapter against the local push service peer', () => {
  let peer: WebPushPeer;
  let config: WebPushConfig;
  let secrets: WebPushSecrets;

  beforeAll(async () => {
    peer = await startWebPushPeer();
    const keys = generateVapidKeys();
    config = { subject: 'mailto:push@example.com', public_key: keys.publicKey };
    secrets = { private_key: keys.privateKey };
  });
  afterAll(async () => {
    await peer.close();
  });
  beforeEach(() => {
    peer.deliveries.length = 0;
    peer.refused.length = 0;
  });

  const subscribe = (): PeerSubscription => peer.createSubscription({ applicationServerKey: config.public_key });

  it('check() accepts a VAPID key pair and refuses bad shapes and mismatched halves', () => {
    expect(webPushKind.check(config, secrets)).toBeNull();
    expect(webPushKind.check({ ...config, subject: 'https://shop.example.com/contact' }, secrets)).toBeNull();
    expect(webPushKind.check({ ...config, subject: 'push@example.com' }, secrets)).toMatch(/subject/);
    expect(webPushKind.check({ ...config, public_key: 'abc' }, secrets)).toMatch(/public_key/);
    expect(webPushKind.check(config, { private_key: `${secrets.private_key}=` })).toMatch(/private_key/);
    expect(webPushKind.check(config, { private_key: generateVapidKeys().privateKey })).toMatch(/not one VAPID key pair/);
  });

  it('the payload decrypts at the peer to the expected JSON; VAPID, TTL and urgency as sent', async () => {
    const subscription = subscribe();
    const provider = webPushKind.create(config, secrets, deps);
    const outcome = await provider.send(message(JSON.stringify(subscription), 'rec-42'));
    await provider.close?.();

    expect(peer.refused).toEqual([]);
    expect(peer.deliveries).toHaveLength(1);
    const delivery = peer.deliveries[0]!;
    expect(delivery.json).toEqual({ title: 'Hello', body: 'A coupon for you', data: { coupon: 'SAVE10' }, record_id: 'rec-42' });
    expect(delivery.endpoint).toBe(subscription.endpoint);
    expect(delivery.ttl).toBe(86_400);
    expect(delivery.urgency).toBe('normal');
    expect(delivery.vapid.publicKey).toBe(config.public_key);
    expect(delivery.vapid.claims).toMatchObject({ aud: peer.origin, sub: 'mailto:push@example.com' });
    expect(outcome).toEqual({ kind: 'accepted', delivered: true, providerMessageId: `${peer.origin}/message/${delivery.messageId}` });
  });

  it('sends many messages through one provider, each to its own subscription', async () => {
    const provider = webPushKind.create(config, secrets, deps);
    const subs = Array.from({ length: 5 }, subscribe);
    const withoutData = (address: string, recordId: string): OutboundMessage => ({
      ...message(address, recordId),
      content: { channel: 'push_notification', title: 'Hi', body: 'No data' },
    });
    const outcomes = await Promise.all(subs.map((s, i) => provider.send(withoutData(JSON.stringify(s), `rec-${i}`))));
    expect(outcomes.every((o) => o.kind === 'accepted')).toBe(true);
    expect(peer.deliveries.map((d) => (d.json as { record_id: string }).record_id).sort()).toEqual(['rec-0', 'rec-1', 'rec-2', 'rec-3', 'rec-4']);
    expect((peer.deliveries[0]!.json as { data: unknown }).data).toEqual({});
  });

  it('the peer verifies the VAPID JWT: a key that is not the subscription\'s, or a signature by another key, is refused', async () => {
    const other = generateVapidKeys();
    const wrongKey = await webPushKind.create({ ...config, public_key: other.publicKey }, { private_key: other.privateKey }, deps).send(message(JSON.stringify(subscribe())));
    expect(wrongKey).toMatchObject({ kind: 'failed', error: expect.stringMatching(/403/) });
    // Signed by a private key that is not the one k names (check() would refuse this pair).
    const forged = await webPushKind.create(config, { private_key: other.privateKey }, deps).send(message(JSON.stringify(subscribe())));
    expect(forged).toMatchObject({ kind: 'failed', error: expect.stringMatching(/401/) });
    expect(peer.refused.map((r) => r.reason)).toEqual(['the VAPID key is not the one the subscription was created for', 'invalid VAPID JWT signature']);
    expect(peer.deliveries).toHaveLength(0);
  });

  it('the peer refuses aesgcm, a missing TTL and a JWT for another audience', async () => {
    const subscription = subscribe();
    const vapidDetails = { subject: config.subject, publicKey: config.public_key, privateKey: secrets.private_key };
    const post = async (details: { headers: Record<string, string | number>; body: Buffer | null }): Promise<number> => {
      const response = await fetch(subscription.endpoint, { method: 'POST', headers: Object.fromEntries(Object.entries(details.headers).map(([k, v]) => [k, String(v)])), body: details.body });
      return response.status;
    };
    const vapidHeader = (audience: string): string => webpush.getVapidHeaders(audience, config.subject, config.public_key, secrets.private_key, 'aes128gcm').Authorization;
    const aesgcm = webpush.generateRequestDetails(subscription, 'x', { vapidDetails, contentEncoding: 'aesgcm' });
    aesgcm.headers.Authorization = vapidHeader(peer.origin);
    expect(await post(aesgcm)).toBe(415);
    const noTtl = webpush.generateRequestDetails(subscription, 'x', { vapidDetails, contentEncoding: 'aes128gcm' });
    delete noTtl.headers.TTL;
    expect(await post(noTtl)).toBe(400);
    const otherAudience = webpush.generateRequestDetails(subscription, 'x', { vapidDetails, contentEncoding: 'aes128gcm' });
    otherAudience.headers.Authorization = vapidHeader('https://push.example.net');
    expect(await post(otherAudience)).toBe(401);
    expect(peer.refused.map((r) => r.status)).toEqual([415, 400, 401]);
  });

  it('decryptAes128gcm reads what web-push encrypts, and refuses a tampered body', () => {
    const ecdh = createECDH('prime256v1'); // the browser's key pair
    ecdh.generateKeys();
    const auth = Buffer.alloc(16, 7);
    const encrypted = webpush.encrypt(ecdh.getPublicKey().toString('base64url'), auth.toString('base64url'), 'plain text ✓', 'aes128gcm');
    expect(decryptAes128gcm(encrypted.cipherText, ecdh, auth).toString()).toBe('plain text ✓');
    const tampered = Buffer.from(encrypted.cipherText);
    tampered[tampered.length - 1]! ^= 1;
    expect(() => decryptAes128gcm(tampered, ecdh, auth)).toThrow();
  });

  it('classifies the push service answers', async () => {
    const provider = webPushKind.create(config, secrets, deps);
    const cases: Array<[Parameters<WebPushPeer['answerFor']>[1], number | undefined, object]> = [
      ['gone', undefined, { kind: 'invalid_address', error: expect.stringMatching(/410/) }],
      ['not_found', undefined, { kind: 'invalid_address', error: expect.stringMatching(/404/) }],
      ['throttled', 5, { kind: 'throttled', retryAfterMs: 5000 }],
      ['too_large', undefined, { kind: 'failed', error: expect.stringMatching(/413/) }],
      ['unavailable', undefined, { kind: 'retry', error: expect.stringMatching(/503/) }],
    ];
    for (const [answer, retryAfter, expected] of cases) {
      const subscription = subscribe();
      peer.answerFor(subscription, answer, retryAfter);
      expect(await provider.send(message(JSON.stringify(subscription)))).toMatchObject(expected);
    }
    expect(peer.deliveries).toHaveLength(0);
  });

  it('a malformed subscription is invalid_address without any request', async () => {
    const provider = webPushKind.create(config, secrets, deps);
    const good = subscribe();
    const malformed = [
      'not json',
      'null',
      JSON.stringify({ keys: good.keys }),
      JSON.stringify({ endpoint: 'nowhere', keys: good.keys }),
      JSON.stringify({ endpoint: good.endpoint }),
      JSON.stringify({ endpoint: good.endpoint, keys: { p256dh: 'short', auth: good.keys.auth } }),
      JSON.stringify({ endpoint: good.endpoint, keys: { p256dh: good.keys.p256dh, auth: 'x' } }),
      // 65 bytes starting with 0x04 but not a point on the curve.
      JSON.stringify({ endpoint: good.endpoint, keys: { p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url'), auth: good.keys.auth } }),
    ];
    for (const address of malformed) {
      expect(await provider.send(message(address)), address).toMatchObject({ kind: 'invalid_address' });
    }
    expect(peer.deliveries).toHaveLength(0);
    expect(peer.refused).toHaveLength(0);
  });

  it('a payload over the Web Push limit is failed without a request', async () => {
    const provider = webPushKind.create(config, secrets, deps);
    const outcome = await provider.send(message(JSON.stringify(subscribe()), 'rec-1', { blob: 'x'.repeat(5000) }));
    expect(outcome).toMatchObject({ kind: 'failed', error: expect.stringMatching(/at most/) });
    expect(peer.refused).toHaveLength(0);
  });

  it('an unreachable push service is retry', async () => {
    const gone = await startWebPushPeer();
    const subscription = gone.createSubscription();
    await gone.close();
    expect(await webPushKind.create(config, secrets, deps).send(message(JSON.stringify(subscription)))).toMatchObject({ kind: 'retry' });
  });

  it('without private networks allowed, endpoints at 127.0.0.1, at a name resolving to it, or over http are refused', async () => {
    const guarded: ProviderDeps = { allowPrivateNetworks: false, timeoutMs: 5_000 };
    const provider = webPushKind.create(config, secrets, guarded);
    const subscription = subscribe();
    const https = { ...subscription, endpoint: subscription.endpoint.replace('http:', 'https:') };
    expect(await provider.send(message(JSON.stringify(https)))).toMatchObject({ kind: 'invalid_address', error: expect.stringMatching(/private address 127\.0\.0\.1/) });
    const named = { ...https, endpoint: https.endpoint.replace('127.0.0.1', 'localhost') };
    expect(await provider.send(message(JSON.stringify(named)))).toMatchObject({ kind: 'invalid_address', error: expect.stringMatching(/private address/) });
    expect(await provider.send(message(JSON.stringify(subscription)))).toMatchObject({ kind: 'invalid_address', error: expect.stringMatching(/https/) });
    expect(peer.deliveries).toHaveLength(0);
    expect(peer.refused).toHaveLength(0);
  });
});
