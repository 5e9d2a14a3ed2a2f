import { describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';

describe('customers', () => {
  it('creates with PUT (201), updates (200), merges attributes by key and removes null keys', async () => {
    const t = await (await testApp()).newTenant();
    const first = must(await t.call('PUT', '/v1/customers/u1', { tags: ['vip', 'new', 'vip'], attributes: { city: 'Shanghai', age: 30 } }), 201).body;
    expect(first).toMatchObject({ user_id: 'u1', tags: ['new', 'vip'], attributes: { city: 'Shanghai', age: 30 }, tenant_id: t.tenantId });
    expect(first.consent).toEqual({ sms: null, email: null, push: null });
    const second = must(await t.call('PUT', '/v1/customers/u1', { attributes: { age: 31, plan: 'pro', city: null } }), 200).body;
    expect(second.attributes).toEqual({ age: 31, plan: 'pro' });
    expect(second.tags).toEqual(['new', 'vip']);
    expect(second.created_at).toBe(first.created_at);
    const third = must(await t.call('PUT', '/v1/customers/u1', { tags: [] }), 200).body;
    expect(third).toMatchObject({ tags: [], attributes: { age: 31, plan: 'pro' } });
    expect(must(await t.call('GET', '/v1/customers/u1'), 200).body).toEqual(third);
  });

  it('refuses bad input with a clear 400 and stores nothing', async () => {
    const t = await (await testApp()).newTenant();
    const cases: Array<[unknown, string]> = [
      [{ tags: 'vip' }, 'invalid_request'],
      [{ tags: [''] }, 'invalid_request'],
      [{ attributes: { 'a.b': 1 } }, 'invalid_request'],
      [{ attributes: { big: 'x'.repeat(17_000) } }, 'invalid_request'],
      [{ consent: { sms: 'maybe' } }, 'invalid_request'],
      [{ consent: { fax: 'opt_in' } }, 'invalid_request'],
      [{ nickname: 'x' }, 'invalid_request'],
    ];
    for (const [body, code] of cases) {
      const reply = await t.call('PUT', '/v1/customers/u1', body);
      expect([reply.status, reply.body.error.code], JSON.stringify(body)).toEqual([400, code]);
    }
    expect((await t.call('GET', '/v1/customers/u1')).status).toBe(404);
  });

  it('stores consent per channel with the time of the change', async () => {
    const t = await (await testApp()).newTenant();
    const a = must(await t.call('PUT', '/v1/customers/c1', { consent: { sms: 'opt_in', email: 'opt_out' } }), 201).body;
    expect(a.consent.sms.status).toBe('opt_in');
    expect(a.consent.email.status).toBe('opt_out');
    expect(a.consent.push).toBeNull();
    expect(Date.parse(a.consent.sms.updated_at)).toBeGreaterThan(0);
    const b = must(await t.call('PUT', '/v1/customers/c1', { consent: { sms: 'opt_out' } }), 200).body;
    expect(b.consent.sms.status).toBe('opt_out');
    expect(b.consent.email).toEqual(a.consent.email);
  });

  it('DELETE erases the profile; a second DELETE is 404', async () => {
    const t = await (await testApp()).newTenant();
    must(await t.call('PUT', '/v1/customers/gone', { tags: ['x'], attributes: { a: 1 }, consent: { sms: 'opt_in' } }), 201);
    must(await t.call('DELETE', '/v1/customers/gone'), 204);
    expect((await t.call('GET', '/v1/customers/gone')).body.error.code).toBe('customer_not_found');
    expect((await t.call('DELETE', '/v1/customers/gone')).status).toBe(404);
    // A new profile starts empty.
    expect(must(await t.call('PUT', '/v1/customers/gone', {}), 201).body).toMatchObject({ tags: [], attributes: {} });
  });

  it('adds and removes tags; 100 parallel additions lose none', async () => {
    const t = await (await testApp()).newTenant();
    must(await t.call('POST', '/v1/customers/p1/tags', { add: ['keep', 'drop'] }), 201);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => t.call('POST', '/v1/customers/p1/tags', { add: [`t${String(i).padStart(3, '0')}`], remove: ['drop'] })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(100).fill(200));
    const tags = must(await t.call('GET', '/v1/customers/p1'), 200).body.tags as string[];
    expect(tags).toHaveLength(101);
    expect(tags).toContain('keep');
    expect(tags).not.toContain('drop');
    // Parallel removals too.
    await Promise.all(Array.from({ length: 50 }, (_, i) => t.call('POST', '/v1/customers/p1/tags', { remove: [`t${String(i).padStart(3, '0')}`] })));
    expect(must(await t.call('GET', '/v1/customers/p1'), 200).body.tags).toHaveLength(51);
    expect((await t.call('POST', '/v1/customers/p1/tags', {})).status).toBe(400);
  });

  it('caps tags per customer in the database: 409 too_many_tags', async () => {
    const t = await (await testApp()).newTenant();
    must(await t.call('POST', '/v1/customers/cap/tags', { add: Array.from({ length: 250 }, (_, i) => `a${i}`) }), 201);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => t.call('POST', '/v1/customers/cap/tags', { add: [`b${i}`] })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(6);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.error.code === 'too_many_tags')).toBe(true);
    expect(must(await t.call('GET', '/v1/customers/cap'), 200).body.tags).toHaveLength(256);
  });

  it('keeps tenants apart on every route', async () => {
    const app = await testApp();
    const a = await app.newTenant();
    const b = await app.newTenant();
    must(await a.call('PUT', '/v1/customers/shared', { tags: ['a'], attributes: { owner: 'a' } }), 201);
    expect((await b.call('GET', '/v1/customers/shared')).status).toBe(404);
    expect((await b.call('DELETE', '/v1/customers/shared')).status).toBe(404);
    must(await b.call('PUT', '/v1/customers/shared', { attributes: { owner: 'b' } }), 201);
    must(await b.call('POST', '/v1/customers/shared/tags', { add: ['b'] }), 200);
    must(await b.call('POST', '/v1/customers/import', undefined, { payload: 'user_id,owner\nshared,b2\n', headers: { 'content-type': 'text/csv' } }), 200);
    expect(must(await a.call('GET', '/v1/customers/shared'), 200).body).toMatchObject({ tags: ['a'], attributes: { owner: 'a' } });
    expect(must(await b.call('GET', '/v1/customers/shared'), 200).body).toMatchObject({ tags: ['b'], attributes: { owner: 'b2' } });
    expect((await a.call('GET', '/v1/customers/shared', undefined, { key: null })).status).toBe(401);
    expect((await a.call('PUT', '/v1/customers/x', {}, { key: a.readonly })).body.error.code).toBe('read_only_key');
    expect((await a.call('GET', '/v1/customers/shared', undefined, { key: app.master })).body.error.code).toBe('tenant_key_required');
  });
});
