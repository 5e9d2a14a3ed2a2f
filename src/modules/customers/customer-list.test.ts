import { describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';

const ids = (body: { customers: { user_id: string }[] }) => body.customers.map((c) => c.user_id);

describe('customers: search', () => {
  it('pages a tenant\'s profiles, most recently changed first, filtered by user id prefix, tag, phone and e-mail', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const other = await app.newTenant();
    for (let i = 1; i <= 5; i++) {
      must(await t.call('PUT', `/v1/customers/shop_${i}`, { tags: i % 2 ? ['vip'] : ['new'], attributes: { phone: `1380000000${i}`, email: `u${i}@example.com` } }), 201);
    }
    must(await t.call('PUT', '/v1/customers/a%25_b', { tags: ['vip'] }), 201);
    must(await other.call('PUT', '/v1/customers/shop_9', { tags: ['vip'] }), 201);
    // The last change comes first.
    must(await t.call('POST', '/v1/customers/shop_2/tags', { add: ['touched'] }), 200);

    const first = must(await t.call('GET', '/v1/customers', undefined, { query: { page_size: '4' } }), 200).body;
    expect(first.pagination).toEqual({ total: 6, page: 1, page_size: 4 });
    expect(ids(first)[0]).toBe('shop_2');
    const second = must(await t.call('GET', '/v1/customers', undefined, { query: { page_size: '4', page: '2' } }), 200).body;
    expect(ids(second)).toHaveLength(2);
    expect(new Set([...ids(first), ...ids(second)]).size).toBe(6);

    const prefix = must(await t.call('GET', '/v1/customers', undefined, { query: { user_id: 'shop_' } }), 200).body;
    expect(ids(prefix).sort()).toEqual(['shop_1', 'shop_2', 'shop_3', 'shop_4', 'shop_5']);
    // LIKE wildcards in the prefix are plain characters.
    expect(ids(must(await t.call('GET', '/v1/customers', undefined, { query: { user_id: 'a%_' } }), 200).body)).toEqual(['a%_b']);
    expect(must(await t.call('GET', '/v1/customers', undefined, { query: { user_id: '%' } }), 200).body.pagination.total).toBe(0);

    const vip = must(await t.call('GET', '/v1/customers', undefined, { query: { tag: 'vip' } }), 200).body;
    expect(ids(vip).sort()).toEqual(['a%_b', 'shop_1', 'shop_3', 'shop_5']);
    expect(ids(must(await t.call('GET', '/v1/customers', undefined, { query: { phone: '13800000004' } }), 200).body)).toEqual(['shop_4']);
    expect(ids(must(await t.call('GET', '/v1/customers', undefined, { query: { email: 'u3@example.com', tag: 'vip' } }), 200).body)).toEqual(['shop_3']);
    expect(must(await t.call('GET', '/v1/customers', undefined, { query: { email: 'u4@example.com', tag: 'vip' } }), 200).body.customers).toEqual([]);
    const full = must(await t.call('GET', '/v1/customers', undefined, { query: { phone: '13800000001' } }), 200).body.customers[0];
    expect(full).toEqual(must(await t.call('GET', '/v1/customers/shop_1'), 200).body);

    const bad = await t.call('GET', '/v1/customers', undefined, { query: { page_size: '0' } });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'invalid_request']);
  });
});
