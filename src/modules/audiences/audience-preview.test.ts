import { describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';

describe('audiences: preview of an unsaved rule', () => {
  it('counts and lists what a rule matches, as the saved audience would', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const other = await app.newTenant();
    for (const [id, tags, age] of [['u1', ['vip'], 20], ['u2', ['vip'], 40], ['u3', ['new'], 50], ['u4', [], 60]] as const) {
      must(await t.call('PUT', `/v1/customers/${id}`, { tags: [...tags], attributes: { age } }), 201);
    }
    must(await other.call('PUT', '/v1/customers/u9', { tags: ['vip'], attributes: { age: 45 } }), 201);
    const rule = { or: [{ field: 'tags', op: 'contains', value: 'vip' }, { field: 'attributes.age', op: 'gte', value: 55 }] };

    const preview = must(await t.call('POST', '/v1/audiences/preview', { audience_type: 'SEGMENT', rule, page_size: 2 }), 200).body;
    expect(preview.count).toBe(3);
    expect(preview.customers.map((c: { user_id: string }) => c.user_id)).toEqual(['u1', 'u2']);
    expect(preview.customers[0]).toEqual({ user_id: 'u1', tags: ['vip'], attributes: { age: 20 } });

    const saved = must(await t.call('POST', '/v1/audiences', { audience_name: 'S', audience_type: 'SEGMENT', product_code: t.productCode, rule }), 201).body;
    expect(must(await t.call('GET', `/v1/audiences/${saved.audience_id}/count`), 200).body.count).toBe(preview.count);

    const tag = must(await t.call('POST', '/v1/audiences/preview', { audience_type: 'TAG', rule: { tags_any: ['vip', 'new'] }, page_size: 0 }), 200).body;
    expect([tag.count, tag.customers]).toEqual([3, []]);

    const bad = await t.call('POST', '/v1/audiences/preview', { audience_type: 'SEGMENT', rule: { and: [{ field: 'tags', op: 'gt', value: 1 }] } });
    expect([bad.status, bad.body.error.code, bad.body.error.details.path]).toEqual([400, 'invalid_rule', 'rule.and[0].op']);
    const list = await t.call('POST', '/v1/audiences/preview', { audience_type: 'LIST', rule: null });
    expect(list.status).toBe(400);
  });
});
