import { describe, expect, it } from 'vitest';
import { campaignBody, newCampaign } from '../../../test/helpers/factories.js';
import { must, type Reply, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';

function expectError(reply: Reply, status: number, code: string, details?: Record<string, unknown>) {
  expect({ status: reply.status, code: reply.body?.error?.code }, JSON.stringify(reply.body)).toEqual({ status, code });
  if (details) expect(reply.body.error.details).toMatchObject(details);
}

const MISSING_ID = 'cmp_00000000000000000000000000';
const ids = (reply: Reply) => (reply.body.campaigns as { campaign_id: string }[]).map((c) => c.campaign_id);
const get = async (t: TenantFixture, id: string) => must(await t.call('GET', `/v1/campaigns/${id}`), 200).body;

/** The error part of a reply with the campaign id replaced, so two 404s can be compared whole. */
const shapeOf = (reply: Reply, id: string) => ({
  status: reply.status,
  body: JSON.parse(JSON.stringify(reply.body.error).replaceAll(id, '<id>')),
  keys: Object.keys(reply.body).sort(),
});

interface Route {
  name: string;
  /** Which of A's campaigns the call would change if the wall leaked. */
  target: 'draft' | 'active' | 'paused';
  method: 'GET' | 'PUT' | 'DELETE' | 'POST';
  path: (id: string) => string;
  body?: unknown;
}

const routes: Route[] = [
  { name: 'GET', target: 'draft', method: 'GET', path: (id) => `/v1/campaigns/${id}` },
  { name: 'PUT', target: 'draft', method: 'PUT', path: (id) => `/v1/campaigns/${id}`, body: { campaign_name: 'Taken over' } },
  { name: 'DELETE', target: 'draft', method: 'DELETE', path: (id) => `/v1/campaigns/${id}` },
  { name: 'publish', target: 'draft', method: 'POST', path: (id) => `/v1/campaigns/${id}/publish` },
  { name: 'pause', target: 'active', method: 'POST', path: (id) => `/v1/campaigns/${id}/pause` },
  { name: 'resume', target: 'paused', method: 'POST', path: (id) => `/v1/campaigns/${id}/resume` },
  { name: 'archive', target: 'active', method: 'POST', path: (id) => `/v1/campaigns/${id}/archive` },
];

/** Tenant A with a DRAFT, an ACTIVE and a PAUSED campaign (each the one some route would change). */
async function tenantWithCampaigns(t: TenantFixture) {
  const draft = await newCampaign(t, { campaign_name: 'A draft' });
  const active = await newCampaign(t, { campaign_name: 'A active' });
  must(await t.call('POST', `/v1/campaigns/${active.campaign_id}/publish`), 200);
  const paused = await newCampaign(t, { campaign_name: 'A paused' });
  must(await t.call('POST', `/v1/campaigns/${paused.campaign_id}/publish`), 200);
  must(await t.call('POST', `/v1/campaigns/${paused.campaign_id}/pause`), 200);
  const ids = { draft: draft.campaign_id as string, active: active.campaign_id as string, paused: paused.campaign_id as string };
  const snapshot = {
    draft: await get(t, ids.draft),
    active: await get(t, ids.active),
    paused: await get(t, ids.paused),
  };
  return { ids, snapshot };
}

describe('tenant walls', () => {
  for (const keyName of ['service', 'admin'] as const) {
    it.each(routes)(`another tenant's ${keyName} key gets 404 campaign_not_found on $name, shaped like a missing id`, async (route) => {
      const app = await testApp();
      const [a, b] = [await app.newTenant(), await app.newTenant()];
      const { ids: aIds, snapshot } = await tenantWithCampaigns(a);
      await newCampaign(b, { campaign_name: 'B own' });
      const key = b[keyName];
      const id = aIds[route.target];

      const foreign = await b.call(route.method, route.path(id), route.body, { key });
      expectError(foreign, 404, 'campaign_not_found', { campaign_id: id });
      const missing = await b.call(route.method, route.path(MISSING_ID), route.body, { key });
      expectError(missing, 404, 'campaign_not_found', { campaign_id: MISSING_ID });
      expect(shapeOf(foreign, id)).toEqual(shapeOf(missing, MISSING_ID));

      // A's campaigns are exactly as they were.
      for (const which of ['draft', 'active', 'paused'] as const) {
        expect(await get(a, aIds[which])).toEqual(snapshot[which]);
      }
      expect((await a.call('GET', '/v1/campaigns')).body.pagination.total).toBe(3);
    });
  }

  it("never lists another tenant's campaigns, whatever the filter", async () => {
    const app = await testApp();
    const [a, b] = [await app.newTenant(), await app.newTenant()];
    const { ids: aIds } = await tenantWithCampaigns(a);
    const own = await newCampaign(b, { campaign_name: 'B own' });
    const queries: Record<string, string>[] = [
      {},
      { name: 'A ' },
      { status: 'ACTIVE' },
      { status: 'DRAFT' },
      { status: 'PAUSED' },
      { product_code: 'app1' },
      { campaign_type: 'PROMOTION' },
    ];
    const aSet = new Set(Object.values(aIds));
    for (const key of [b.service, b.admin, b.readonly]) {
      for (const query of queries) {
        const r = must(await b.call('GET', '/v1/campaigns', undefined, { key, query: { page_size: 500, ...query } }), 200);
        expect(ids(r).filter((id) => aSet.has(id)), JSON.stringify(query)).toEqual([]);
        expect(r.body.campaigns.every((c: { tenant_id: string }) => c.tenant_id === b.tenantId)).toBe(true);
      }
      const all = must(await b.call('GET', '/v1/campaigns', undefined, { key }), 200);
      expect(ids(all)).toEqual([own.campaign_id]);
      expect(all.body.pagination.total).toBe(1);
    }
  });

  it("refuses to name another tenant in the list query or a body: 403 tenant_mismatch", async () => {
    const app = await testApp();
    const [a, b] = [await app.newTenant(), await app.newTenant()];
    await newCampaign(a);
    expectError(await b.call('GET', '/v1/campaigns', undefined, { query: { tenant_id: a.tenantId } }), 403, 'tenant_mismatch');
    expectError(await b.call('POST', '/v1/campaigns', campaignBody({ tenant_id: a.tenantId })), 403, 'tenant_mismatch');
    expect((await a.call('GET', '/v1/campaigns')).body.pagination.total).toBe(1);
    expect((await b.call('GET', '/v1/campaigns')).body.pagination.total).toBe(0);
  });
});

describe('product-restricted keys', () => {
  async function setup() {
    const app = await testApp();
    const t = await app.newTenant({ productCodes: ['app1', 'app2'] });
    const created = must(
      await t.call('POST', `/v1/tenants/${t.tenantId}/api-keys`, { name: 'app2 only', role: 'service', product_codes: ['app2'] }, { key: t.admin }),
      201,
    ).body;
    expect(created.product_codes).toEqual(['app2']);
    const one = await newCampaign(t, { product_code: 'app1', campaign_name: 'one' });
    const two = await newCampaign(t, { product_code: 'app2', campaign_name: 'two' });
    return { t, key: created.key as string, one, two };
  }

  it('cannot see app1 campaigns: 404 on get, absent from the list', async () => {
    const { t, key, one, two } = await setup();
    expectError(await t.call('GET', `/v1/campaigns/${one.campaign_id}`, undefined, { key }), 404, 'campaign_not_found');
    expect(must(await t.call('GET', `/v1/campaigns/${two.campaign_id}`, undefined, { key }), 200).body).toEqual(two);
    const r = must(await t.call('GET', '/v1/campaigns', undefined, { key }), 200);
    expect(ids(r)).toEqual([two.campaign_id]);
    expect(r.body.pagination.total).toBe(1);
    const filtered = must(await t.call('GET', '/v1/campaigns', undefined, { key, query: { product_code: 'app1' } }), 200);
    expect(filtered.body).toEqual({ campaigns: [], pagination: { total: 0, page: 1, page_size: 20 } });
    const byHeader = must(await t.call('GET', '/v1/campaigns', undefined, { key, headers: { 'x-product-code': 'app1' } }), 200);
    expect(ids(byHeader)).toEqual([]);
    // The unrestricted key still sees both.
    expect((await t.call('GET', '/v1/campaigns')).body.pagination.total).toBe(2);
  });

  it('cannot change, delete or move an app1 campaign through any route: 404 campaign_not_found', async () => {
    const { t, key, one } = await setup();
    const before = await get(t, one.campaign_id);
    expectError(await t.call('PUT', `/v1/campaigns/${one.campaign_id}`, { campaign_name: 'x' }, { key }), 404, 'campaign_not_found');
    expectError(await t.call('DELETE', `/v1/campaigns/${one.campaign_id}`, undefined, { key }), 404, 'campaign_not_found');
    for (const action of ['publish', 'pause', 'resume', 'archive']) {
      expectError(await t.call('POST', `/v1/campaigns/${one.campaign_id}/${action}`, undefined, { key }), 404, 'campaign_not_found');
    }
    expect(await get(t, one.campaign_id)).toEqual(before);
  });

  it('cannot create an app1 campaign: 403 product_not_allowed; app2 is fine', async () => {
    const { t, key } = await setup();
    expectError(await t.call('POST', '/v1/campaigns', campaignBody({ product_code: 'app1' }), { key }), 403, 'product_not_allowed', {
      product_code: 'app1',
    });
    const { product_code: _drop, ...noProduct } = campaignBody();
    expectError(
      await t.call('POST', '/v1/campaigns', noProduct, { key, headers: { 'x-product-code': 'app1' } }),
      403,
      'product_not_allowed',
    );
    expect((await t.call('GET', '/v1/campaigns')).body.pagination.total).toBe(2);
    const ok = must(await t.call('POST', '/v1/campaigns', campaignBody({ product_code: 'app2' }), { key }), 201).body;
    expect(ok.product_code).toBe('app2');
  });

  it('cannot move its own DRAFT to app1: 403 product_not_allowed', async () => {
    const { t, key, two } = await setup();
    expectError(await t.call('PUT', `/v1/campaigns/${two.campaign_id}`, { product_code: 'app1' }, { key }), 403, 'product_not_allowed');
    expect((await get(t, two.campaign_id)).product_code).toBe('app2');
  });
});

describe('keys that are not tenant keys', () => {
  it('the master key gets 403 tenant_key_required on every campaign route', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const c = await newCampaign(t);
    const master = { key: app.master };
    expectError(await app.call('GET', '/v1/campaigns', undefined, master), 403, 'tenant_key_required');
    expectError(await app.call('POST', '/v1/campaigns', campaignBody(), master), 403, 'tenant_key_required');
    expectError(await app.call('GET', `/v1/campaigns/${c.campaign_id}`, undefined, master), 403, 'tenant_key_required');
    expectError(await app.call('PUT', `/v1/campaigns/${c.campaign_id}`, { campaign_name: 'x' }, master), 403, 'tenant_key_required');
    expectError(await app.call('DELETE', `/v1/campaigns/${c.campaign_id}`, undefined, master), 403, 'tenant_key_required');
    expectError(await app.call('POST', `/v1/campaigns/${c.campaign_id}/publish`, undefined, master), 403, 'tenant_key_required');
    expect(await get(t, c.campaign_id)).toEqual(c);
  });

  it('no key: 401 unauthorized', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const c = await newCampaign(t);
    expectError(await app.call('GET', '/v1/campaigns', undefined, { key: null }), 401, 'unauthorized');
    expectError(await app.call('POST', '/v1/campaigns', campaignBody(), { key: null }), 401, 'unauthorized');
    expectError(await app.call('GET', `/v1/campaigns/${c.campaign_id}`, undefined, { key: null }), 401, 'unauthorized');
    expectError(await app.call('POST', `/v1/campaigns/${c.campaign_id}/publish`, undefined, { key: null }), 401, 'unauthorized');
    // A header that is not a Bearer token is no key either.
    const basic = await app.call('GET', '/v1/campaigns', undefined, { key: null, headers: { authorization: `Basic ${t.service}` } });
    expectError(basic, 401, 'unauthorized');
    expect(await get(t, c.campaign_id)).toEqual(c);
  });

  it('a made-up key: 401 unauthorized', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const wrongSecret = `${t.service.slice(0, t.service.lastIndexOf('_') + 1)}${'A'.repeat(43)}`;
    for (const key of ['not-a-key', 'mhk_ABCDEFGH_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG', wrongSecret]) {
      expectError(await app.call('GET', '/v1/campaigns', undefined, { key }), 401, 'unauthorized');
      expectError(await app.call('POST', '/v1/campaigns', campaignBody(), { key }), 401, 'unauthorized');
    }
    expect((await t.call('GET', '/v1/campaigns')).body.pagination.total).toBe(0);
  });
});
