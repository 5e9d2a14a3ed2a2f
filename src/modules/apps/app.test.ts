import { describe, expect, it } from 'vitest';
import { must, type Reply, testApp } from '../../../test/helpers/test-app.js';

/** Asserts a refusal: the status, the error code, and the one error body shape. */
function expectRefusal(reply: Reply, status: number, code: string) {
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  expect(reply.body.error.code).toBe(code);
  expect(Object.keys(reply.body).sort()).toEqual(['error', 'requestId']);
  return reply.body.error as { code: string; message: string; details: Record<string, unknown> };
}

const APP_FIELDS = ['created_at', 'name', 'product_code', 'rate_limits', 'tenant_id', 'updated_at'];

describe('POST /v1/apps', () => {
  it('registers an app with the tenant admin key: 201', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const created = must(await t.call('POST', '/v1/apps', { product_code: 'shop', name: 'Shop' }, { key: t.admin }), 201).body;
    expect(Object.keys(created).sort()).toEqual(APP_FIELDS);
    expect(created).toMatchObject({ tenant_id: t.tenantId, product_code: 'shop', name: 'Shop' });
    expect(new Date(created.created_at).toISOString()).toBe(created.created_at);
    expect(created.updated_at).toBe(created.created_at);
    expect(must(await t.call('GET', '/v1/apps/shop'), 200).body).toEqual(created);
  });

  it('accepts the caller\'s own tenant_id in the body', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const created = must(
      await t.call('POST', '/v1/apps', { product_code: 'own', name: 'Own', tenant_id: t.tenantId }, { key: t.admin }),
      201,
    ).body;
    expect(created.tenant_id).toBe(t.tenantId);
  });

  it('refuses a service key: 403 insufficient_role', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const error = expectRefusal(await t.call('POST', '/v1/apps', { product_code: 'svc', name: 'X' }), 403, 'insufficient_role');
    expect(error.details).toMatchObject({ required_role: 'admin', key_role: 'service' });
    expectRefusal(await t.call('GET', '/v1/apps/svc'), 404, 'app_not_found');
  });

  it('refuses a readonly key: 403 insufficient_role', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const error = expectRefusal(
      await t.call('POST', '/v1/apps', { product_code: 'ro', name: 'X' }, { key: t.readonly }),
      403,
      'insufficient_role',
    );
    expect(error.details).toMatchObject({ required_role: 'admin', key_role: 'readonly' });
    expectRefusal(await t.call('GET', '/v1/apps/ro'), 404, 'app_not_found');
  });

  it('refuses a duplicate product_code: 409 app_already_exists', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const error = expectRefusal(
      await t.call('POST', '/v1/apps', { product_code: t.productCode, name: 'Again' }, { key: t.admin }),
      409,
      'app_already_exists',
    );
    expect(error.details.product_code).toBe(t.productCode);
    expect(must(await t.call('GET', `/v1/apps/${t.productCode}`), 200).body.name).toBe(`App ${t.productCode}`);
  });

  it('lets two tenants use the same product_code', async () => {
    const app = await testApp();
    const [a, b] = [await app.newTenant(), await app.newTenant()];
    const inA = must(await a.call('POST', '/v1/apps', { product_code: 'shared', name: 'A shared' }, { key: a.admin }), 201).body;
    const inB = must(await b.call('POST', '/v1/apps', { product_code: 'shared', name: 'B shared' }, { key: b.admin }), 201).body;
    expect(inA.tenant_id).toBe(a.tenantId);
    expect(inB.tenant_id).toBe(b.tenantId);
    expect(must(await a.call('GET', '/v1/apps/shared'), 200).body.name).toBe('A shared');
    expect(must(await b.call('GET', '/v1/apps/shared'), 200).body.name).toBe('B shared');
  });

  it('refuses a body naming another tenant: 403 tenant_mismatch', async () => {
    const app = await testApp();
    const [a, b] = [await app.newTenant(), await app.newTenant()];
    const error = expectRefusal(
      await a.call('POST', '/v1/apps', { product_code: 'sneaky', name: 'X', tenant_id: b.tenantId }, { key: a.admin }),
      403,
      'tenant_mismatch',
    );
    expect(error.details.field).toBe('tenant_id');
    expectRefusal(await a.call('GET', '/v1/apps/sneaky'), 404, 'app_not_found');
    expectRefusal(await b.call('GET', '/v1/apps/sneaky'), 404, 'app_not_found');
  });

  it.each([
    ['a product_code with spaces', { product_code: 'my app', name: 'X' }, 'product_code'],
    ['an empty product_code', { product_code: '', name: 'X' }, 'product_code'],
    ['no name', { product_code: 'ok' }, 'name'],
    ['an unknown field', { product_code: 'ok', name: 'X', colour: 'red' }, 'colour'],
  ])('refuses %s: 400 invalid_request', async (_label, body, field) => {
    const app = await testApp();
    const t = await app.newTenant();
    const error = expectRefusal(await t.call('POST', '/v1/apps', body, { key: t.admin }), 400, 'invalid_request');
    expect(error.details.field).toBe(field);
  });

  it('refuses the master key: 403 tenant_key_required', async () => {
    const app = await testApp();
    await app.newTenant();
    expectRefusal(await app.call('POST', '/v1/apps', { product_code: 'm', name: 'M' }), 403, 'tenant_key_required');
    expectRefusal(await app.call('GET', '/v1/apps'), 403, 'tenant_key_required');
    expectRefusal(await app.call('GET', '/v1/apps/app1'), 403, 'tenant_key_required');
    expectRefusal(await app.call('PUT', '/v1/apps/app1', { name: 'M' }), 403, 'tenant_key_required');
  });

  it('refuses a call without a key: 401 unauthorized', async () => {
    const app = await testApp();
    await app.newTenant();
    expectRefusal(await app.call('POST', '/v1/apps', { product_code: 'n', name: 'N' }, { key: null }), 401, 'unauthorized');
    expectRefusal(await app.call('GET', '/v1/apps', undefined, { key: null }), 401, 'unauthorized');
  });
});

describe('GET and PUT /v1/apps', () => {
  it('lists the tenant\'s apps, newest first, paginated', async () => {
    const app = await testApp();
    const t = await app.newTenant({ productCodes: ['app1', 'app2'] });
    const list = must(await t.call('GET', '/v1/apps', undefined, { key: t.readonly }), 200).body;
    expect(Object.keys(list).sort()).toEqual(['apps', 'pagination']);
    expect(list.pagination).toEqual({ total: 2, page: 1, page_size: 20 });
    expect(list.apps.map((a: { product_code: string }) => a.product_code).sort()).toEqual(['app1', 'app2']);
    for (const a of list.apps) {
      expect(Object.keys(a).sort()).toEqual(APP_FIELDS);
      expect(a.tenant_id).toBe(t.tenantId);
    }
    const page2 = must(await t.call('GET', '/v1/apps', undefined, { query: { page: 2, page_size: 1 } }), 200).body;
    expect(page2.apps).toHaveLength(1);
    expect(page2.pagination).toEqual({ total: 2, page: 2, page_size: 1 });
  });

  it('gets one app with any key of the tenant', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    for (const key of [t.admin, t.service, t.readonly]) {
      expect(must(await t.call('GET', `/v1/apps/${t.productCode}`, undefined, { key }), 200).body).toMatchObject({
        tenant_id: t.tenantId,
        product_code: t.productCode,
        name: `App ${t.productCode}`,
      });
    }
    expectRefusal(await t.call('GET', '/v1/apps/nope'), 404, 'app_not_found');
  });

  it('renames an app with the admin key; service and readonly keys may not', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const before = must(await t.call('GET', `/v1/apps/${t.productCode}`), 200).body;
    const renamed = must(await t.call('PUT', `/v1/apps/${t.productCode}`, { name: 'Renamed' }, { key: t.admin }), 200).body;
    expect(renamed).toMatchObject({ tenant_id: t.tenantId, product_code: t.productCode, name: 'Renamed', created_at: before.created_at });
    expect(new Date(renamed.updated_at).getTime()).toBeGreaterThanOrEqual(new Date(before.updated_at).getTime());
    expect(must(await t.call('GET', `/v1/apps/${t.productCode}`), 200).body).toEqual(renamed);

    expectRefusal(await t.call('PUT', `/v1/apps/${t.productCode}`, { name: 'Svc' }), 403, 'insufficient_role');
    expectRefusal(await t.call('PUT', `/v1/apps/${t.productCode}`, { name: 'Ro' }, { key: t.readonly }), 403, 'insufficient_role');
    expectRefusal(await t.call('PUT', '/v1/apps/nope', { name: 'X' }, { key: t.admin }), 404, 'app_not_found');
    const bad = expectRefusal(await t.call('PUT', `/v1/apps/${t.productCode}`, { name: '' }, { key: t.admin }), 400, 'invalid_request');
    expect(bad.details.field).toBe('name');
    expect(must(await t.call('GET', `/v1/apps/${t.productCode}`), 200).body.name).toBe('Renamed');
  });

  it('refuses a PUT body naming another tenant: 403 tenant_mismatch', async () => {
    const app = await testApp();
    const [a, b] = [await app.newTenant(), await app.newTenant()];
    expectRefusal(await a.call('PUT', `/v1/apps/${a.productCode}`, { name: 'X', tenant_id: b.tenantId }, { key: a.admin }), 403, 'tenant_mismatch');
    expect(must(await a.call('GET', `/v1/apps/${a.productCode}`), 200).body.name).toBe(`App ${a.productCode}`);
  });

  it('answers another tenant\'s app with 404 app_not_found', async () => {
    const app = await testApp();
    const a = await app.newTenant();
    const b = await app.newTenant({ productCodes: ['b_only'] });
    expectRefusal(await a.call('GET', '/v1/apps/b_only'), 404, 'app_not_found');
    expectRefusal(await a.call('PUT', '/v1/apps/b_only', { name: 'Hijacked' }, { key: a.admin }), 404, 'app_not_found');
    const listA = must(await a.call('GET', '/v1/apps'), 200).body;
    expect(listA.apps.map((x: { product_code: string }) => x.product_code)).toEqual([a.productCode]);
    expect(listA.pagination.total).toBe(1);
    expect(must(await b.call('GET', '/v1/apps/b_only'), 200).body.name).toBe('App b_only');
  });

  it('shows a product-restricted key only its apps', async () => {
    const app = await testApp();
    const t = await app.newTenant({ productCodes: ['app1', 'app2'] });
    const restricted = must(
      await app.call('POST', `/v1/tenants/${t.tenantId}/api-keys`, { name: 'app2 only', role: 'admin', product_codes: ['app2'] }),
      201,
    ).body.key as string;
    const list = must(await t.call('GET', '/v1/apps', undefined, { key: restricted }), 200).body;
    expect(list.apps.map((x: { product_code: string }) => x.product_code)).toEqual(['app2']);
    expect(list.pagination.total).toBe(1);
    must(await t.call('GET', '/v1/apps/app2', undefined, { key: restricted }), 200);
    expectRefusal(await t.call('GET', '/v1/apps/app1', undefined, { key: restricted }), 404, 'app_not_found');
    expectRefusal(await t.call('PUT', '/v1/apps/app1', { name: 'Nope' }, { key: restricted }), 404, 'app_not_found');
    expect(must(await t.call('GET', '/v1/apps/app1'), 200).body.name).toBe('App app1');
  });
});

describe('app rate_limits (redemption quotas per product line)', () => {
  it('starts with none, is set on create or by PUT (replacing the whole set), and null turns a quota off', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    expect(must(await t.call('GET', `/v1/apps/${t.productCode}`), 200).body.rate_limits).toEqual({});

    const created = must(
      await t.call('POST', '/v1/apps', { product_code: 'quota', name: 'Q', rate_limits: { redeem_per_hour: 100, redeem_per_day: 1000 } }, { key: t.admin }),
      201,
    ).body;
    expect(created.rate_limits).toEqual({ redeem_per_hour: 100, redeem_per_day: 1000 });

    const updated = must(await t.call('PUT', '/v1/apps/quota', { rate_limits: { redeem_per_day: null } }, { key: t.admin }), 200).body;
    expect(updated).toMatchObject({ name: 'Q', rate_limits: { redeem_per_day: null } });
    expect(must(await t.call('GET', '/v1/apps/quota'), 200).body.rate_limits).toEqual({ redeem_per_day: null });
    expect(await app.app.services.apps.getRateLimits(t.tenantId, 'quota')).toEqual({ redeem_per_day: null });
    expect(await app.app.services.apps.getRateLimits(t.tenantId, 'missing')).toBeNull();
  });

  it('the limiter reads quotas from a short cache that a change or a new app drops at once', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const apps = app.app.services.apps;
    expect(await apps.getRateLimits(t.tenantId, 'later')).toBeNull(); // cached as "no such app"
    must(await t.call('POST', '/v1/apps', { product_code: 'later', name: 'L', rate_limits: { redeem_per_hour: 7 } }, { key: t.admin }), 201);
    expect(await apps.getRateLimits(t.tenantId, 'later')).toEqual({ redeem_per_hour: 7 });
    must(await t.call('PUT', '/v1/apps/later', { rate_limits: { redeem_per_hour: 3 } }, { key: t.admin }), 200);
    expect(await apps.getRateLimits(t.tenantId, 'later')).toEqual({ redeem_per_hour: 3 });
  });

  it('refuses bad quotas and an empty PUT with 400 invalid_request, changing nothing', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const url = `/v1/apps/${t.productCode}`;
    for (const rate_limits of [{ redeem_per_hour: -1 }, { redeem_per_hour: 1.5 }, { redeem_per_hour: '5' }, { per_minute: 3 }]) {
      const error = expectRefusal(await t.call('PUT', url, { rate_limits }, { key: t.admin }), 400, 'invalid_request');
      expect(String(error.details.field)).toMatch(/^rate_limits/);
    }
    expectRefusal(await t.call('PUT', url, {}, { key: t.admin }), 400, 'invalid_request');
    expectRefusal(await t.call('PUT', url, { rate_limits: { redeem_per_hour: 5 } }), 403, 'insufficient_role');
    expect(must(await t.call('GET', url), 200).body.rate_limits).toEqual({});
  });

  it('another tenant cannot read or set them', async () => {
    const app = await testApp();
    const [a, b] = [await app.newTenant(), await app.newTenant({ productCodes: ['b_quota'] })];
    expectRefusal(await a.call('PUT', '/v1/apps/b_quota', { rate_limits: { redeem_per_hour: 0 } }, { key: a.admin }), 404, 'app_not_found');
    expect(await app.app.services.apps.getRateLimits(a.tenantId, 'b_quota')).toBeNull();
    expect(must(await b.call('GET', '/v1/apps/b_quota'), 200).body.rate_limits).toEqual({});
  });
});
