import { describe, expect, it } from 'vitest';
import { must, type Reply, testApp } from '../../test/helpers/test-app.js';
import { activityBody } from '../modules/group-buys/testing/group-buy-fixture.js';
import { preferredLanguage } from '../platform/http/language.js';
import { zhMessages } from './error-messages.js';

/**
 * Generic refusals (validation, authentication and roles, rate limits, unknown routes,
 * idempotency conflicts) answer in the caller's Accept-Language: the same status, code and
 * details; only the message changes. English stays the default, word for word.
 */

const ZH = { 'accept-language': 'zh-CN,zh;q=0.9,en;q=0.8' };
const EN = { 'accept-language': 'en-US,en;q=0.9' };
const CJK = /[\u4e00-\u9fff]/;

/** The same refusal in both languages: one status, code and details; an English and a Chinese message. */
function expectBoth(en: Reply, zh: Reply, status: number, code: string) {
  expect({ status: en.status, code: en.body.error.code }, JSON.stringify(en.body)).toEqual({ status, code });
  expect({ status: zh.status, code: zh.body.error.code }, JSON.stringify(zh.body)).toEqual({ status, code });
  expect(CJK.test(en.body.error.message), en.body.error.message).toBe(false);
  expect(CJK.test(zh.body.error.message), zh.body.error.message).toBe(true);
  return { en: en.body.error.message as string, zh: zh.body.error.message as string };
}

describe('generic error messages follow Accept-Language', () => {
  it('schema validation: the first field named in Chinese, details unchanged', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const body = { ...activityBody(), group_price: -1, bogus: 1 };
    const send = (headers?: Record<string, string>) => t.call('POST', '/v1/group-buys/activities', body, { key: t.admin, ...(headers ? { headers } : {}) });
    const [plain, en, zh] = [await send(), await send(EN), await send(ZH)];
    const m = expectBoth(en, zh, 400, 'invalid_request');
    expect(plain.body.error.message).toBe(m.en);
    expect(zh.body.error.details).toEqual(en.body.error.details);
    expect(en.body.error.details.errors.map((e: { field: string }) => e.field).sort()).toEqual(['bogus', 'group_price']);
    expect(zh.body.error.message).toMatch(/^(group_price 不能小于 0|bogus 不是已知字段)$/);

    const missing = await t.call('POST', '/v1/group-buys/activities', { name: 'x' }, { key: t.admin, headers: { 'accept-language': 'zh-Hans' } });
    expect(missing.body.error.code).toBe('invalid_request');
    expect(missing.body.error.message).toMatch(/^[a-z_]+ 为必填项$/);
  });

  it('authentication and roles', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const noKey = expectBoth(await t.call('GET', '/v1/group-buys/activities', undefined, { key: null, headers: EN }), await t.call('GET', '/v1/group-buys/activities', undefined, { key: null, headers: ZH }), 401, 'unauthorized');
    expect(noKey.en).toBe('Send an API key as `Authorization: Bearer <key>`');
    expect(noKey.zh).toBe('请以 `Authorization: Bearer <key>` 方式提供 API 密钥');
    const unknown = expectBoth(
      await t.call('GET', '/v1/group-buys/activities', undefined, { key: 'mk_nope_0123456789abcdef0123456789', headers: EN }),
      await t.call('GET', '/v1/group-buys/activities', undefined, { key: 'mk_nope_0123456789abcdef0123456789', headers: { 'accept-language': 'zh' } }),
      401,
      'unauthorized',
    );
    expect(unknown.zh).toBe('API 密钥无效');

    const post = (headers: Record<string, string>) => t.call('POST', '/v1/group-buys/activities', activityBody(), { key: t.service, headers });
    const [en, zh] = [await post(EN), await post(ZH)];
    const role = expectBoth(en, zh, 403, 'insufficient_role');
    expect(zh.body.error.details).toEqual(en.body.error.details);
    expect(role.zh).toBe('此操作需要 admin 角色的 API 密钥；当前密钥为 service');

    const master = expectBoth(await app.call('GET', '/v1/group-buys/activities', undefined, { headers: EN }), await app.call('GET', '/v1/group-buys/activities', undefined, { headers: ZH }), 403, 'tenant_key_required');
    expect(master.zh).toBe('此操作需要租户的 API 密钥，而不是主密钥');
  });

  it('rate limiting: 429 with Retry-After in both languages', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const activityId = must(await t.call('POST', '/v1/group-buys/activities', activityBody({ per_user_limit: 100, open_minutes: 600 }), { key: t.admin }), 201).body.activity_id;
    const open = (headers: Record<string, string>) => t.call('POST', `/v1/group-buys/activities/${activityId}/groups`, { user_id: 'flood' }, { headers });
    for (let i = 0; i < 30; i++) must(await open(EN), 201);
    const [en, zh] = [await open(EN), await open(ZH)];
    const m = expectBoth(en, zh, 429, 'rate_limited');
    expect(m.en).toMatch(/^Too many requests \(user limit\); retry in \d+ s$/);
    expect(m.zh).toMatch(/^请求过于频繁（user 限制），请 \d+ 秒后重试$/);
    expect(zh.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    expect(zh.body.error.details.rule).toBe(en.body.error.details.rule);
  });

  it('unknown routes and resources', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const route = expectBoth(await t.call('GET', '/v1/nope', undefined, { headers: EN }), await t.call('GET', '/v1/nope', undefined, { headers: ZH }), 404, 'route_not_found');
    expect(route).toEqual({ en: 'No route GET /v1/nope', zh: '接口不存在：GET /v1/nope' });
    // Another module's not-found (platform notFound) gets the generic sentence; a module's own table wins.
    const campaign = expectBoth(await t.call('GET', '/v1/outreach/campaigns/oc_nope', undefined, { headers: EN }), await t.call('GET', '/v1/outreach/campaigns/oc_nope', undefined, { headers: ZH }), 404, 'campaign_not_found');
    expect(campaign.zh).toBe('campaign oc_nope 不存在');
    expect((await t.call('GET', '/v1/group-buys/activities/gba_nope', undefined, { headers: ZH })).body.error.message).toBe('拼团活动不存在');
    // A generic code is always the table's, also when the English message quotes Chinese text.
    const chinesePath = await t.call('GET', `/v1/${encodeURIComponent('拼团')}`, undefined, { headers: ZH });
    expect(chinesePath.body.error).toMatchObject({ code: 'route_not_found', message: `接口不存在：GET /v1/${encodeURIComponent('拼团')}` });
  });

  it('idempotency conflicts', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const key = { 'idempotency-key': `lang-${t.tenantId}` };
    must(await t.call('POST', '/v1/group-buys/activities', activityBody({ name: 'first' }), { key: t.admin, headers: key }), 201);
    const reuse = (headers: Record<string, string>) => t.call('POST', '/v1/group-buys/activities', activityBody({ name: 'second' }), { key: t.admin, headers: { ...key, ...headers } });
    const m = expectBoth(await reuse(EN), await reuse(ZH), 422, 'idempotency_key_reused');
    expect(m.en).toBe('This Idempotency-Key was already used with a different request or by another API key; use a new key for a new request');
    const bad = expectBoth(
      await t.call('POST', '/v1/group-buys/activities', activityBody(), { key: t.admin, headers: { 'idempotency-key': 'é', ...EN } }),
      await t.call('POST', '/v1/group-buys/activities', activityBody(), { key: t.admin, headers: { 'idempotency-key': 'é', ...ZH } }),
      400,
      'invalid_request',
    );
    expect(bad.zh).toBe('请求参数 idempotency-key 无效');
  });

  it('malformed JSON', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const send = (headers: Record<string, string>) => t.call('POST', '/v1/group-buys/activities', undefined, { key: t.admin, payload: '{"name":', headers });
    expect(expectBoth(await send(EN), await send(ZH), 400, 'invalid_json').zh).toBe('请求体不是合法的 JSON');
  });
});

describe('Accept-Language', () => {
  it('picks Chinese for zh, zh-CN, zh-Hans (any zh tag) by q-value; English by default', () => {
    for (const h of ['zh', 'zh-CN', 'zh-Hans', 'zh-Hans-CN', 'ZH-cn', 'en;q=0.5, zh-CN;q=0.9', 'fr, zh;q=0.1', 'zh-TW']) expect(preferredLanguage(h, 'en'), h).toBe('zh-CN');
    for (const h of [undefined, '', 'en', 'en-US,en;q=0.9,zh;q=0.8', 'fr', '*', 'zh;q=0', 'zh;q=0.3, en', 'zhx', 'zh;q=abc']) expect(preferredLanguage(h, 'en'), String(h)).toBe('en');
    // Equal weights: the first listed.
    expect(preferredLanguage('en, zh', 'zh-CN')).toBe('en');
    expect(preferredLanguage('zh, en', 'en')).toBe('zh-CN');
  });

  it('has a Chinese message for every generic code', () => {
    for (const code of ['invalid_request', 'invalid_json', 'unauthorized', 'forbidden', 'insufficient_role', 'read_only_key', 'master_key_required', 'tenant_key_required', 'tenant_mismatch', 'rate_limited', 'route_not_found', 'idempotency_key_reused', 'request_in_progress', 'payload_too_large', 'unsupported_media_type', 'internal_error', 'shutting_down', 'conflict']) {
      expect(zhMessages[code], code).toBeDefined();
    }
  });
});
