import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { must, type Reply, testApp } from '../../../test/helpers/test-app.js';

/** Asserts a refusal: the status, the error code, and the one error body shape. */
function expectRefusal(reply: Reply, status: number, code: string) {
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  expect(reply.body.error.code).toBe(code);
  expect(Object.keys(reply.body).sort()).toEqual(['error', 'requestId']);
  return reply.body.error as { code: string; message: string; details: Record<string, unknown> };
}

const freshId = () => `t_${randomBytes(6).toString('hex')}`;

/** The body with the tenant id and request id taken out, to compare two refusals for different ids. */
const withoutId = (body: unknown, id: string) => {
  const { requestId: _requestId, ...rest } = body as { requestId: string };
  return JSON.parse(JSON.stringify(rest).replaceAll(id, '<id>')) as unknown;
};

describe('POST /v1/tenants', () => {
  it('creates a tenant with the master key: 201 with its id, name, type and timestamps', async () => {
    const app = await testApp();
    const id = freshId();
    const reply = must(await app.call('POST', '/v1/tenants', { tenant_id: id, name: 'Acme' }), 201);
    expect(Object.keys(reply.body).sort()).toEqual(['created_at', 'name', 'tenant_id', 'tenant_type', 'updated_at']);
    expect(reply.body).toMatchObject({ tenant_id: id, name: 'Acme', tenant_type: 'PLATFORM' });
    expect(new Date(reply.body.created_at).toISOString()).toBe(reply.body.created_at);
    expect(reply.body.updated_at).toBe(reply.body.created_at);
    expect(must(await app.call('GET', `/v1/tenants/${id}`), 200).body).toEqual(reply.body);
  });

  it('refuses a duplicate tenant_id: 409 tenant_already_exists', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const reply = await app.call('POST', '/v1/tenants', { tenant_id: t.tenantId, name: 'Again' });
    const error = expectRefusal(reply, 409, 'tenant_already_exists');
    expect(error.details.tenant_id).toBe(t.tenantId);
    // The first tenant is untouched.
    expect(must(await app.call('GET', `/v1/tenants/${t.tenantId}`), 200).body.name).toBe(`Tenant ${t.tenantId}`);
  });

  it('refuses a tenant admin key: 403 master_key_required', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const id = freshId();
    expectRefusal(await app.call('POST', '/v1/tenants', { tenant_id: id, name: 'X' }, { key: t.admin }), 403, 'master_key_required');
    expectRefusal(await app.call('GET', `/v1/tenants/${id}`), 404, 'tenant_not_found');
  });

  it('refuses a call without a key: 401 unauthorized', async () => {
    const app = await testApp();
    await app.newTenant();
    const id = freshId();
    expectRefusal(await app.call('POST', '/v1/tenants', { tenant_id: id, name: 'X' }, { key: null }), 401, 'unauthorized');
    expectRefusal(await app.call('POST', '/v1/tenants', { tenant_id: id, name: 'X' }, { key: 'mhk_not_a_real_key_at_all' }), 401, 'unauthorized');
    expectRefusal(await app.call('GET', `/v1/tenants/${id}`), 404, 'tenant_not_found');
  });

  it.each([
    ['spaces', 'has spaces'],
    ['empty', ''],
    ['65 characters', `t${'x'.repeat(64)}`],
    ['a leading dash', '-abc'],
    ['a slash', 'a/b'],
  ])('refuses a tenant_id with %s: 400 invalid_request naming tenant_id', async (_label, tenantId) => {
    const app = await testApp();
    await app.newTenant();
    const error = expectRefusal(await app.call('POST', '/v1/tenants', { tenant_id: tenantId, name: 'X' }), 400, 'invalid_request');
    expect(error.details.field).toBe('tenant_id');
    expect(error.message).toContain('tenant_id');
  });

  it('accepts a tenant_id of exactly 64 characters', async () => {
    const app = await testApp();
    const id = `t${randomBytes(32).toString('hex')}`.slice(0, 64);
    expect(id).toHaveLength(64);
    must(await app.call('POST', '/v1/tenants', { tenant_id: id, name: 'Long' }), 201);
  });

  it('refuses a missing name and unknown fields: 400 invalid_request', async () => {
    const app = await testApp();
    await app.newTenant();
    const missing = expectRefusal(await app.call('POST', '/v1/tenants', { tenant_id: freshId() }), 400, 'invalid_request');
    expect(missing.details.field).toBe('name');
    const unknown = expectRefusal(
      await app.call('POST', '/v1/tenants', { tenant_id: freshId(), name: 'X', colour: 'blue' }),
      400,
      'invalid_request',
    );
    expect(unknown.details.field).toBe('colour');
  });
});

describe('GET /v1/tenants', () => {
  it('lists tenants for the master key, paginated', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const all = must(await app.call('GET', '/v1/tenants', undefined, { query: { page_size: 500 } }), 200).body;
    expect(Object.keys(all).sort()).toEqual(['pagination', 'tenants']);
    expect(all.pagination).toEqual({ total: expect.any(Number), page: 1, page_size: 500 });
    expect(all.pagination.total).toBeGreaterThanOrEqual(1);
    expect(all.tenants.find((x: { tenant_id: string }) => x.tenant_id === t.tenantId)).toMatchObject({
      tenant_id: t.tenantId,
      name: `Tenant ${t.tenantId}`,
    });

    const one = must(await app.call('GET', '/v1/tenants', undefined, { query: { page: 1, page_size: 1 } }), 200).body;
    expect(one.tenants).toHaveLength(1);
    expect(one.pagination).toMatchObject({ page: 1, page_size: 1 });
    expect(one.pagination.total).toBeGreaterThanOrEqual(1);
  });

  it('refuses a bad page_size: 400 invalid_request', async () => {
    const app = await testApp();
    await app.newTenant();
    const error = expectRefusal(await app.call('GET', '/v1/tenants', undefined, { query: { page_size: 0 } }), 400, 'invalid_request');
    expect(error.details.field).toContain('page_size');
  });

  it('refuses tenant keys: 403 master_key_required', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    expectRefusal(await app.call('GET', '/v1/tenants', undefined, { key: t.admin }), 403, 'master_key_required');
    expectRefusal(await t.call('GET', '/v1/tenants'), 403, 'master_key_required');
    expectRefusal(await app.call('GET', '/v1/tenants', undefined, { key: null }), 401, 'unauthorized');
  });
});

describe('GET /v1/tenants/{tenant_id}', () => {
  it('shows a tenant to the master key and to every key of that tenant', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const byMaster = must(await app.call('GET', `/v1/tenants/${t.tenantId}`), 200).body;
    expect(byMaster).toMatchObject({ tenant_id: t.tenantId, name: `Tenant ${t.tenantId}` });
    for (const key of [t.admin, t.service, t.readonly]) {
      expect(must(await app.call('GET', `/v1/tenants/${t.tenantId}`, undefined, { key }), 200).body).toEqual(byMaster);
    }
  });

  it('answers another tenant\'s key with 404 tenant_not_found, exactly as for a tenant that does not exist', async () => {
    const app = await testApp();
    const [a, b] = [await app.newTenant(), await app.newTenant()];
    const missing = freshId();

    const other = await app.call('GET', `/v1/tenants/${b.tenantId}`, undefined, { key: a.admin });
    const absent = await app.call('GET', `/v1/tenants/${missing}`, undefined, { key: a.admin });
    const absentForMaster = await app.call('GET', `/v1/tenants/${missing}`);
    expectRefusal(other, 404, 'tenant_not_found');
    expectRefusal(absent, 404, 'tenant_not_found');
    expectRefusal(absentForMaster, 404, 'tenant_not_found');
    // Same body apart from the id asked for: nothing tells "exists elsewhere" from "does not exist".
    expect(withoutId(other.body, b.tenantId)).toEqual(withoutId(absent.body, missing));
    expect(withoutId(absent.body, missing)).toEqual(withoutId(absentForMaster.body, missing));
    expect(JSON.stringify(other.body)).not.toContain(`Tenant ${b.tenantId}`);
  });

  it('refuses a call without a key: 401 unauthorized', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    expectRefusal(await app.call('GET', `/v1/tenants/${t.tenantId}`, undefined, { key: null }), 401, 'unauthorized');
  });
});
