import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { campaignBody } from '../../../test/helpers/factories.js';
import { ManualClock } from '../../platform/clock.js';
import type { AppService } from '../apps/index.js';
import { createApiKeyService } from './index.js';
import { must, type Reply, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';

/** Asserts a refusal: the status, the error code, and the one error body shape. */
function expectRefusal(reply: Reply, status: number, code: string) {
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  expect(reply.body.error.code).toBe(code);
  expect(Object.keys(reply.body).sort()).toEqual(['error', 'requestId']);
  return reply.body.error as { code: string; message: string; details: Record<string, unknown> };
}

const keysUrl = (t: TenantFixture) => `/v1/tenants/${t.tenantId}/api-keys`;

async function createKey(app: TestApp, t: TenantFixture, body: Record<string, unknown>, key: string = app.master) {
  return must(await app.call('POST', keysUrl(t), body, { key }), 201).body as Record<string, any>;
}

async function listKeys(app: TestApp, t: TenantFixture, query: Record<string, string | number | boolean> = {}) {
  return must(await app.call('GET', keysUrl(t), undefined, { query: { page_size: 500, ...query } }), 200).body as {
    api_keys: Record<string, any>[];
    pagination: { total: number; page: number; page_size: number };
  };
}

const API_KEY_FIELDS = ['created_at', 'key_id', 'last_used_at', 'name', 'prefix', 'product_codes', 'revoked_at', 'role', 'tenant_id'];

describe('POST /v1/tenants/{tenant_id}/api-keys', () => {
  it('creates a key with the master key: 201 with the secret, shown once', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const created = await createKey(app, t, { name: 'ci', role: 'service' });
    expect(Object.keys(created).sort()).toEqual([...API_KEY_FIELDS, 'key'].sort());
    expect(created).toMatchObject({ tenant_id: t.tenantId, name: 'ci', role: 'service', product_codes: null, last_used_at: null, revoked_at: null });
    expect(created.key).toMatch(/^mhk_/);
    expect(created.prefix).toMatch(/^mhk_/);
    expect(created.key.startsWith(created.prefix)).toBe(true);
    expect(created.key.length).toBeGreaterThan(created.prefix.length + 20);
    expect(created.key_id).toEqual(expect.any(String));
    // The new key works at once.
    must(await t.call('GET', '/v1/campaigns', undefined, { key: created.key }), 200);
  });

  it('creates a key with the tenant\'s admin key, restricted to product codes', async () => {
    const app = await testApp();
    const t = await app.newTenant({ productCodes: ['app1', 'app2'] });
    const created = await createKey(app, t, { name: 'app2 only', role: 'readonly', product_codes: ['app2'] }, t.admin);
    expect(created).toMatchObject({ tenant_id: t.tenantId, role: 'readonly', product_codes: ['app2'] });
    expect(created.key.startsWith(created.prefix)).toBe(true);
    const admin = await createKey(app, t, { name: 'second admin', role: 'admin' }, t.admin);
    expect(admin.role).toBe('admin');
    // Each key is its own secret.
    expect(new Set([created.key, admin.key, t.admin, t.service, t.readonly]).size).toBe(5);
    expect(created.prefix).not.toBe(admin.prefix);
  });

  it('never shows the secret again: the list has no key field', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const created = await createKey(app, t, { name: 'secret', role: 'service' });
    const list = await listKeys(app, t);
    const listed = list.api_keys.find((k) => k.key_id === created.key_id);
    expect(listed).toBeDefined();
    expect(Object.keys(listed!).sort()).toEqual(API_KEY_FIELDS);
    expect(listed).toMatchObject({ prefix: created.prefix, role: 'service', name: 'secret' });
    for (const k of list.api_keys) expect(k).not.toHaveProperty('key');
    const text = JSON.stringify(list);
    for (const secret of [created.key, t.admin, t.service, t.readonly]) expect(text).not.toContain(secret);
    // The tenant's admin key may list too, and sees the same.
    const byAdmin = must(await app.call('GET', keysUrl(t), undefined, { key: t.admin, query: { page_size: 500 } }), 200).body;
    expect(byAdmin.api_keys.map((k: { key_id: string }) => k.key_id).sort()).toEqual(list.api_keys.map((k) => k.key_id).sort());
    expect(list.pagination).toEqual({ total: 4, page: 1, page_size: 500 });
  });

  it.each(['service', 'readonly'] as const)('refuses a %s key: 403 insufficient_role', async (role) => {
    const app = await testApp();
    const t = await app.newTenant();
    const key = role === 'service' ? t.service : t.readonly;
    const error = expectRefusal(await app.call('POST', keysUrl(t), { name: 'x', role: 'admin' }, { key }), 403, 'insufficient_role');
    expect(error.details).toMatchObject({ required_role: 'admin', key_role: role });
    expectRefusal(await app.call('GET', keysUrl(t), undefined, { key }), 403, 'insufficient_role');
    expect((await listKeys(app, t)).pagination.total).toBe(3);
  });

  it('refuses another tenant\'s admin key: 404 tenant_not_found', async () => {
    const app = await testApp();
    const [a, b] = [await app.newTenant(), await app.newTenant()];
    expectRefusal(await app.call('POST', keysUrl(b), { name: 'x', role: 'admin' }, { key: a.admin }), 404, 'tenant_not_found');
    expectRefusal(await app.call('GET', keysUrl(b), undefined, { key: a.admin }), 404, 'tenant_not_found');
    expect((await listKeys(app, b)).pagination.total).toBe(3);
  });

  it('refuses a tenant that does not exist: 404 tenant_not_found', async () => {
    const app = await testApp();
    await app.newTenant();
    expectRefusal(await app.call('POST', '/v1/tenants/no_such_tenant_x/api-keys', { name: 'x', role: 'admin' }), 404, 'tenant_not_found');
    expectRefusal(await app.call('GET', '/v1/tenants/no_such_tenant_x/api-keys'), 404, 'tenant_not_found');
  });

  it('refuses product_codes naming an app the tenant does not have: 400 unknown_product_code', async () => {
    const app = await testApp();
    const [a, b] = [await app.newTenant(), await app.newTenant({ productCodes: ['only_in_b'] })];
    const error = expectRefusal(
      await app.call('POST', keysUrl(a), { name: 'x', role: 'service', product_codes: ['app1', 'nope'] }),
      400,
      'unknown_product_code',
    );
    expect(error.details.product_codes).toEqual(['nope']);
    // Another tenant's app does not count either.
    expectRefusal(await app.call('POST', keysUrl(a), { name: 'x', role: 'service', product_codes: ['only_in_b'] }), 400, 'unknown_product_code');
    expect((await listKeys(app, a)).pagination.total).toBe(3);
    expect((await listKeys(app, b)).pagination.total).toBe(3);
  });

  it.each([
    ['an unknown role', { name: 'x', role: 'owner' }, 'role'],
    ['no role', { name: 'x' }, 'role'],
    ['an empty name', { name: '', role: 'admin' }, 'name'],
    ['empty product_codes', { name: 'x', role: 'admin', product_codes: [] }, 'product_codes'],
    ['an unknown field', { name: 'x', role: 'admin', scopes: ['all'] }, 'scopes'],
  ])('refuses %s: 400 invalid_request', async (_label, body, field) => {
    const app = await testApp();
    const t = await app.newTenant();
    const error = expectRefusal(await app.call('POST', keysUrl(t), body), 400, 'invalid_request');
    expect(error.details.field).toBe(field);
  });

  it('refuses a call without a key: 401 unauthorized', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    expectRefusal(await app.call('POST', keysUrl(t), { name: 'x', role: 'admin' }, { key: null }), 401, 'unauthorized');
    expectRefusal(await app.call('GET', keysUrl(t), undefined, { key: null }), 401, 'unauthorized');
  });
});

describe('DELETE /v1/tenants/{tenant_id}/api-keys/{key_id}', () => {
  it('revokes a key: 200 with revoked_at, and the key gets 401 on every /v1 call from then on', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const created = await createKey(app, t, { name: 'doomed', role: 'admin' });
    must(await t.call('GET', '/v1/campaigns', undefined, { key: created.key }), 200);

    const revoked = must(await app.call('DELETE', `${keysUrl(t)}/${created.key_id}`, undefined, { key: t.admin }), 200).body;
    expect(Object.keys(revoked).sort()).toEqual(API_KEY_FIELDS);
    expect(revoked).toMatchObject({ key_id: created.key_id, tenant_id: t.tenantId });
    expect(new Date(revoked.revoked_at).toISOString()).toBe(revoked.revoked_at);

    const key = created.key as string;
    expectRefusal(await t.call('GET', '/v1/campaigns', undefined, { key }), 401, 'unauthorized');
    expectRefusal(await t.call('POST', '/v1/campaigns', campaignBody(), { key }), 401, 'unauthorized');
    expectRefusal(await t.call('GET', `/v1/tenants/${t.tenantId}`, undefined, { key }), 401, 'unauthorized');
    expectRefusal(await t.call('GET', '/v1/apps', undefined, { key }), 401, 'unauthorized');
    expectRefusal(await t.call('POST', keysUrl(t), { name: 'revenge', role: 'admin' }, { key }), 401, 'unauthorized');
    // The tenant's other keys keep working.
    must(await t.call('GET', '/v1/campaigns'), 200);
  });

  it('lets the master key revoke, and a second revoke keeps the first revoked_at', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const created = await createKey(app, t, { name: 'twice', role: 'service' });
    const first = must(await app.call('DELETE', `${keysUrl(t)}/${created.key_id}`), 200).body;
    const second = must(await app.call('DELETE', `${keysUrl(t)}/${created.key_id}`), 200).body;
    expect(second.revoked_at).toBe(first.revoked_at);
    expectRefusal(await t.call('GET', '/v1/campaigns', undefined, { key: created.key }), 401, 'unauthorized');
  });

  it('hides revoked keys from the list unless include_revoked=true', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const created = await createKey(app, t, { name: 'hidden', role: 'readonly' });
    must(await app.call('DELETE', `${keysUrl(t)}/${created.key_id}`), 200);

    const active = await listKeys(app, t);
    expect(active.api_keys.map((k) => k.key_id)).not.toContain(created.key_id);
    expect(active.pagination.total).toBe(3);
    expect(active.api_keys.every((k) => k.revoked_at === null)).toBe(true);

    const all = await listKeys(app, t, { include_revoked: true });
    expect(all.pagination.total).toBe(4);
    expect(all.api_keys.find((k) => k.key_id === created.key_id)?.revoked_at).toEqual(expect.any(String));
    expect((await listKeys(app, t, { include_revoked: false })).pagination.total).toBe(3);
  });

  it('refuses to revoke another tenant\'s key: 404, and that key keeps working', async () => {
    const app = await testApp();
    const [a, b] = [await app.newTenant(), await app.newTenant()];
    const victim = await createKey(app, b, { name: 'victim', role: 'service' });
    // Through the attacker's own tenant: the key is not one of its keys.
    expectRefusal(await app.call('DELETE', `${keysUrl(a)}/${victim.key_id}`, undefined, { key: a.admin }), 404, 'api_key_not_found');
    // Through the victim's tenant: the tenant is not visible to the key.
    expectRefusal(await app.call('DELETE', `${keysUrl(b)}/${victim.key_id}`, undefined, { key: a.admin }), 404, 'tenant_not_found');
    // Even the master key cannot reach it under the wrong tenant.
    expectRefusal(await app.call('DELETE', `${keysUrl(a)}/${victim.key_id}`), 404, 'api_key_not_found');
    must(await b.call('GET', '/v1/campaigns', undefined, { key: victim.key }), 200);
    expect((await listKeys(app, b)).api_keys.find((k) => k.key_id === victim.key_id)?.revoked_at).toBeNull();
  });

  it('refuses a key that does not exist and service / readonly keys', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const created = await createKey(app, t, { name: 'target', role: 'readonly' });
    expectRefusal(await app.call('DELETE', `${keysUrl(t)}/key_nope`, undefined, { key: t.admin }), 404, 'api_key_not_found');
    expectRefusal(await app.call('DELETE', `${keysUrl(t)}/${created.key_id}`, undefined, { key: t.service }), 403, 'insufficient_role');
    expectRefusal(await app.call('DELETE', `${keysUrl(t)}/${created.key_id}`, undefined, { key: t.readonly }), 403, 'insufficient_role');
    expectRefusal(await app.call('DELETE', `${keysUrl(t)}/${created.key_id}`, undefined, { key: null }), 401, 'unauthorized');
    must(await t.call('GET', '/v1/campaigns', undefined, { key: created.key }), 200);
  });
});

describe('API key use and storage', () => {
  it('records last_used_at once the key is used', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const created = await createKey(app, t, { name: 'fresh', role: 'service' });
    const before = (await listKeys(app, t)).api_keys.find((k) => k.key_id === created.key_id)!;
    expect(before.last_used_at).toBeNull();

    const start = Date.now();
    must(await t.call('GET', '/v1/campaigns', undefined, { key: created.key }), 200);
    // The touch is written after the answer, off the request path.
    const used = await vi.waitFor(
      async () => {
        const row = (await listKeys(app, t)).api_keys.find((k) => k.key_id === created.key_id)!;
        expect(row.last_used_at).not.toBeNull();
        return row;
      },
      { timeout: 5_000, interval: 50 },
    );
    expect(new Date(used.last_used_at).getTime()).toBeGreaterThanOrEqual(start - 1_000);
    expect(new Date(used.last_used_at).getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
  });

  it('stores only a hash of the secret in the api_key table', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const created = await createKey(app, t, { name: 'hashed', role: 'admin' });
    const secret = created.key as string;
    const secretPart = secret.slice(created.prefix.length + 1);
    expect(secretPart.length).toBeGreaterThanOrEqual(32);

    const rows = await app.database.db.selectFrom('api_key').selectAll().where('tenant_id', '=', t.tenantId).execute();
    expect(rows).toHaveLength(4);
    const row = rows.find((r) => r.key_id === created.key_id)!;
    expect(row.secret_hash).toBe(createHash('sha256').update(secret, 'utf8').digest('hex'));
    expect(row.prefix).toBe(created.prefix);
    for (const r of rows) {
      const text = JSON.stringify(r);
      for (const s of [secret, t.admin, t.service, t.readonly]) {
        expect(text).not.toContain(s);
        expect(text).not.toContain(s.slice(s.indexOf('_', 4) + 1));
      }
    }
    expect(JSON.stringify(row)).not.toContain(secretPart);
  });

  it('stores no secret anywhere, not even in the record of an Idempotency-Key', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const idemKey = `key-create-${t.tenantId}`;
    const created = must(
      await app.call('POST', keysUrl(t), { name: 'idempotent', role: 'admin' }, { headers: { 'idempotency-key': idemKey } }),
      201,
    ).body;
    const secretPart = (created.key as string).slice(created.prefix.length + 1);
    const records = await app.database.db.selectFrom('idempotency_key').selectAll().where('idem_key', '=', idemKey).execute();
    for (const record of records) expect(JSON.stringify(record)).not.toContain(secretPart);
  });
});

describe('the verified-key cache', () => {
  it('answers a revoked key from the cache for cacheSeconds of the clock, then asks the database again', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const created = await createKey(app, t, { name: 'cached', role: 'service' });
    const clock = new ManualClock(new Date());
    // A second process's view: its own cache over the same database.
    const other = createApiKeyService({ db: app.database.db, clock, apps: {} as AppService, masterKeyHash: () => null, cacheSeconds: 10 });
    const actor = await other.authenticate(created.key);
    expect(actor).toMatchObject({ kind: 'tenant', tenantId: t.tenantId, keyId: created.key_id });
    must(await app.call('DELETE', `${keysUrl(t)}/${created.key_id}`), 200);
    clock.advance(10_000);
    expect(other.knownActor(created.key)).toEqual(actor);
    clock.advance(1);
    expect(other.knownActor(created.key)).toBeUndefined();
    await expect(other.authenticate(created.key)).rejects.toMatchObject({ code: 'unauthorized', message: 'This API key was revoked' });
  });
});
