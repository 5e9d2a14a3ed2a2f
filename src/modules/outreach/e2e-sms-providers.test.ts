import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { aliyunCallback, type SmsPeer, startAliyunPeer, startTwilioPeer, twilioCallback } from './channels/testing/sms-peers.js';
import {
  createCampaign,
  createProvider,
  getRun,
  INJECT_ORIGIN,
  postCallback,
  recordIdOf,
  recordOf,
  recordsOf,
  runCampaign,
  suppressions,
} from './testing/e2e-helpers.js';
import { seedCustomers } from './testing/outreach-fixture.js';

/**
 * SMS end to end through Twilio's and Aliyun's wire formats (local peers that verify what the
 * real services verify): sends, signed status callbacks, a "TD" reply, and the next run.
 */

const peers: SmsPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

const SMS = { text: 'Hi {{ customer.name }}, your June gift is waiting. Reply TD to unsubscribe.' };
const unverified = (r: { status: number; body: unknown }) => r.status === 401 && JSON.stringify(r.body).includes('callback_unverified');

describe('outreach e2e: SMS through Twilio and Aliyun', () => {
  it('twilio: sent once each, status callbacks move records, bad signatures are 401, TD opts the number out', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 3, 'vip');
    const accountSid = `AC${randomBytes(16).toString('hex')}`;
    const authToken = randomBytes(16).toString('hex');
    const peer = await startTwilioPeer({ accountSid, authToken });
    peers.push(peer);
    const provider = await createProvider(t, { name: 'twilio', kind: 'twilio', config: { account_sid: accountSid, from: '+15550001111', base_url: peer.url }, secrets: { auth_token: authToken } });
    const { campaign_id } = await createCampaign(t, { channel: 'sms', target_tags: ['vip'], content: SMS });
    const runId = await runCampaign(app, t, campaign_id);

    expect(peer.messages.map((m) => [m.to, m.text, m.fields.From]).sort()).toEqual([
      ['+8613800000000', 'Hi 客户0, your June gift is waiting. Reply TD to unsubscribe.', '+15550001111'],
      ['+8613800000001', 'Hi 客户1, your June gift is waiting. Reply TD to unsubscribe.', '+15550001111'],
      ['+8613800000002', 'Hi 客户2, your June gift is waiting. Reply TD to unsubscribe.', '+15550001111'],
    ]);
    expect(peer.requests).toBe(3);
    const records = await recordsOf(app, runId);
    // Acceptance is not delivery: the records wait for status callbacks, under Twilio's sid.
    for (const r of records) {
      const m = peer.messages.find((x) => x.to === r.address)!;
      expect(r).toMatchObject({ status: 'sent', provider_message_id: m.id });
      expect(m.key).toBe(recordIdOf(runId, r.seq));
    }
    const sid = (customer: string) => records.find((r) => r.customer_id === customer)!.provider_message_id!;

    const statusUrl = provider.callback_url;
    const signed = (params: Record<string, string>, url = `${INJECT_ORIGIN}${statusUrl}`, token = authToken) => twilioCallback(url, token, params, accountSid);
    const ok = must(await postCallback(app, statusUrl, signed({ MessageSid: sid('u00000'), MessageStatus: 'delivered' })), 200);
    expect(ok.body).toEqual({ code: 0, applied: 1, ignored: 0 });
    must(await postCallback(app, statusUrl, signed({ MessageSid: sid('u00001'), MessageStatus: 'undelivered', ErrorCode: '30003' })), 200);
    // An unknown sid is ignored.
    expect(must(await postCallback(app, statusUrl, signed({ MessageSid: 'SM0000', MessageStatus: 'delivered' })), 200).body).toEqual({ code: 0, applied: 0, ignored: 1 });

    expect(await recordOf(app, runId, 'u00000')).toMatchObject({ status: 'delivered' });
    expect(await recordOf(app, runId, 'u00001')).toMatchObject({ status: 'failed', reason: 'undelivered', error_message: 'twilio error 30003' });
    expect(await recordOf(app, runId, 'u00002')).toMatchObject({ status: 'sent' });
    const stats = (await getRun(t, runId)).stats;
    expect(stats).toMatchObject({ sent: 3, delivered: 1, failed: 1 });
    expect(stats.rates.delivery_rate).toBe(0.3333);

    // A repeated report changes nothing; a late "delivered" after "failed" neither.
    must(await postCallback(app, statusUrl, signed({ MessageSid: sid('u00000'), MessageStatus: 'delivered' })), 200);
    must(await postCallback(app, statusUrl, signed({ MessageSid: sid('u00001'), MessageStatus: 'delivered' })), 200);
    expect((await getRun(t, runId)).stats).toMatchObject({ sent: 3, delivered: 1, failed: 1 });
    expect(await recordOf(app, runId, 'u00001')).toMatchObject({ status: 'failed' });

    // Bad signatures: another token, another URL, a body changed after signing.
    const tampered = signed({ MessageSid: sid('u00002'), MessageStatus: 'delivered' });
    tampered.rawBody = tampered.rawBody.replace('delivered', 'failed');
    for (const bad of [
      signed({ MessageSid: sid('u00002'), MessageStatus: 'delivered' }, undefined, 'wrong-token'),
      signed({ MessageSid: sid('u00002'), MessageStatus: 'delivered' }, `${INJECT_ORIGIN}/elsewhere`),
      tampered,
    ]) {
      expect(unverified(await postCallback(app, statusUrl, bad))).toBe(true);
    }
    expect(await recordOf(app, runId, 'u00002')).toMatchObject({ status: 'sent' });

    // "TD" from customer 2: suppressed and opted out; the next run skips them.
    const reply = twilioCallback(`${INJECT_ORIGIN}${provider.inbound_url}`, authToken, { From: '+8613800000002', To: '+15550001111', Body: 'TD', MessageSid: 'SMreply' }, accountSid);
    expect(must(await postCallback(app, provider.inbound_url, reply), 200).body).toEqual({ code: 0, received: 1, unsubscribed: 1 });
    expect(await suppressions(app, t.tenantId, 'sms')).toEqual([
      { address: '+8613800000002', reason: 'reply_td' },
      { address: '13800000002', reason: 'reply_td' },
    ]);
    expect(must(await t.call('GET', '/v1/customers/u00002'), 200).body.consent.sms.status).toBe('opt_out');
    expect(must(await t.call('GET', '/v1/customers/u00001'), 200).body.consent.sms).toBeNull();

    const next = await createCampaign(t, { channel: 'sms', target_tags: ['vip'], content: SMS });
    const run2 = await runCampaign(app, t, next.campaign_id);
    expect(peer.messages).toHaveLength(5);
    expect(peer.messages.slice(3).map((m) => m.to).sort()).toEqual(['+8613800000000', '+8613800000001']);
    expect(await recordOf(app, run2, 'u00002')).toMatchObject({ status: 'skipped', reason: 'opted_out' });
    expect((await getRun(t, run2)).stats).toMatchObject({ planned: 3, sent: 2, skipped: 1, skipped_by_reason: { opted_out: 1 } });
  });

  it('aliyun: sent once each with OutId, SmsReport pushes move records, a wrong token is 401, an SmsUp "TD" opts out', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 3, 'vip');
    const accessKeyId = `LTAI${randomBytes(8).toString('hex')}`;
    const accessKeySecret = randomBytes(15).toString('hex');
    const callbackToken = randomBytes(12).toString('hex');
    const peer = await startAliyunPeer({ accessKeyId, accessKeySecret });
    peers.push(peer);
    const provider = await createProvider(t, {
      name: 'aliyun',
      kind: 'aliyun_sms',
      config: { access_key_id: accessKeyId, sign_name: '六月商城', template_code: 'SMS_123456789', base_url: peer.url, callback_token: callbackToken },
      secrets: { access_key_secret: accessKeySecret },
    });
    const { campaign_id } = await createCampaign(t, { channel: 'sms', target_tags: ['vip'], content: SMS });
    const runId = await runCampaign(app, t, campaign_id);

    // Aliyun receives mainland numbers without +86; the text fills the template variable.
    expect(peer.messages.map((m) => [m.to, m.text, m.fields.SignName, m.fields.TemplateCode]).sort()).toEqual([
      ['13800000000', 'Hi 客户0, your June gift is waiting. Reply TD to unsubscribe.', '六月商城', 'SMS_123456789'],
      ['13800000001', 'Hi 客户1, your June gift is waiting. Reply TD to unsubscribe.', '六月商城', 'SMS_123456789'],
      ['13800000002', 'Hi 客户2, your June gift is waiting. Reply TD to unsubscribe.', '六月商城', 'SMS_123456789'],
    ]);
    expect(peer.requests).toBe(3);
    const records = await recordsOf(app, runId);
    const rid = (customer: string) => recordIdOf(runId, records.find((r) => r.customer_id === customer)!.seq);
    const biz = (customer: string) => peer.messages.find((m) => m.key === rid(customer))!.id;
    expect(records.map((r) => r.status)).toEqual(['sent', 'sent', 'sent']);
    expect(records.map((r) => r.provider_message_id).sort()).toEqual(peer.messages.map((m) => m.id).sort());

    const statusUrl = `${provider.callback_url}?token=${callbackToken}`;
    const report = (customer: string, success: boolean, code: string) => ({
      phone_number: peer.messages.find((m) => m.key === rid(customer))!.to,
      send_time: '2026-06-01 10:00:00',
      report_time: '2026-06-01 10:00:05',
      success,
      err_code: code,
      err_msg: success ? '用户接收成功' : '失败',
      sms_size: '1',
      biz_id: biz(customer),
      out_id: rid(customer),
    });
    const pushed = aliyunCallback(`${INJECT_ORIGIN}${statusUrl}`, [report('u00000', true, 'DELIVERED'), report('u00001', false, 'MK:0001')]);
    expect(must(await postCallback(app, statusUrl, pushed), 200).body).toEqual({ code: 0, applied: 2, ignored: 0 });
    expect(await recordOf(app, runId, 'u00000')).toMatchObject({ status: 'delivered' });
    expect(await recordOf(app, runId, 'u00001')).toMatchObject({ status: 'failed', reason: 'undelivered', error_message: 'MK:0001: 失败' });
    // The same push again changes nothing.
    must(await postCallback(app, statusUrl, pushed), 200);
    const stats = (await getRun(t, runId)).stats;
    expect(stats).toMatchObject({ sent: 3, delivered: 1, failed: 1 });
    expect(stats.rates.delivery_rate).toBe(0.3333);

    // Without the token, or with another, nothing moves.
    const late = [report('u00002', true, 'DELIVERED')];
    for (const path of [provider.callback_url, `${provider.callback_url}?token=${'x'.repeat(24)}`]) {
      expect(unverified(await postCallback(app, path, aliyunCallback(`${INJECT_ORIGIN}${path}`, late)))).toBe(true);
    }
    expect(await recordOf(app, runId, 'u00002')).toMatchObject({ status: 'sent' });

    const inboundUrl = `${provider.inbound_url}?token=${callbackToken}`;
    const up = aliyunCallback(`${INJECT_ORIGIN}${inboundUrl}`, [{ phone_number: '13800000001', content: 'TD', sign_name: '六月商城', send_time: '2026-06-01 10:01:00', dest_code: '1234', sequence_id: 1 }]);
    expect(must(await postCallback(app, inboundUrl, up), 200).body).toEqual({ code: 0, received: 1, unsubscribed: 1 });
    expect(await suppressions(app, t.tenantId, 'sms')).toEqual([
      { address: '+8613800000001', reason: 'reply_td' },
      { address: '13800000001', reason: 'reply_td' },
    ]);
    expect(must(await t.call('GET', '/v1/customers/u00001'), 200).body.consent.sms.status).toBe('opt_out');

    const next = await createCampaign(t, { channel: 'sms', target_tags: ['vip'], content: SMS });
    const run2 = await runCampaign(app, t, next.campaign_id);
    expect(peer.messages.slice(3).map((m) => m.to).sort()).toEqual(['13800000000', '13800000002']);
    expect(await recordOf(app, run2, 'u00001')).toMatchObject({ status: 'skipped', reason: 'opted_out' });
  });
});

describe('outreach e2e: a TD reply from a number stored without the country code', () => {
  it('aliyun reports mainland numbers without +86; the profile stores 11 digits: the reply still opts that customer out', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    must(await t.call('PUT', '/v1/customers/cn1', { tags: ['cn'], attributes: { name: '王五', phone: '13900000001' } }), 201);
    must(await t.call('PUT', '/v1/customers/cn2', { tags: ['cn'], attributes: { name: '赵六', phone: '+8613900000002' } }), 201);
    const accessKeyId = `LTAI${randomBytes(8).toString('hex')}`;
    const accessKeySecret = randomBytes(15).toString('hex');
    const callbackToken = randomBytes(12).toString('hex');
    const peer = await startAliyunPeer({ accessKeyId, accessKeySecret });
    peers.push(peer);
    const provider = await createProvider(t, {
      name: 'aliyun',
      kind: 'aliyun_sms',
      config: { access_key_id: accessKeyId, sign_name: '六月商城', template_code: 'SMS_123456789', base_url: peer.url, callback_token: callbackToken },
      secrets: { access_key_secret: accessKeySecret },
    });
    const first = await createCampaign(t, { channel: 'sms', target_tags: ['cn'], content: SMS });
    await runCampaign(app, t, first.campaign_id);
    expect(peer.messages.map((m) => m.to).sort()).toEqual(['13900000001', '13900000002']);

    const inboundUrl = `${provider.inbound_url}?token=${callbackToken}`;
    const up = aliyunCallback(`${INJECT_ORIGIN}${inboundUrl}`, [
      { phone_number: '13900000001', content: '退订', sign_name: '六月商城', send_time: '2026-06-01 10:01:00' },
      { phone_number: '13900000002', content: 'TD', sign_name: '六月商城', send_time: '2026-06-01 10:01:00' },
    ]);
    expect(must(await postCallback(app, inboundUrl, up), 200).body).toEqual({ code: 0, received: 2, unsubscribed: 2 });
    expect(must(await t.call('GET', '/v1/customers/cn1'), 200).body.consent.sms?.status).toBe('opt_out');
    expect(must(await t.call('GET', '/v1/customers/cn2'), 200).body.consent.sms?.status).toBe('opt_out');

    const next = await createCampaign(t, { channel: 'sms', target_tags: ['cn'], content: SMS });
    const run2 = await runCampaign(app, t, next.campaign_id);
    expect(peer.messages).toHaveLength(2);
    expect((await getRun(t, run2)).stats).toMatchObject({ planned: 2, attempted: 0, skipped: 2 });
  });
});
