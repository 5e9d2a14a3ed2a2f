import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChannelProvider, OutboundMessage, ProviderDeps } from './channel.js';
import { aliyunPercentEncode, aliyunPhoneNumber, aliyunSignature, aliyunSmsKind, type AliyunSmsConfig } from './sms-aliyun.js';
import { aliyunCallback, startAliyunPeer, type SmsPeer } from './testing/sms-peers.js';

const deps: ProviderDeps = { allowPrivateNetworks: true, timeoutMs: 2_000 };
let seq = 0;
function sms(address: string, text = '验证码 1234, valid 5 min * ~ + & = 😀'): OutboundMessage {
  seq++;
  return { recordId: `rec-${seq}-${Date.now()}`, tenantId: 't1', customerId: 'c1', campaignId: 'k1', address, content: { channel: 'sms', text } };
}

describe('aliyun_sms signing', () => {
  it('matches the published signature version 1.0 example', () => {
    const params = {
      AccessKeyId: 'testid',
      Action: 'DescribeRegions',
      Format: 'XML',
      SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf',
      SignatureVersion: '1.0',
      Timestamp: '2016-02-23T12:46:24Z',
      Version: '2014-05-26',
    };
    expect(aliyunSignature('testsecret', 'GET', params)).toBe('OLeaidS1JvxuMvnyHOwuJ+uX5qY=');
  });

  it("percent-encodes by Aliyun's rules and formats phone numbers", () => {
    expect(aliyunPercentEncode("a b*c~d+e/f!'()é")).toBe('a%20b%2Ac~d%2Be%2Ff%21%27%28%29%C3%A9');
    expect(aliyunPhoneNumber('+8613800138000')).toBe('13800138000');
    expect(aliyunPhoneNumber('+85261234567')).toBe('85261234567');
    expect(aliyunPhoneNumber('+447700900123')).toBe('447700900123');
  });
});

describe('aliyun_sms against its peer', () => {
  const accessKeyId = 'LTAI-test-key';
  const accessKeySecret = 'test-secret-value';
  let peer: SmsPeer;
  let config: AliyunSmsConfig;
  let provider: ChannelProvider;
  beforeAll(async () => {
    peer = await startAliyunPeer({ accessKeyId, accessKeySecret });
    config = { access_key_id: accessKeyId, sign_name: '营销中心', template_code: 'SMS_123456789', base_url: peer.url, callback_token: 'cb-token-0123456789abcdef' };
    provider = aliyunSmsKind.create(config, { access_key_secret: accessKeySecret }, deps);
  });
  afterAll(async () => {
    await provider.close?.();
    await peer.close();
  });
  beforeEach(() => peer.reset());

  it('checks its configuration', () => {
    const secrets = { access_key_secret: accessKeySecret };
    expect(aliyunSmsKind.check(config, secrets)).toBeNull();
    expect(aliyunSmsKind.check({ ...config, sign_name: ' ' }, secrets)).toMatch(/sign_name/);
    expect(aliyunSmsKind.check({ ...config, template_param_name: 'not a name' }, secrets)).toMatch(/template_param_name/);
    expect(aliyunSmsKind.check({ ...config, callback_token: 'short' }, secrets)).toMatch(/callback_token/);
    expect(aliyunSmsKind.check(config, { access_key_secret: '' })).toMatch(/access_key_secret/);
  });

  it('is accepted with the BizId; the peer recomputed the signature and recorded OutId and the text', async () => {
    const message = sms('+8613800138000');
    const outcome = await provider.send(message);
    expect(outcome).toEqual({ kind: 'accepted', delivered: false, providerMessageId: peer.messages[0]?.id });
    expect(peer.messages[0]).toMatchObject({
      to: '13800138000',
      key: message.recordId,
      text: message.content.channel === 'sms' ? message.content.text : '',
      fields: { SignName: '营销中心', TemplateCode: 'SMS_123456789', RegionId: 'cn-hangzhou', OutId: message.recordId },
    });
    // A retry is a new call (new nonce, new signature): Aliyun accepts it again, it does not dedupe by OutId.
    expect((await provider.send(message)).kind).toBe('accepted');
    expect(peer.messages.map((m) => m.key)).toEqual([message.recordId, message.recordId]);
  });

  it('passes the text in the configured template variable', async () => {
    const custom = await startAliyunPeer({ accessKeyId, accessKeySecret, templateParamName: 'msg' });
    const adapter = aliyunSmsKind.create({ ...config, base_url: custom.url, template_param_name: 'msg' }, { access_key_secret: accessKeySecret }, deps);
    try {
      expect((await adapter.send(sms('+85261234567', 'hello'))).kind).toBe('accepted');
      expect(custom.messages[0]).toMatchObject({ to: '85261234567', text: 'hello', fields: { TemplateParam: '{"msg":"hello"}' } });
    } finally {
      await adapter.close?.();
      await custom.close();
    }
  });

  it('a wrong secret is refused with SignatureDoesNotMatch and classified failed; an unknown key too', async () => {
    const wrong = aliyunSmsKind.create(config, { access_key_secret: 'not-the-secret' }, deps);
    expect(await wrong.send(sms('+8613800138001'))).toMatchObject({ kind: 'failed', error: expect.stringContaining('SignatureDoesNotMatch') });
    const unknown = aliyunSmsKind.create({ ...config, access_key_id: 'LTAI-other' }, { access_key_secret: accessKeySecret }, deps);
    expect(await unknown.send(sms('+8613800138001'))).toMatchObject({ kind: 'failed', error: expect.stringContaining('InvalidAccessKeyId.NotFound') });
    expect(peer.messages).toHaveLength(0);
    await wrong.close?.();
    await unknown.close?.();
  });

  it('throttled (business limit control), 5xx, down, invalid number', async () => {
    peer.throttleNext(1);
    expect(await provider.send(sms('+8613800138002'))).toMatchObject({ kind: 'throttled', retryAfterMs: 60_000, error: expect.stringContaining('isv.BUSINESS_LIMIT_CONTROL') });
    peer.failNext(1, 503);
    expect(await provider.send(sms('+8613800138002'))).toMatchObject({ kind: 'retry', error: expect.stringContaining('ServiceUnavailable') });
    peer.failNext(1, 500);
    expect(await provider.send(sms('+8613800138002'))).toMatchObject({ kind: 'retry', error: expect.stringContaining('InternalError') });
    peer.invalidNumbers.add('+8613800138003');
    expect(await provider.send(sms('+8613800138003'))).toMatchObject({ kind: 'invalid_address', error: expect.stringContaining('isv.MOBILE_NUMBER_ILLEGAL') });
    await peer.down();
    expect((await provider.send(sms('+8613800138002'))).kind).toBe('retry');
    expect((await provider.send(sms('+8613800138002'))).kind).toBe('retry');
    await peer.up();
    expect((await provider.send(sms('+8613800138002'))).kind).toBe('accepted');
  });

  it('parses delivery reports behind the callback token', () => {
    const url = `https://hub.example/cb/aliyun/status?token=${config.callback_token}`;
    const reports = [
      { phone_number: '13800138000', success: true, biz_id: '900619746936498440^0', out_id: 'rec-1', err_code: 'DELIVERED', err_msg: '用户接收成功', report_time: '2026-12-07 09:00:00' },
      { phone_number: '13800138001', success: false, biz_id: '900619746936498441^0', out_id: 'rec-2', err_code: 'MK:0001', err_msg: 'MK:0001', report_time: '2026-12-07 09:00:01' },
    ];
    expect(aliyunSmsKind.parseStatus?.(aliyunCallback(url, reports), config, { access_key_secret: accessKeySecret })).toEqual([
      { recordId: 'rec-1', providerMessageId: '900619746936498440^0', status: 'delivered' },
      { recordId: 'rec-2', providerMessageId: '900619746936498441^0', status: 'failed', error: 'MK:0001' },
    ]);
    const secrets = { access_key_secret: accessKeySecret };
    expect(aliyunSmsKind.parseStatus?.(aliyunCallback('https://hub.example/cb/aliyun/status?token=wrong-token-0123456789', reports), config, secrets)).toBeNull();
    expect(aliyunSmsKind.parseStatus?.(aliyunCallback('https://hub.example/cb/aliyun/status', reports), config, secrets)).toBeNull();
    expect(aliyunSmsKind.parseStatus?.(aliyunCallback(url, reports), { ...config, callback_token: undefined }, secrets)).toBeNull();
  });

  it('parses replies (SmsUp) behind the callback token', () => {
    const url = `https://hub.example/cb/aliyun/inbound?token=${config.callback_token}`;
    const replies = [
      { phone_number: '13800138000', content: 'TD', sign_name: '营销中心', send_time: '2026-12-07 09:00:00', dest_code: '1234', sequence_id: 1 },
      { phone_number: '85261234567', content: '退订', sign_name: '营销中心', send_time: '2026-12-07 09:00:02', dest_code: '1234', sequence_id: 2 },
    ];
    const secrets = { access_key_secret: accessKeySecret };
    expect(aliyunSmsKind.parseInbound?.(aliyunCallback(url, replies), config, secrets)).toEqual([
      { from: '+8613800138000', text: 'TD' },
      { from: '+85261234567', text: '退订' },
    ]);
    expect(aliyunSmsKind.parseInbound?.(aliyunCallback(url.replace(/token=.*/, 'token='), replies), config, secrets)).toBeNull();
  });

  it('with private networks not allowed, refuses a loopback endpoint without a request reaching it', async () => {
    const guarded: ProviderDeps = { allowPrivateNetworks: false, timeoutMs: 2_000 };
    for (const base_url of [peer.url, peer.url.replace('127.0.0.1', 'localhost')]) {
      const adapter = aliyunSmsKind.create({ ...config, base_url }, { access_key_secret: accessKeySecret }, guarded);
      expect(await adapter.send(sms('+8613800138004'))).toMatchObject({ kind: 'failed', error: expect.stringContaining('private address') });
    }
    expect(peer.requests).toBe(0);
  });
});
