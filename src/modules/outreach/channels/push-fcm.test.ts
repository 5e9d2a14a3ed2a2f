import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { OutboundMessage, ProviderDeps } from './channel.js';
import { createFcmProvider, fcmKind, type FcmConfig } from './push-fcm.js';
import { generateServiceAccount, startFcmPeer, type FcmPeer, type TestServiceAccount } from './testing/push-peers.js';

const deps: ProviderDeps = { allowPrivateNetworks: true, timeoutMs: 5_000 };

function message(token: string, recordId = 'rec-1'): OutboundMessage {
  return {
    recordId,
    tenantId: 't1',
    customerId: 'c1',
    campaignId: 'camp1',
    address: token,
    content: { channel: 'push_notification', title: 'Your reward', body: '10 points are waiting', data: { deep_link: 'app://rewards' } },
  };
}

describe('FCM HTTP v1 adapter against the local FCM peer', () => {
  let account: TestServiceAccount;
  let peer: FcmPeer;
  let config: FcmConfig;

  beforeAll(async () => {
    account = generateServiceAccount();
    peer = await startFcmPeer({ accounts: [account] });
    config = { project_id: peer.projectId, token_uri: peer.tokenUri, base_url: peer.baseUrl };
  });
  afterAll(async () => {
    await peer.close();
  });
  beforeEach(() => {
    peer.messages.length = 0;
    peer.tokensIssued = 0;
    peer.refusedAssertions.length = 0;
  });

  it('check() accepts a service account and explains what is wrong otherwise', () => {
    expect(fcmKind.check(config, account.secrets)).toBeNull();
    expect(fcmKind.check({ project_id: 'my-app-12345' }, { client_email: 'a@b.iam.gserviceaccount.com', private_key: account.secrets.private_key })).toBeNull();
    expect(fcmKind.check({ ...config, project_id: '' }, account.secrets)).toMatch(/project_id/);
    expect(fcmKind.check({ ...config, token_uri: 'not a url' }, account.secrets)).toMatch(/token_uri/);
    expect(fcmKind.check(config, { ...account.secrets, client_email: 'nobody' })).toMatch(/client_email/);
    expect(fcmKind.check(config, { ...account.secrets, private_key: 'secret' })).toMatch(/private_key/);
    expect(fcmKind.check(config, { ...account.secrets, private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' })).toMatch(/cannot be read/);
  });

  it('fetches one access token for many sends (concurrent ones share the refresh) and delivers the message body', async () => {
    const provider = fcmKind.create(config, account.secrets, deps);
    const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => provider.send(message(`device-${i}`, `rec-${i}`))));
    outcomes.push(await provider.send(message('device-8', 'rec-8')));
    await provider.close?.();

    expect(peer.tokensIssued).toBe(1);
    expect(outcomes.every((o) => o.kind === 'accepted' && o.delivered)).toBe(true);
    expect(peer.messages).toHaveLength(9);
    const first = peer.messages.find((m) => m.message.token === 'device-0')!;
    expect(first.message).toEqual({
      token: 'device-0',
      notification: { title: 'Your reward', body: '10 points are waiting' },
      data: { deep_link: 'app://rewards', record_id: 'rec-0' },
    });
    expect(outcomes[0]).toEqual({ kind: 'accepted', delivered: true, providerMessageId: first.name });
  });

  it('passes android and apns blocks through when configured', async () => {
    const provider = fcmKind.create({ ...config, android: { priority: 'high' }, apns: { headers: { 'apns-priority': '10' } } }, account.secrets, deps);
    expect((await provider.send(message('device-a'))).kind).toBe('accepted');
    expect(peer.messages[0]!.message.android).toEqual({ priority: 'high' });
    expect(peer.messages[0]!.message.apns).toEqual({ headers: { 'apns-priority': '10' } });
  });

  it('refreshes the token a minute before it expires', async () => {
    let clock = Date.now();
    const now = (): number => clock;
    const timedPeer = await startFcmPeer({ accounts: [account], tokenLifetimeSeconds: 600, now });
    try {
      const provider = createFcmProvider({ project_id: timedPeer.projectId, token_uri: timedPeer.tokenUri, base_url: timedPeer.baseUrl }, account.secrets, deps, { now });
      expect((await provider.send(message('d1'))).kind).toBe('accepted');
      clock += 500_000; // 100 s of the token's life left: still used
      expect((await provider.send(message('d2'))).kind).toBe('accepted');
      expect(timedPeer.tokensIssued).toBe(1);
      clock += 50_000; // 50 s left: inside the margin, replaced
      expect((await provider.send(message('d3'))).kind).toBe('accepted');
      expect(timedPeer.tokensIssued).toBe(2);
      expect(timedPeer.messages[2]!.accessToken).not.toBe(timedPeer.messages[0]!.accessToken);
    } finally {
      await timedPeer.close();
    }
  });

  it('on 401 drops the cached token and retries once with a new one; a second 401 is failed', async () => {
    const provider = fcmKind.create(config, account.secrets, deps);
    expect((await provider.send(message('d1'))).kind).toBe('accepted');
    peer.rejectNextAccessToken();
    expect(await provider.send(message('d2'))).toMatchObject({ kind: 'accepted' });
    expect(peer.tokensIssued).toBe(2);
    expect(peer.messages.map((m) => m.message.token)).toEqual(['d1', 'd2']);

    peer.rejectNextAccessToken(2);
    const outcome = await provider.send(message('d3'));
    expect(outcome).toMatchObject({ kind: 'failed', error: expect.stringMatching(/401/) });
    expect(peer.tokensIssued).toBe(3);
  });

  it('classifies the API error answers', async () => {
    const provider = fcmKind.create(config, account.secrets, deps);
    peer.answerFor('busy', 'throttled', 7);
    peer.answerFor('quota', 'quota_exceeded');
    peer.answerFor('down', 'unavailable');
    peer.answerFor('broken', 'internal');
    peer.answerFor('gone', 'unregistered');
    peer.answerFor('garbage', 'invalid_token');
    peer.answerFor('other-app', 'sender_id_mismatch');
    expect(await provider.send(message('busy'))).toMatchObject({ kind: 'throttled', retryAfterMs: 7000 });
    expect(await provider.send(message('quota'))).toMatchObject({ kind: 'throttled', retryAfterMs: undefined });
    expect(await provider.send(message('down'))).toMatchObject({ kind: 'retry', error: expect.stringMatching(/503 UNAVAILABLE/) });
    expect(await provider.send(message('broken'))).toMatchObject({ kind: 'retry' });
    expect(await provider.send(message('gone'))).toMatchObject({ kind: 'invalid_address', error: expect.stringMatching(/UNREGISTERED/) });
    expect(await provider.send(message('garbage'))).toMatchObject({ kind: 'invalid_address', error: expect.stringMatching(/registration token/) });
    expect(await provider.send(message('other-app'))).toMatchObject({ kind: 'failed', error: expect.stringMatching(/SENDER_ID_MISMATCH/) });
    peer.answerFor('busy', null);
    expect((await provider.send(message('busy'))).kind).toBe('accepted');
    expect(peer.tokensIssued).toBe(1);
  });

  it('a wrong project is failed, not an invalid address', async () => {
    const provider = fcmKind.create({ ...config, project_id: 'someone-elses' }, account.secrets, deps);
    expect(await provider.send(message('d1'))).toMatchObject({ kind: 'failed', error: expect.stringMatching(/404/) });
  });

  it('the peer refuses an assertion signed with another key or for another audience: failed', async () => {
    const impostor = generateServiceAccount(account.secrets.client_email);
    const signedByOther = await fcmKind.create(config, impostor.secrets, deps).send(message('d1'));
    expect(signedByOther).toMatchObject({ kind: 'failed', error: expect.stringMatching(/invalid_grant/) });
    const wrongAudience = await fcmKind.create({ ...config, token_uri: `${peer.tokenUri}?v=2` }, account.secrets, deps).send(message('d1'));
    expect(wrongAudience.kind).toBe('failed');
    const unknown = await fcmKind.create(config, generateServiceAccount().secrets, deps).send(message('d1'));
    expect(unknown.kind).toBe('failed');
    expect(peer.refusedAssertions).toEqual([
      'kid names another key',
      expect.stringMatching(/^aud .* is not/),
      expect.stringMatching(/^unknown issuer/),
    ]);
    // Without a kid the signature itself is what the peer refuses.
    const { private_key_id: _kid, ...noKid } = impostor.secrets;
    expect((await fcmKind.create(config, noKid, deps).send(message('d1'))).kind).toBe('failed');
    expect(peer.refusedAssertions[3]).toBe('invalid JWT signature');
    expect(peer.tokensIssued).toBe(0);
    expect(peer.messages).toHaveLength(0);
  });

  it('an unreachable endpoint is retry', async () => {
    const gone = await startFcmPeer({ accounts: [account] });
    await gone.close();
    const provider = fcmKind.create({ project_id: 'p-1', token_uri: gone.tokenUri, base_url: gone.baseUrl }, account.secrets, deps);
    expect(await provider.send(message('d1'))).toMatchObject({ kind: 'retry', error: expect.stringMatching(/unreachable/) });
  });

  it('without private networks allowed, neither 127.0.0.1 nor a name resolving to it is contacted', async () => {
    const guarded: ProviderDeps = { allowPrivateNetworks: false, timeoutMs: 5_000 };
    const literal = await fcmKind.create(config, account.secrets, guarded).send(message('d1'));
    expect(literal).toMatchObject({ kind: 'failed', error: expect.stringMatching(/private address 127\.0\.0\.1/) });
    const named = { ...config, token_uri: peer.tokenUri.replace('127.0.0.1', 'localhost'), base_url: peer.baseUrl.replace('127.0.0.1', 'localhost') };
    const byName = await fcmKind.create(named, account.secrets, guarded).send(message('d1'));
    expect(byName).toMatchObject({ kind: 'failed', error: expect.stringMatching(/private address/) });
    expect(peer.tokensIssued).toBe(0);
    expect(peer.refusedAssertions).toHaveLength(0);
  });
});
