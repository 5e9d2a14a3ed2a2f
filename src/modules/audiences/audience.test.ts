import { describe, expect, it } from 'vitest';
import { must, testApp, type TenantFixture } from '../../../test/helpers/test-app.js';

const segment = (rule: unknown, extra: Record<string, unknown> = {}) => ({ audience_name: 'Seg', audience_type: 'SEGMENT', product_code: 'app1', rule, ...extra });

async function create(t: TenantFixture, body: Record<string, unknown>) {
  return must(await t.call('POST', '/v1/audiences', { product_code: t.productCode, ...body }), 201).body;
}

describe('audiences: CRUD and validation', () => {
  it('creates, reads, lists, updates and deletes', async () => {
    const t = await (await testApp()).newTenant();
    const tag = await create(t, { audience_name: 'VIPs', audience_type: 'TAG', rule: { tags_any: ['vip'] } });
    expect(tag).toMatchObject({ audience_name: 'VIPs', audience_type: 'TAG', product_code: 'app1', rule: { tags_any: ['vip'] }, version: 1, description: null });
    expect(tag.audience_id).toMatch(/^aud_/);
    const list = await create(t, { audience_name: 'Beta testers', audience_type: 'LIST' });
    expect(list.rule).toBeNull();
    expect(must(await t.call('GET', `/v1/audiences/${tag.audience_id}`), 200).body).toEqual(tag);
    const all = must(await t.call('GET', '/v1/audiences'), 200).body;
    expect(all.pagination.total).toBe(2);
    expect(must(await t.call('GET', '/v1/audiences', undefined, { query: { audience_type: 'LIST' } }), 200).body.audiences.map((a: { audience_id: string }) => a.audience_id)).toEqual([list.audience_id]);
    expect(must(await t.call('GET', '/v1/audiences', undefined, { query: { name: 'vip' } }), 200).body.pagination.total).toBe(1);
    const updated = must(await t.call('PUT', `/v1/audiences/${tag.audience_id}`, { audience_name: 'Gold', rule: { tags_all: ['gold'] } }), 200).body;
    expect(updated).toMatchObject({ audience_name: 'Gold', rule: { tags_all: ['gold'] }, version: 2 });
    const locked = await t.call('PUT', `/v1/audiences/${tag.audience_id}`, { audience_type: 'LIST' });
    expect([locked.status, locked.body.error.code]).toEqual([409, 'audience_field_locked']);
    must(await t.call('DELETE', `/v1/audiences/${tag.audience_id}`), 204);
    expect((await t.call('GET', `/v1/audiences/${tag.audience_id}`)).body.error.code).toBe('audience_not_found');
    expect((await t.call('DELETE', `/v1/audiences/${tag.audience_id}`)).status).toBe(404);
  });

  it('points validation errors at the wrong node', async () => {
    const t = await (await testApp()).newTenant();
    const cases: Array<[unknown, string, RegExp?]> = [
      [{ and: [{ field: 'tags', op: 'contains', value: 'a' }, { or: [{ field: 'attributes.age', op: 'older', value: 1 }] }] }, 'rule.and[1].or[0].op', /must be one of/],
      [{ and: [{ field: 'tags', op: 'gt', value: 1 }] }, 'rule.and[0].op', /does not apply to tags/],
      [{ or: [] }, 'rule.or'],
      [{ not: { field: 'nickname', op: 'eq', value: 'x' } }, 'rule.not.field', /unknown field/],
      [{ field: 'attributes.age', op: 'between', value: [10] }, 'rule.value'],
      [{ field: 'attributes.age', op: 'between', value: [30, 10] }, 'rule.value', /low must not be above high/],
      [{ field: 'created_at', op: 'after', value: { ago: '30 days' } }, 'rule.value.ago', /duration/],
      [{ field: 'created_at', op: 'gt', value: 5 }, 'rule.value', /RFC 3339/],
      [{ field: 'attributes.age', op: 'in', value: [1, { x: 1 }] }, 'rule.value[1]'],
      [{ field: 'attributes.age', op: 'exists', value: true }, 'rule.value'],
      [{ field: 'attributes.a b', op: 'exists' }, 'rule.field'],
      [{ and: [{ field: 'tags', op: 'exists' }], or: [] }, 'rule'],
      [{ and: [{ field: 'tags', op: 'exists', extra: 1 }] }, 'rule.and[0].extra'],
      [{ field: 'consent.sms', op: 'eq', value: 'yes' }, 'rule.value'],
      [[1, 2], 'rule'],
    ];
    for (const [rule, path, message] of cases) {
      const reply = await t.call('POST', '/v1/audiences', segment(rule));
      expect([reply.status, reply.body.error?.code, reply.body.error?.details?.path], JSON.stringify(rule)).toEqual([400, rule instanceof Array ? 'invalid_request' : 'invalid_rule', rule instanceof Array ? undefined : path]);
      if (message) expect(reply.body.error.message).toMatch(message);
    }
    const tagCases: Array<[unknown, string]> = [
      [{}, 'rule'],
      [{ tags_any: [] }, 'rule.tags_any'],
      [{ tags_any: ['ok', ''] }, 'rule.tags_any[1]'],
      [{ tags_some: ['x'] }, 'rule.tags_some'],
    ];
    for (const [rule, path] of tagCases) {
      const reply = await t.call('POST', '/v1/audiences', { audience_name: 'T', audience_type: 'TAG', rule });
      expect([reply.status, reply.body.error.code, reply.body.error.details.path], JSON.stringify(rule)).toEqual([400, 'invalid_rule', path]);
    }
    const noRule = await t.call('POST', '/v1/audiences', { audience_name: 'T', audience_type: 'SEGMENT' });
    expect([noRule.status, noRule.body.error.code]).toEqual([400, 'invalid_rule']);
    const listRule = await t.call('POST', '/v1/audiences', { audience_name: 'L', audience_type: 'LIST', rule: { tags_any: ['x'] } });
    expect([listRule.status, listRule.body.error.code]).toEqual([400, 'invalid_request']);
    const unknownProduct = await t.call('POST', '/v1/audiences', { audience_name: 'L', audience_type: 'LIST', product_code: 'nope' });
    expect([unknownProduct.status, unknownProduct.body.error.code]).toEqual([400, 'unknown_product_code']);
    // An update with a bad rule changes nothing.
    const good = await create(t, segment({ field: 'tags', op: 'exists' }));
    const bad = await t.call('PUT', `/v1/audiences/${good.audience_id}`, { rule: { and: [{ field: 'tags', op: 'nope' }] } });
    expect([bad.status, bad.body.error.details.path]).toEqual([400, 'rule.and[0].op']);
    expect(must(await t.call('GET', `/v1/audiences/${good.audience_id}`), 200).body.version).toBe(1);
    expect(must(await t.call('GET', '/v1/audiences'), 200).body.pagination.total).toBe(1);
  });

  it('keeps tenants apart on every route', async () => {
    const app = await testApp();
    const a = await app.newTenant();
    const b = await app.newTenant();
    const list = await create(a, { audience_name: 'A list', audience_type: 'LIST' });
    const seg = await create(a, segment({ field: 'tags', op: 'exists' }));
    must(await a.call('POST', `/v1/audiences/${list.audience_id}/members`, { user_ids: ['u1'] }), 200);
    must(await a.call('PUT', '/v1/customers/u1', { tags: ['x'] }), 201);
    const id = list.audience_id;
    const routes: Array<[string, string, unknown?]> = [
      ['GET', `/v1/audiences/${id}`],
      ['PUT', `/v1/audiences/${id}`, { audience_name: 'mine' }],
      ['DELETE', `/v1/audiences/${id}`],
      ['GET', `/v1/audiences/${id}/members?user_id=u1`],
      ['POST', `/v1/audiences/${id}/members`, { user_ids: ['intruder'] }],
      ['DELETE', `/v1/audiences/${id}/members`, { user_ids: ['u1'] }],
      ['GET', `/v1/audiences/${id}/count`],
      ['GET', `/v1/audiences/${id}/preview`],
      ['GET', `/v1/audiences/${seg.audience_id}/count`],
    ];
    for (const [method, url, body] of routes) {
      const reply = await b.call(method as 'GET', url, body);
      expect([reply.status, reply.body.error.code], `${method} ${url}`).toEqual([404, 'audience_not_found']);
    }
    expect(must(await b.call('GET', '/v1/audiences'), 200).body.pagination.total).toBe(0);
    // B's own segment does not see A's customers.
    const bSeg = await create(b, segment({ field: 'tags', op: 'exists' }));
    expect(must(await b.call('GET', `/v1/audiences/${bSeg.audience_id}/count`), 200).body.count).toBe(0);
    expect(must(await a.call('GET', `/v1/audiences/${seg.audience_id}/count`), 200).body.count).toBe(1);
    expect(must(await a.call('GET', `/v1/audiences/${id}/count`), 200).body.count).toBe(1);
    expect(must(await a.call('GET', `/v1/audiences/${id}`), 200).body.audience_name).toBe('A list');
    // And the service interface for other modules is scoped by tenant too.
    await expect(app.app.services.audiences.checkMember(b.tenantId, id, 'u1')).rejects.toMatchObject({ code: 'audience_not_found', status: 404 });
    expect(await app.app.services.audiences.checkMember(a.tenantId, id, 'u1')).toEqual({ member: true, reasons: ['in the list'] });
  });

  it('limits product-restricted keys to their products; readonly keys only read', async () => {
    const app = await testApp();
    const t = await app.newTenant({ productCodes: ['app1', 'app2'] });
    const other = await create(t, { audience_name: 'On app2', audience_type: 'LIST', product_code: 'app2' });
    const mine = await create(t, { audience_name: 'On app1', audience_type: 'LIST', product_code: 'app1' });
    const limited = must(await app.call('POST', `/v1/tenants/${t.tenantId}/api-keys`, { name: 'app1 only', role: 'service', product_codes: ['app1'] }), 201).body.key as string;
    expect((await t.call('GET', `/v1/audiences/${other.audience_id}`, undefined, { key: limited })).status).toBe(404);
    expect((await t.call('GET', `/v1/audiences/${other.audience_id}/count`, undefined, { key: limited })).status).toBe(404);
    expect((await t.call('POST', `/v1/audiences/${other.audience_id}/members`, { user_ids: ['x'] }, { key: limited })).status).toBe(404);
    expect((await t.call('DELETE', `/v1/audiences/${other.audience_id}`, undefined, { key: limited })).status).toBe(404);
    expect(must(await t.call('GET', '/v1/audiences', undefined, { key: limited }), 200).body.audiences.map((a: { audience_id: string }) => a.audience_id)).toEqual([mine.audience_id]);
    const forbidden = await t.call('POST', '/v1/audiences', { audience_name: 'x', audience_type: 'LIST', product_code: 'app2' }, { key: limited });
    expect([forbidden.status, forbidden.body.error.code]).toEqual([403, 'product_not_allowed']);
    must(await t.call('GET', `/v1/audiences/${mine.audience_id}/count`, undefined, { key: t.readonly }), 200);
    expect((await t.call('POST', '/v1/audiences', { audience_name: 'x', audience_type: 'LIST' }, { key: t.readonly })).body.error.code).toBe('read_only_key');
  });

  it('adds and removes LIST members; other types refuse ids; erasing a customer takes them out', async () => {
    const t = await (await testApp()).newTenant();
    const list = await create(t, { audience_name: 'L', audience_type: 'LIST' });
    const url = `/v1/audiences/${list.audience_id}/members`;
    expect(must(await t.call('POST', url, { user_ids: ['a', 'b', 'b', 'c'] }), 200).body).toEqual({ audience_id: list.audience_id, added: 3, already_present: 0 });
    expect(must(await t.call('POST', url, { user_ids: ['c', 'd'] }), 200).body).toMatchObject({ added: 1, already_present: 1 });
    expect(must(await t.call('DELETE', url, { user_ids: ['a', 'zz'] }), 200).body).toEqual({ audience_id: list.audience_id, removed: 1 });
    expect(must(await t.call('GET', `/v1/audiences/${list.audience_id}/count`), 200).body.count).toBe(3);
    expect(must(await t.call('GET', url, undefined, { query: { user_id: 'b' } }), 200).body).toEqual({ audience_id: list.audience_id, user_id: 'b', member: true, reasons: ['in the list'] });
    expect(must(await t.call('GET', url, undefined, { query: { user_id: 'a' } }), 200).body).toMatchObject({ member: false, reasons: ['not in the list'] });
    must(await t.call('PUT', '/v1/customers/b', { tags: ['x'] }), 201);
    const page1 = must(await t.call('GET', `/v1/audiences/${list.audience_id}/preview`, undefined, { query: { page_size: 2 } }), 200).body;
    expect(page1.customers).toEqual([{ user_id: 'b', tags: ['x'], attributes: {} }, { user_id: 'c', tags: null, attributes: null }]);
    const page2 = must(await t.call('GET', `/v1/audiences/${list.audience_id}/preview`, undefined, { query: { page_size: 2, after: page1.next_after } }), 200).body;
    expect(page2).toMatchObject({ customers: [{ user_id: 'd' }], next_after: null });
    must(await t.call('DELETE', '/v1/customers/b'), 204);
    expect(must(await t.call('GET', url, undefined, { query: { user_id: 'b' } }), 200).body.member).toBe(false);
    const seg = await create(t, segment({ field: 'tags', op: 'exists' }));
    const refused = await t.call('POST', `/v1/audiences/${seg.audience_id}/members`, { user_ids: ['a'] });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'audience_not_list']);
    expect((await t.call('GET', url)).status).toBe(400);
    expect((await t.call('POST', url, { user_ids: [] })).status).toBe(400);
  });
});
