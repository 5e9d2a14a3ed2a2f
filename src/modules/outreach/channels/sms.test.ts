import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChannelProvider, OutboundMessage, ProviderDeps } from './channel.js';
import { genericSmsKind, retryAfterMs } from './sms-generic.js';
import { twilioSignature, twilioSmsKind, type TwilioSmsConfig } from './sms-twilio.js';
import { genericCallback, startGenericSmsPeer, startTwilioPeer, twilioCallback, type SmsPeer } from './testing/sms-peers.js';

const deps: ProviderDeps = { allowPrivateNetworks: true, timeoutMs: 2_000 };
let seq = 0;
function sms(address: string, text = 'Your code is 1234 & more: *~é 你好 😀'): OutboundMessage {
  seq++;
  return { recordId: `rec-${seq}-${Date.now()}`, tenantId: 't1', customerId: 'c1', campaignId: 'k1', address, content: { channel: 'sms', text } };
}

describe('sms_generic against its peer', () => {
  const secret = 'generic-secret-0123456789';
  let peer: SmsPeer;
  let provider: ChannelProvider;
  beforeAll(async () => {
    peer = await startGenericSmsPeer({ secret });
    provider = genericSmsKind.create({ url: peer.url }, { secret }, deps);
  });
  afterAll(async () => {
    await provider.close?.();
    await peer.close();
  });
  beforeEach(() => peer.reset());

  it('checks its configuration', () => {
    expect(genericSmsKind.check({ url: 'https://gw.example/sms' }, { secret })).toBeNull();
    expect(genericSmsKind.check({ url: 'ftp://gw.example' }, { secret })).toMatch(/url/);
    expect(genericSmsKind.check({ url: 'https://gw.example/sms' }, { secret: 'short' })).toMatch(/secret/);
  });

  it('is accepted with the gateway id; the peer verified the signature and dedupes a retry by Idempotency-Key', async () => {
    const message = sms('+15551230001');
    const outcome = await provider.send(message);
    expect(outcome).toEqual({ kind: 'accepted', delivered: false, providerMessageId: peer.messages[0]?.id });
    expect(peer.messages[0]).toMatchObject({ to: '+15551230001', text: message.content.channel === 'sms' ? message.content.text : '', key: message.recordId });
    expect(await provider.send(message)).toEqual(outcome);
    expect(peer.messages).toHaveLength(1);
    expect(peer.requests).toBe(2);
  });

  it('a wrong secret is refused by the gateway and classified failed', async () => {
    const wrong = genericSmsKind.create({ url: peer.url }, { secret: 'another-secret-0123456789' }, deps);
    const outcome = await wrong.send(sms('+15551230002'));
    expect(outcome.kind).toBe('failed');
    expect(outcome).toMatchObject({ error: expect.stringMatching(/401.*invalid_signature/) });
    expect(peer.messages).toHaveLength(0);
    await wrong.close?.();
  });

  it('throttled, 5xx, down, invalid number', async () => {
    peer.throttleNext(1, '7');
    expect(await provider.send(sms('+15551230003'))).toMatchObject({ kind: 'throttled', retryAfterMs: 7_000 });
    const later = new Date(Date.now() + 30_000).toUTCString();
    peer.throttleNext(1, later);
    const dated = await provider.send(sms('+15551230003'));
    expect(dated.kind).toBe('throttled');
    expect(dated.kind === 'throttled' && dated.retryAfterMs).toBeGreaterThan(25_000);
    peer.failNext(1);
    expect(await provider.send(sms('+15551230003'))).toMatchObject({ kind: 'retry', error: expect.stringContaining('503') });
    peer.invalidNumbers.add('+15551230004');
    expect(await provider.send(sms('+15551230004'))).toEqual({ kind: 'invalid_address', error: 'invalid_number' });
    await peer.down();
    // The pooled connection is dropped (a socket error), then new ones are refused.
    expect(await provider.send(sms('+15551230003'))).toMatchObject({ kind: 'retry', error: expect.stringMatching(/network error/) });
    expect(await provider.send(sms('+15551230003'))).toMatchObject({ kind: 'retry', error: expect.stringContaining('ECONNREFUSED') });
    await peer.up();
    expect((await provider.send(sms('+15551230003'))).kind).toBe('accepted');
  });

  it('no answer within the timeout is retry', async () => {
    const quick = genericSmsKind.create({ url: peer.url }, { secret }, { allowPrivateNetworks: true, timeoutMs: 200 });
    peer.stallNext(1);
    expect(await quick.send(sms('+15551230005'))).toMatchObject({ kind: 'retry', error: expect.stringContaining('200 ms') });
    await quick.close?.();
  });

  it('parses signed status callbacks and refuses bad signatures and stale timestamps', () => {
    const url = 'https://hub.example/outreach/callbacks/status';
    const payload = [
      { message_id: 'gm_1', status: 'delivered' },
      { id: 'rec-9', status: 'undelivered', error: 'absent subscriber' },
      { message_id: 'gm_3', status: 'failed' },
      { message_id: 'gm_4', status: 'sent' },
    ];
    expect(genericSmsKind.parseStatus?.(genericCallback(url, secret, payload), { url }, { secret })).toEqual([
      { providerMessageId: 'gm_1', recordId: undefined, status: 'delivered', error: undefined },
      { providerMessageId: undefined, recordId: 'rec-9', status: 'failed', error: 'absent subscriber' },
      { providerMessageId: 'gm_3', recordId: undefined, status: 'failed', error: 'failed' },
    ]);
    expect(genericSmsKind.parseStatus?.(genericCallback(url, secret, { message_id: 'gm_1', status: 'delivered' }), { url }, { secret })).toHaveLength(1);
    expect(genericSmsKind.parseStatus?.(genericCallback(url, 'not-the-secret-0123456', payload), { url }, { secret })).toBeNull();
    const stale = genericCallback(url, secret, payload, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 });
    expect(genericSmsKind.parseStatus?.(stale, { url }, { secret })).toBeNull();
    const tampered = { ...genericCallback(url, secret, payload), rawBody: JSON.stringify([{ message_id: 'gm_1', status: 'failed' }]) };
    expect(genericSmsKind.parseStatus?.(tampered, { url }, { secret })).toBeNull();
    expect(genericSmsKind.parseStatus?.({ url, headers: {}, rawBody: '[]', body: [] }, { url }, { secret })).toBeNull();
  });

  it('parses signed inbound messages', () => {
    const url = 'https://hub.example/outreach/callbacks/inbound';
    expect(genericSmsKind.parseInbound?.(genericCallback(url, secret, { from: '+15551230001', text: 'STOP' }), { url }, { secret })).toEqual([{ from: '+15551230001', text: 'STOP' }]);
    expect(genericSmsKind.parseInbound?.(genericCallback(url, 'x'.repeat(20), { from: '+1', text: 'STOP' }), { url }, { secret })).toBeNull();
  });

  it('Retry-After: seconds or an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3_000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
});

describe('twilio against its peer', () => {
  const accountSid = `AC${'a1'.repeat(16)}`;
  const authToken = 'f'.repeat(32);
  let peer: SmsPeer & { stoppedNumbers: Set<string> };
  let config: TwilioSmsConfig;
  let provider: ChannelProvider;
  beforeAll(async () => {
    peer = await startTwilioPeer({ accountSid, authToken });
    config = { account_sid: accountSid, from: '+15550001111', status_callback_url: 'https://hub.example/cb/twilio?x=1', base_url: peer.url };
    provider = twilioSmsKind.create(config, { auth_token: authToken }, deps);
  });
  afterAll(async () => {
    await provider.close?.();
    await peer.close();
  });
  beforeEach(() => peer.reset());

  it('checks its configuration', () => {
    expect(twilioSmsKind.check(config, { auth_token: authToken })).toBeNull();
    expect(twilioSmsKind.check({ ...config, from: `MG${'0'.repeat(32)}` }, { auth_token: authToken })).toBeNull();
    expect(twilioSmsKind.check({ ...config, account_sid: 'AC1' }, { auth_token: authToken })).toMatch(/account_sid/);
    expect(twilioSmsKind.check({ ...config, from: '12' }, { auth_token: authToken })).toMatch(/from/);
    expect(twilioSmsKind.check(config, { auth_token: '' })).toMatch(/auth_token/);
  });

  it('signs as Twilio documents it (published example)', () => {
    const params = { CallSid: 'CA1234567890ABCDE', Caller: '+12349013030', Digits: '1234', From: '+12349013030', To: '+18005551212' };
    expect(twilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', params)).toBe('0/KCTR6DLpKmkAf8muzZqo1nDgQ=');
  });

  it('is accepted with the message sid; Basic auth and form fields as Twilio reads them; the idempotency token dedupes', async () => {
    const message = sms('+15551230010');
    const outcome = await provider.send(message);
    expect(outcome).toEqual({ kind: 'accepted', delivered: false, providerMessageId: expect.stringMatching(/^SM[0-9a-f]{32}$/) });
    expect(peer.messages[0]).toMatchObject({
      key: message.recordId,
      to: '+15551230010',
      fields: { From: '+15550001111', StatusCallback: `${config.status_callback_url}&record_id=${encodeURIComponent(message.recordId)}`, Body: message.content.channel === 'sms' ? message.content.text : '' },
    });
    expect(await provider.send(message)).toEqual(outcome);
    expect(peer.messages).toHaveLength(1);
    const viaService = twilioSmsKind.create({ ...config, from: `MG${'0'.repeat(32)}` }, { auth_token: authToken }, deps);
    expect((await viaService.send(sms('+15551230011'))).kind).toBe('accepted');
    expect(peer.messages[1]?.fields).toMatchObject({ MessagingServiceSid: `MG${'0'.repeat(32)}` });
    expect(peer.messages[1]?.fields.From).toBeUndefined();
    await viaService.close?.();
  });

  it('a wrong auth token is refused (20003) and classified failed', async () => {
    const wrong = twilioSmsKind.create(config, { auth_token: 'e'.repeat(32) }, deps);
    expect(await wrong.send(sms('+15551230012'))).toMatchObject({ kind: 'failed', error: expect.stringMatching(/401 twilio error 20003/) });
    expect(peer.messages).toHaveLength(0);
    await wrong.close?.();
  });

  it('throttled, 5xx, down, invalid and unsubscribed numbers', async () => {
    peer.throttleNext(1, '2');
    expect(await provider.send(sms('+15551230013'))).toMatchObject({ kind: 'throttled', retryAfterMs: 2_000, error: expect.stringContaining('20429') });
    peer.failNext(1, 500);
    expect((await provider.send(sms('+15551230013'))).kind).toBe('retry');
    peer.invalidNumbers.add('+15551230014');
    expect(await provider.send(sms('+15551230014'))).toMatchObject({ kind: 'invalid_address', error: expect.stringContaining('21211') });
    peer.stoppedNumbers.add('+15551230015');
    expect(await provider.send(sms('+15551230015'))).toEqual({ kind: 'invalid_address', error: 'unsubscribed' });
    await peer.down();
    expect((await provider.send(sms('+15551230013'))).kind).toBe('retry');
    await peer.up();
    expect((await provider.send(sms('+15551230013'))).kind).toBe('accepted');
  });

  it('parses signed status callbacks: delivered, undelivered -> failed, intermediate statuses ignored', () => {
    const url = 'https://hub.example/cb/twilio?x=1';
    const secrets = { auth_token: authToken };
    const status = (params: Record<string, string>) => twilioSmsKind.parseStatus?.(twilioCallback(url, authToken, params, accountSid), config, secrets);
    expect(status({ MessageSid: 'SM1', MessageStatus: 'delivered' })).toEqual([{ providerMessageId: 'SM1', status: 'delivered', error: undefined }]);
    expect(status({ MessageSid: 'SM2', MessageStatus: 'undelivered', ErrorCode: '30003' })).toEqual([{ providerMessageId: 'SM2', status: 'failed', error: 'twilio error 30003' }]);
    expect(status({ MessageSid: 'SM3', MessageStatus: 'failed' })).toEqual([{ providerMessageId: 'SM3', status: 'failed', error: 'failed' }]);
    expect(status({ MessageSid: 'SM4', MessageStatus: 'sent' })).toEqual([]);
    const signed = twilioCallback(url, authToken, { MessageSid: 'SM1', MessageStatus: 'delivered' });
    expect(twilioSmsKind.parseStatus?.({ ...signed, rawBody: signed.rawBody.replace('delivered', 'failed') }, config, secrets)).toBeNull();
    expect(twilioSmsKind.parseStatus?.({ ...signed, url: 'https://hub.example/cb/twilio?x=2' }, config, secrets)).toBeNull();
    expect(twilioSmsKind.parseStatus?.(twilioCallback(url, 'e'.repeat(32), { MessageSid: 'SM1', MessageStatus: 'delivered' }), config, secrets)).toBeNull();
    // Signed with the explicit default port, received without it (or the other way round).
    const withPort = twilioCallback('https://hub.example:443/cb/twilio', authToken, { MessageSid: 'SM5', MessageStatus: 'delivered' });
    expect(twilioSmsKind.parseStatus?.({ ...withPort, url: 'https://hub.example/cb/twilio' }, config, secrets)).toHaveLength(1);
    const withoutPort = twilioCallback('https://hub.example/cb/twilio', authToken, { MessageSid: 'SM6', MessageStatus: 'delivered' });
    expect(twilioSmsKind.parseStatus?.({ ...withoutPort, url: 'https://hub.example:443/cb/twilio' }, config, secrets)).toHaveLength(1);
    expect(twilioSmsKind.parseStatus?.({ ...withoutPort, url: 'https://hub.example:8443/cb/twilio' }, config, secrets)).toBeNull();
  });

  it('parses signed inbound messages', () => {
    const url = 'https://hub.example/cb/twilio/inbound';
    const inbound = twilioCallback(url, authToken, { MessageSid: 'SM9', From: '+15551230016', To: '+15550001111', Body: 'STOP please', NumMedia: '0' }, accountSid);
    expect(twilioSmsKind.parseInbound?.(inbound, config, { auth_token: authToken })).toEqual([{ from: '+15551230016', text: 'STOP please' }]);
    expect(twilioSmsKind.parseInbound?.({ ...inbound, headers: {} }, config, { auth_token: authToken })).toBeNull();
  });
});

describe('sms adapters with private networks not allowed', () => {
  it('refuse a loopback provider without a request reaching it', async () => {
    const secret = 'generic-secret-0123456789';
    const generic = await startGenericSmsPeer({ secret });
    const twilio = await startTwilioPeer({ accountSid: `AC${'0'.repeat(32)}`, authToken: 't' });
    const guarded: ProviderDeps = { allowPrivateNetworks: false, timeoutMs: 2_000 };
    try {
      for (const url of [generic.url, generic.url.replace('127.0.0.1', 'localhost')]) {
        const outcome = await genericSmsKind.create({ url }, { secret }, guarded).send(sms('+15551230020'));
        expect(outcome).toMatchObject({ kind: 'failed', error: expect.stringContaining('private address') });
      }
      const base_url = twilio.url.replace('127.0.0.1', 'localhost');
      const outcome = await twilioSmsKind.create({ account_sid: `AC${'0'.repeat(32)}`, from: '+15550001111', base_url }, { auth_token: 't' }, guarded).send(sms('+15551230020'));
      expect(outcome).toMatchObject({ kind: 'failed', error: expect.stringContaining('private address') });
      expect(generic.requests).toBe(0);
      expect(twilio.requests).toBe(0);
    } finally {
      await generic.close();
      await twilio.close();
    }
  });
});
