import { describe, expect, it } from 'vitest';
import { campaignBody, newCampaign } from '../../../test/helpers/factories.js';
import { must, type Reply, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';
import { ManualClock } from '../../platform/clock.js';
import { CAMPAIGN_TYPES } from './campaign.schemas.js';

/** Asserts a refusal: HTTP status, error code and (optionally) some details, in one message. */
function expectError(reply: Reply, status: number, code: string, details?: Record<string, unknown>) {
  expect({ status: reply.status, code: reply.body?.error?.code }, JSON.stringify(reply.body)).toEqual({ status, code });
  if (details) expect(reply.body.error.details).toMatchObject(details);
}

/** The body without the given keys. */
function without(body: Record<string, unknown>, ...keys: string[]) {
  return Object.fromEntries(Object.entries(body).filter(([k]) => !keys.includes(k)));
}

const ids = (reply: Reply) => (reply.body.campaigns as { campaign_id: string }[]).map((c) => c.campaign_id);
const sorted = (list: string[]) => [...list].sort();

/** List with a query; asserts 200. */
async function list(t: TenantFixture, query: Record<string, string | number> = {}, headers?: Record<string, string>) {
  return must(await t.call('GET', '/v1/campaigns', undefined, { query: { page_size: 500, ...query }, ...(headers ? { headers } : {}) }), 200);
}

async function act(t: TenantFixture, id: string, action: 'publish' | 'pause' | 'resume' | 'archive') {
  return must(await t.call('POST', `/v1/campaigns/${id}/${action}`), 200).body;
}

/** A real audience of the tenant (audience_id is checked against the tenant's audiences). */
async function newAudience(t: TenantFixture, productCode = t.productCode): Promise<string> {
  const body = { audience_name: 'VIPs', product_code: productCode, audience_type: 'TAG', rule: { tags_any: ['vip'] } };
  return must(await t.call('POST', '/v1/audiences', body), 201).body.audience_id as string;
}

describe('POST /v1/campaigns', () => {
  it('creates a DRAFT at version 1 and echoes every field in snake_case', async () => {
    const t = await (await testApp()).newTenant();
    const vip = await newAudience(t);
    const body = {
      tenant_id: t.tenantId,
      campaign_name: 'Spring Sale 春季',
      campaign_type: 'FLASH_SALE',
      product_code: 'app1',
      description: 'Twenty percent off everything',
      start_time: '2030-03-01T00:00:00.000Z',
      end_time: '2030-03-31T23:59:59.000Z',
      audience_id: vip,
      form_fields: {
        type: 'object',
        properties: { email: { type: 'string', format: 'email' }, age: { type: 'integer', minimum: 18 } },
        required: ['email'],
      },
      metadata: { channel: 'push', budget: { amount: 1000, currency: 'CNY' }, tags: ['a', 'b'], on: true, none: null },
    };
    const created = must(await t.call('POST', '/v1/campaigns', body), 201).body;
    expect(created).toEqual({
      campaign_id: expect.stringMatching(/^cmp_[0-9A-Z]{26}$/),
      tenant_id: t.tenantId,
      product_code: 'app1',
      campaign_name: 'Spring Sale 春季',
      campaign_type: 'FLASH_SALE',
      description: 'Twenty percent off everything',
      start_time: '2030-03-01T00:00:00.000Z',
      end_time: '2030-03-31T23:59:59.000Z',
      audience_id: vip,
      form_fields: body.form_fields,
      metadata: body.metadata,
      status: 'DRAFT',
      published_at: null,
      paused_at: null,
      archived_at: null,
      created_at: expect.any(String),
      updated_at: created.created_at,
      version: 1,
      // Made with an API key: no console operator (0059_actor_stamps.sql).
      created_by: null,
      updated_by: null,
    });
    expect(Number.isNaN(Date.parse(created.created_at))).toBe(false);
    // What was stored is what was echoed.
    expect(must(await t.call('GET', `/v1/campaigns/${created.campaign_id}`), 200).body).toEqual(created);
  });

  it('fills the optional fields with null / {} when they are left out', async () => {
    const t = await (await testApp()).newTenant();
    const created = must(
      await t.call('POST', '/v1/campaigns', { campaign_name: 'Bare', campaign_type: 'CUSTOM', product_code: 'app1' }),
      201,
    ).body;
    expect(created).toMatchObject({
      description: null,
      start_time: null,
      end_time: null,
      audience_id: null,
      form_fields: null,
      metadata: {},
      status: 'DRAFT',
      version: 1,
    });
  });

  it('normalises date-times with an offset to UTC', async () => {
    const t = await (await testApp()).newTenant();
    const created = await newCampaign(t, { start_time: '2030-01-01T08:00:00+08:00', end_time: '2030-01-02T00:00:00.5Z' });
    expect(created.start_time).toBe('2030-01-01T00:00:00.000Z');
    expect(created.end_time).toBe('2030-01-02T00:00:00.500Z');
  });

  it.each(CAMPAIGN_TYPES)('accepts campaign_type %s', async (type) => {
    const t = await (await testApp()).newTenant();
    expect((await newCampaign(t, { campaign_type: type })).campaign_type).toBe(type);
  });

  it('takes product_code from the X-Product-Code header when the body has none', async () => {
    const t = await (await testApp()).newTenant({ productCodes: ['app1', 'app2'] });
    const r = must(await t.call('POST', '/v1/campaigns', without(campaignBody(), 'product_code'), { headers: { 'x-product-code': 'app2' } }), 201);
    expect(r.body.product_code).toBe('app2');
  });

  it('accepts a body product_code and a header that agree', async () => {
    const t = await (await testApp()).newTenant({ productCodes: ['app1', 'app2'] });
    const r = must(await t.call('POST', '/v1/campaigns', campaignBody({ product_code: 'app2' }), { headers: { 'x-product-code': 'app2' } }), 201);
    expect(r.body.product_code).toBe('app2');
  });

  it('refuses a body product_code and a header that differ: 400 product_code_mismatch', async () => {
    const t = await (await testApp()).newTenant({ productCodes: ['app1', 'app2'] });
    const r = await t.call('POST', '/v1/campaigns', campaignBody({ product_code: 'app1' }), { headers: { 'x-product-code': 'app2' } });
    expectError(r, 400, 'product_code_mismatch', { field: 'product_code' });
    expect((await list(t)).body.pagination.total).toBe(0);
  });

  it('refuses a campaign with no product_code anywhere: 400 invalid_request on product_code', async () => {
    const t = await (await testApp()).newTenant();
    const r = await t.call('POST', '/v1/campaigns', without(campaignBody(), 'product_code'));
    expectError(r, 400, 'invalid_request', { field: 'product_code' });
  });

  it('refuses a product_code that is not an app of this tenant: 400 unknown_product_code', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const other = await app.newTenant({ productCodes: ['only_other'] });
    expectError(await t.call('POST', '/v1/campaigns', campaignBody({ product_code: 'nope' })), 400, 'unknown_product_code', {
      field: 'product_code',
    });
    // Another tenant's app is not one of ours either.
    expectError(await t.call('POST', '/v1/campaigns', campaignBody({ product_code: 'only_other' })), 400, 'unknown_product_code');
    expectError(
      await t.call('POST', '/v1/campaigns', without(campaignBody(), 'product_code'), { headers: { 'x-product-code': 'nope' } }),
      400,
      'unknown_product_code',
    );
    expect((await list(t)).body.pagination.total).toBe(0);
    expect((await list(other)).body.pagination.total).toBe(0);
  });

  it("accepts a body tenant_id equal to the key's tenant", async () => {
    const t = await (await testApp()).newTenant();
    const r = must(await t.call('POST', '/v1/campaigns', campaignBody({ tenant_id: t.tenantId })), 201);
    expect(r.body.tenant_id).toBe(t.tenantId);
  });

  it('refuses a body tenant_id of another tenant: 403 tenant_mismatch', async () => {
    const app = await testApp();
    const [t, other] = [await app.newTenant(), await app.newTenant()];
    const r = await t.call('POST', '/v1/campaigns', campaignBody({ tenant_id: other.tenantId }));
    expectError(r, 403, 'tenant_mismatch', { field: 'tenant_id' });
    expect((await list(t)).body.pagination.total).toBe(0);
    expect((await list(other)).body.pagination.total).toBe(0);
  });

  const validationCases: [string, (b: Record<string, unknown>) => unknown, string][] = [
    ['missing campaign_name', (b) => without(b, 'campaign_name'), 'campaign_name'],
    ['missing campaign_type', (b) => without(b, 'campaign_type'), 'campaign_type'],
    ['empty campaign_name', (b) => ({ ...b, campaign_name: '' }), 'campaign_name'],
    ['campaign_name of 201 characters', (b) => ({ ...b, campaign_name: 'x'.repeat(201) }), 'campaign_name'],
    ['unknown campaign_type', (b) => ({ ...b, campaign_type: 'LOTTERY' }), 'campaign_type'],
    ['lower-case campaign_type', (b) => ({ ...b, campaign_type: 'promotion' }), 'campaign_type'],
    ['number as campaign_name', (b) => ({ ...b, campaign_name: 5 }), 'campaign_name'],
    ['number as campaign_type', (b) => ({ ...b, campaign_type: 5 }), 'campaign_type'],
    ['null campaign_name', (b) => ({ ...b, campaign_name: null }), 'campaign_name'],
    ['number as product_code', (b) => ({ ...b, product_code: 5 }), 'product_code'],
    ['empty product_code', (b) => ({ ...b, product_code: '' }), 'product_code'],
    ['number as description', (b) => ({ ...b, description: 5 }), 'description'],
    ['number as audience_id', (b) => ({ ...b, audience_id: 5 }), 'audience_id'],
    ['empty audience_id', (b) => ({ ...b, audience_id: '' }), 'audience_id'],
    ['string "5" as metadata', (b) => ({ ...b, metadata: '5' }), 'metadata'],
    ['array as metadata', (b) => ({ ...b, metadata: [1, 2] }), 'metadata'],
    ['string "5" as form_fields', (b) => ({ ...b, form_fields: '5' }), 'form_fields'],
    ['array as form_fields', (b) => ({ ...b, form_fields: [] }), 'form_fields'],
    ['number as start_time', (b) => ({ ...b, start_time: 5 }), 'start_time'],
    ['boolean as end_time', (b) => ({ ...b, end_time: true }), 'end_time'],
    ['start_time that is not a date', (b) => ({ ...b, start_time: 'tomorrow' }), 'start_time'],
    ['start_time on 30 February', (b) => ({ ...b, start_time: '2030-02-30T00:00:00Z' }), 'start_time'],
    ['start_time without a time zone', (b) => ({ ...b, start_time: '2030-01-01T00:00:00' }), 'start_time'],
    ['date-only end_time', (b) => ({ ...b, end_time: '2030-01-01' }), 'end_time'],
    ['end_time before start_time', (b) => ({ ...b, start_time: '2030-02-01T00:00:00Z', end_time: '2030-01-01T00:00:00Z' }), 'end_time'],
    ['end_time equal to start_time', (b) => ({ ...b, start_time: '2030-01-01T00:00:00Z', end_time: '2030-01-01T00:00:00.000Z' }), 'end_time'],
    ['end_time one hour before start_time via offsets', (b) => ({ ...b, start_time: '2030-01-01T00:00:00Z', end_time: '2030-01-01T00:00:00+01:00' }), 'end_time'],
    ['unknown field campain_name', (b) => ({ ...b, campain_name: 'typo' }), 'campain_name'],
    ['read-only field status', (b) => ({ ...b, status: 'ACTIVE' }), 'status'],
    ['read-only field version', (b) => ({ ...b, version: 7 }), 'version'],
    ['description of 4001 characters', (b) => ({ ...b, description: 'd'.repeat(4001) }), 'description'],
    ['metadata over 16 KiB', (b) => ({ ...b, metadata: { blob: 'm'.repeat(16 * 1024) } }), 'metadata'],
    ['form_fields whose root type is not object', (b) => ({ ...b, form_fields: { type: 'string' } }), 'form_fields'],
    ['form_fields with no root type', (b) => ({ ...b, form_fields: { properties: { email: { type: 'string' } } } }), 'form_fields'],
    ['form_fields with properties that is not an object', (b) => ({ ...b, form_fields: { type: 'object', properties: 5 } }), 'form_fields'],
    ['form_fields with required that is not an array', (b) => ({ ...b, form_fields: { type: 'object', required: 'email' } }), 'form_fields'],
    ['form_fields with an unknown type name', (b) => ({ ...b, form_fields: { type: 'object', properties: { a: { type: 'text' } } } }), 'form_fields'],
    ['form_fields over 64 KiB', (b) => ({ ...b, form_fields: { type: 'object', description: 'f'.repeat(64 * 1024) } }), 'form_fields'],
    ['a JSON array as the body', () => [campaignBody()], 'body'],
    ['a JSON string as the body', () => 'campaign', 'body'],
  ];

  it.each(validationCases)('refuses %s: 400 invalid_request naming the field', async (_label, make, field) => {
    const t = await (await testApp()).newTenant();
    const r = await t.call('POST', '/v1/campaigns', make(campaignBody()));
    expectError(r, 400, 'invalid_request', { field });
    expect(typeof r.body.error.message).toBe('string');
    expect((await list(t)).body.pagination.total).toBe(0);
  });

  it('accepts the limits themselves: 200-character name, 4000-character description, metadata just under 16 KiB', async () => {
    const t = await (await testApp()).newTenant();
    const blob = 'm'.repeat(16 * 1024 - JSON.stringify({ blob: '' }).length);
    expect(Buffer.byteLength(JSON.stringify({ blob }))).toBe(16 * 1024);
    const c = await newCampaign(t, { campaign_name: 'n'.repeat(200), description: 'd'.repeat(4000), metadata: { blob } });
    expect(c.campaign_name).toHaveLength(200);
    expect(c.description).toHaveLength(4000);
    expect(c.metadata.blob).toHaveLength(blob.length);
  });

  it('refuses a leap-second start_time (valid RFC 3339, not representable): 400 invalid_request on start_time', async () => {
    const t = await (await testApp()).newTenant();
    const r = await t.call('POST', '/v1/campaigns', campaignBody({ start_time: '2030-06-30T23:59:60Z', end_time: '2030-12-31T00:00:00Z' }));
    expectError(r, 400, 'invalid_request', { field: 'start_time' });
  });

  it('refuses malformed JSON: 400 invalid_json', async () => {
    const t = await (await testApp()).newTenant();
    expectError(await t.call('POST', '/v1/campaigns', undefined, { payload: '{"campaign_name": "x",' }), 400, 'invalid_json');
    expectError(await t.call('POST', '/v1/campaigns', undefined, { payload: "{'campaign_name': 'x'}" }), 400, 'invalid_json');
    expect((await list(t)).body.pagination.total).toBe(0);
  });
});

describe('GET /v1/campaigns/:campaign_id', () => {
  it('returns the campaign', async () => {
    const t = await (await testApp()).newTenant();
    const c = await newCampaign(t, { campaign_name: 'Fetch me' });
    expect(must(await t.call('GET', `/v1/campaigns/${c.campaign_id}`), 200).body).toEqual(c);
  });

  it('answers 404 campaign_not_found for an id that does not exist', async () => {
    const t = await (await testApp()).newTenant();
    const r = await t.call('GET', '/v1/campaigns/cmp_00000000000000000000000000');
    expectError(r, 404, 'campaign_not_found', { campaign_id: 'cmp_00000000000000000000000000' });
  });
});

describe('PUT /v1/campaigns/:campaign_id', () => {
  it('changes only the given fields and increments version', async () => {
    const t = await (await testApp()).newTenant();
    const c = await newCampaign(t, { description: 'keep me', metadata: { a: 1 }, audience_id: await newAudience(t) });
    const renamed = must(await t.call('PUT', `/v1/campaigns/${c.campaign_id}`, { campaign_name: 'Renamed' }), 200).body;
    expect(renamed).toEqual({ ...c, campaign_name: 'Renamed', version: 2, updated_at: renamed.updated_at });
    expect(Date.parse(renamed.updated_at)).toBeGreaterThanOrEqual(Date.parse(c.updated_at));

    const second = must(
      await t.call('PUT', `/v1/campaigns/${c.campaign_id}`, { description: null, metadata: { b: [1, 2] }, audience_id: null }),
      200,
    ).body;
    expect(second).toEqual({ ...renamed, description: null, metadata: { b: [1, 2] }, audience_id: null, version: 3, updated_at: second.updated_at });
    expect(must(await t.call('GET', `/v1/campaigns/${c.campaign_id}`), 200).body).toEqual(second);
  });

  it('changes every editable field at once', async () => {
    const t = await (await testApp()).newTenant({ productCodes: ['app1', 'app2'] });
    const c = await newCampaign(t);
    const changes = {
      campaign_name: 'All new',
      campaign_type: 'COUPON',
      product_code: 'app2',
      description: 'new description',
      start_time: '2031-01-01T00:00:00.000Z',
      end_time: '2031-02-01T00:00:00.000Z',
      audience_id: await newAudience(t, 'app2'),
      form_fields: { type: 'object', properties: { phone: { type: 'string' } } },
      metadata: { v: 2 },
    };
    const r = must(await t.call('PUT', `/v1/campaigns/${c.campaign_id}`, { tenant_id: t.tenantId, ...changes }), 200).body;
    expect(r).toMatchObject({ ...changes, status: 'DRAFT', version: 2, campaign_id: c.campaign_id, created_at: c.created_at });
  });

  it('clears start_time and end_time with null', async () => {
    const t = await (await testApp()).newTenant();
    const c = await newCampaign(t);
    const r = must(await t.call('PUT', `/v1/campaigns/${c.campaign_id}`, { start_time: null, end_time: null, form_fields: null }), 200).body;
    expect(r).toMatchObject({ start_time: null, end_time: null, form_fields: null, version: 2 });
  });

  it('checks the window after merging with the stored times: 400 on end_time, nothing changes', async () => {
    const t = await (await testApp()).newTenant();
    const c = await newCampaign(t, { start_time: '2030-01-01T00:00:00Z', end_time: '2030-06-01T00:00:00Z' });
    const url = `/v1/campaigns/${c.campaign_id}`;
    expectError(await t.call('PUT', url, { end_time: '2029-12-31T00:00:00Z' }), 400, 'invalid_request', { field: 'end_time' });
    expectError(await t.call('PUT', url, { start_time: '2030-06-01T00:00:00Z' }), 400, 'invalid_request', { field: 'end_time' });
    expectError(await t.call('PUT', url, { start_time: '2030-07-01T00:00:00Z', campaign_name: 'x' }), 400, 'invalid_request', {
      field: 'end_time',
    });
    expect(must(await t.call('GET', url), 200).body).toEqual(c);
    // Moving both together is fine.
    must(await t.call('PUT', url, { start_time: '2030-07-01T00:00:00Z', end_time: '2030-08-01T00:00:00Z' }), 200);
  });

  it('refuses invalid fields like create does: 400 invalid_request naming the field', async () => {
    const t = await (await testApp()).newTenant();
    const c = await newCampaign(t);
    const url = `/v1/campaigns/${c.campaign_id}`;
    expectError(await t.call('PUT', url, { campaign_name: '' }), 400, 'invalid_request', { field: 'campaign_name' });
    expectError(await t.call('PUT', url, { campaign_type: 'NOPE' }), 400, 'invalid_request', { field: 'campaign_type' });
    expectError(await t.call('PUT', url, { status: 'ACTIVE' }), 400, 'invalid_request', { field: 'status' });
    expectError(await t.call('PUT', url, { metadata: '5' }), 400, 'invalid_request', { field: 'metadata' });
    expectError(await t.call('PUT', url, { metadata: { blob: 'm'.repeat(16 * 1024) } }), 400, 'invalid_request', { field: 'metadata' });
    expectError(await t.call('PUT', url, { form_fields: { type: 'array' } }), 400, 'invalid_request', { field: 'form_fields' });
    expectError(await t.call('PUT', url, { form_fields: { type: 'object', properties: 5 } }), 400, 'invalid_request', {
      field: 'form_fields',
    });
    expectError(await t.call('PUT', url, { start_time: 'soon' }), 400, 'invalid_request', { field: 'start_time' });
    expectError(await t.call('PUT', url, undefined, { payload: '{"campaign_name":' }), 400, 'invalid_json');
    expect(must(await t.call('GET', url), 200).body).toEqual(c);
  });

  it('refuses an empty body {}: 400 invalid_request', async () => {
    const t = await (await testApp()).newTenant();
    const c = await newCampaign(t);
    expectError(await t.call('PUT', `/v1/campaigns/${c.campaign_id}`, {}), 400, 'invalid_request');
    expect(must(await t.call('GET', `/v1/campaigns/${c.campaign_id}`), 200).body.version).toBe(1);
  });

  it('refuses a tenant_id of another tenant: 403 tenant_mismatch', async () => {
    const app = await testApp();
    const [t, other] = [await app.newTenant(), await app.newTenant()];
    const c = await newCampaign(t);
    expectError(await t.call('PUT', `/v1/campaigns/${c.campaign_id}`, { tenant_id: other.tenantId, campaign_name: 'x' }), 403, 'tenant_mismatch');
    expect(must(await t.call('GET', `/v1/campaigns/${c.campaign_id}`), 200).body).toEqual(c);
  });

  it('moves a DRAFT to another existing app of the tenant', async () => {
    const t = await (await testApp()).newTenant({ productCodes: ['app1', 'app2'] });
    const c = await newCampaign(t, { product_code: 'app1' });
    const r = must(await t.call('PUT', `/v1/campaigns/${c.campaign_id}`, { product_code: 'app2' }), 200).body;
    expect(r.product_code).toBe('app2');
    expect(ids(await list(t, { product_code: 'app2' }))).toEqual([c.campaign_id]);
    expect(ids(await list(t, { product_code: 'app1' }))).toEqual([]);
  });

  it('refuses to move a DRAFT to an app that does not exist: 400 unknown_product_code', async () => {
    const t = await (await testApp()).newTenant();
    const c = await newCampaign(t);
    expectError(await t.call('PUT', `/v1/campaigns/${c.campaign_id}`, { product_code: 'ghost' }), 400, 'unknown_product_code', {
      field: 'product_code',
    });
    expect(must(await t.call('GET', `/v1/campaigns/${c.campaign_id}`), 200).body).toEqual(c);
  });

  it('locks product_code once published: 409 campaign_field_locked; other fields still change', async () => {
    const t = await (await testApp()).newTenant({ productCodes: ['app1', 'app2'] });
    const c = await newCampaign(t, { product_code: 'app1' });
    const published = await act(t, c.campaign_id, 'publish');
    const url = `/v1/campaigns/${c.campaign_id}`;
    expectError(await t.call('PUT', url, { product_code: 'app2' }), 409, 'campaign_field_locked', { field: 'product_code', status: 'ACTIVE' });
    expect(must(await t.call('GET', url), 200).body).toEqual(published);
    // The same product_code is not a change.
    const r = must(await t.call('PUT', url, { product_code: 'app1', campaign_name: 'Still editable' }), 200).body;
    expect(r).toMatchObject({ product_code: 'app1', campaign_name: 'Still editable', status: 'ACTIVE', version: published.version + 1 });
    // Paused is not DRAFT either.
    await act(t, c.campaign_id, 'pause');
    expectError(await t.call('PUT', url, { product_code: 'app2' }), 409, 'campaign_field_locked', { status: 'PAUSED' });
  });

  it('refuses any change to an ARCHIVED campaign: 409 campaign_not_editable', async () => {
    const t = await (await testApp()).newTenant();
    const c = await newCampaign(t);
    const archived = await act(t, c.campaign_id, 'archive');
    const r = await t.call('PUT', `/v1/campaigns/${c.campaign_id}`, { campaign_name: 'Too late' });
    expectError(r, 409, 'campaign_not_editable', { status: 'ARCHIVED' });
    expect(must(await t.call('GET', `/v1/campaigns/${c.campaign_id}`), 200).body).toEqual(archived);
  });

  it('answers 404 campaign_not_found for an id that does not exist', async () => {
    const t = await (await testApp()).newTenant();
    expectError(await t.call('PUT', '/v1/campaigns/cmp_missing', { campaign_name: 'x' }), 404, 'campaign_not_found');
  });
});

describe('DELETE /v1/campaigns/:campaign_id', () => {
  it('deletes a DRAFT: 204, then 404 campaign_not_found and gone from the list', async () => {
    const t = await (await testApp()).newTenant();
    const keep = await newCampaign(t, { campaign_name: 'Keep' });
    const c = await newCampaign(t, { campaign_name: 'Delete me' });
    const del = await t.call('DELETE', `/v1/campaigns/${c.campaign_id}`);
    expect(del.status).toBe(204);
    expect(del.body).toBeUndefined();
    expectError(await t.call('GET', `/v1/campaigns/${c.campaign_id}`), 404, 'campaign_not_found', { campaign_id: c.campaign_id });
    const after = await list(t);
    expect(ids(after)).toEqual([keep.campaign_id]);
    expect(after.body.pagination.total).toBe(1);
    expect(ids(await list(t, { name: 'Delete me' }))).toEqual([]);
    // Gone for every other route too.
    expectError(await t.call('DELETE', `/v1/campaigns/${c.campaign_id}`), 404, 'campaign_not_found');
    expectError(await t.call('PUT', `/v1/campaigns/${c.campaign_id}`, { campaign_name: 'x' }), 404, 'campaign_not_found');
    expectError(await t.call('POST', `/v1/campaigns/${c.campaign_id}/publish`), 404, 'campaign_not_found');
  });

  it('refuses an ACTIVE campaign: 409 campaign_not_deletable, and it stays', async () => {
    const t = await (await testApp()).newTenant();
    const c = await newCampaign(t);
    const active = await act(t, c.campaign_id, 'publish');
    expect(active.status).toBe('ACTIVE');
    expectError(await t.call('DELETE', `/v1/campaigns/${c.campaign_id}`), 409, 'campaign_not_deletable', { status: 'ACTIVE' });
    expect(must(await t.call('GET', `/v1/campaigns/${c.campaign_id}`), 200).body).toEqual(active);
  });

  it('refuses SCHEDULED and PAUSED campaigns: 409 campaign_not_deletable', async () => {
    const t = await (await testApp()).newTenant();
    const scheduled = await newCampaign(t, { start_time: '2098-01-01T00:00:00Z' });
    await act(t, scheduled.campaign_id, 'publish');
    expectError(await t.call('DELETE', `/v1/campaigns/${scheduled.campaign_id}`), 409, 'campaign_not_deletable', { status: 'SCHEDULED' });
    const paused = await newCampaign(t);
    await act(t, paused.campaign_id, 'publish');
    await act(t, paused.campaign_id, 'pause');
    expectError(await t.call('DELETE', `/v1/campaigns/${paused.campaign_id}`), 409, 'campaign_not_deletable', { status: 'PAUSED' });
    expect((await list(t)).body.pagination.total).toBe(2);
  });

  it('deletes an ARCHIVED campaign: 204', async () => {
    const t = await (await testApp()).newTenant();
    const c = await newCampaign(t);
    await act(t, c.campaign_id, 'publish');
    await act(t, c.campaign_id, 'archive');
    expect((await t.call('DELETE', `/v1/campaigns/${c.campaign_id}`)).status).toBe(204);
    expectError(await t.call('GET', `/v1/campaigns/${c.campaign_id}`), 404, 'campaign_not_found');
    expect((await list(t)).body.pagination.total).toBe(0);
  });

  it('answers 404 campaign_not_found for an id that does not exist', async () => {
    const t = await (await testApp()).newTenant();
    expectError(await t.call('DELETE', '/v1/campaigns/cmp_missing'), 404, 'campaign_not_found');
  });
});

describe('GET /v1/campaigns', () => {
  it('pages newest first with {campaigns, pagination: {total, page, page_size}}', async () => {
    const clock = new ManualClock('2030-01-01T00:00:00Z');
    const app = await testApp({ clock });
    try {
      const t = await app.newTenant();
      const made: string[] = [];
      for (let i = 1; i <= 5; i++) {
        made.push((await newCampaign(t, { campaign_name: `C${i}` })).campaign_id);
        clock.advance(1000);
      }
      const newestFirst = [...made].reverse();

      const first = must(await t.call('GET', '/v1/campaigns', undefined, { query: { page_size: 2 } }), 200).body;
      expect(Object.keys(first).sort()).toEqual(['campaigns', 'pagination']);
      expect(first.pagination).toEqual({ total: 5, page: 1, page_size: 2 });
      expect(first.campaigns.map((c: { campaign_id: string }) => c.campaign_id)).toEqual(newestFirst.slice(0, 2));

      const second = must(await t.call('GET', '/v1/campaigns', undefined, { query: { page: 2, page_size: 2 } }), 200).body;
      expect(second.pagination).toEqual({ total: 5, page: 2, page_size: 2 });
      expect(second.campaigns.map((c: { campaign_name: string }) => c.campaign_name)).toEqual(['C3', 'C2']);
      expect(second.campaigns[0]).toEqual(must(await t.call('GET', `/v1/campaigns/${made[2]}`), 200).body);

      const third = must(await t.call('GET', '/v1/campaigns', undefined, { query: { page: 3, page_size: 2 } }), 200).body;
      expect(third.campaigns.map((c: { campaign_id: string }) => c.campaign_id)).toEqual([made[0]]);

      const beyond = must(await t.call('GET', '/v1/campaigns', undefined, { query: { page: 4, page_size: 2 } }), 200).body;
      expect(beyond).toEqual({ campaigns: [], pagination: { total: 5, page: 4, page_size: 2 } });

      const defaults = must(await t.call('GET', '/v1/campaigns'), 200).body;
      expect(defaults.pagination).toEqual({ total: 5, page: 1, page_size: 20 });
      expect(defaults.campaigns.map((c: { campaign_id: string }) => c.campaign_id)).toEqual(newestFirst);

      must(await t.call('GET', '/v1/campaigns', undefined, { query: { page_size: 500 } }), 200);
    } finally {
      await app.app.close();
    }
  });

  const badQueries: [string, Record<string, string | number>, string][] = [
    ['page_size 501', { page_size: 501 }, 'page_size'],
    ['page_size 0', { page_size: 0 }, 'page_size'],
    ['page 0', { page: 0 }, 'page'],
    ['page -1', { page: -1 }, 'page'],
    ['page that is not a number', { page: 'two' }, 'page'],
    ['unknown status', { status: 'RUNNING' }, 'status'],
    ['unknown campaign_type', { campaign_type: 'LOTTERY' }, 'campaign_type'],
    ['start_from that is not a date-time', { start_from: 'yesterday' }, 'start_from'],
    ['end_to that is not a date-time', { end_to: '2030-01-01' }, 'end_to'],
    ['start_from on a leap second (not representable)', { start_from: '2030-06-30T23:59:60Z' }, 'start_from'],
    ['empty name', { name: '' }, 'name'],
    ['unknown query parameter', { sort: 'name' }, 'sort'],
  ];

  it.each(badQueries)('refuses %s: 400 invalid_request', async (_label, query, field) => {
    const t = await (await testApp()).newTenant();
    const r = await t.call('GET', '/v1/campaigns', undefined, { query });
    expectError(r, 400, 'invalid_request', { field });
  });

  it('filters by status', async () => {
    const t = await (await testApp()).newTenant();
    const draft = await newCampaign(t, { campaign_name: 'draft' });
    const active = await newCampaign(t, { campaign_name: 'active' });
    await act(t, active.campaign_id, 'publish');
    const scheduled = await newCampaign(t, { campaign_name: 'scheduled', start_time: '2098-01-01T00:00:00Z' });
    await act(t, scheduled.campaign_id, 'publish');
    const paused = await newCampaign(t, { campaign_name: 'paused' });
    await act(t, paused.campaign_id, 'publish');
    await act(t, paused.campaign_id, 'pause');
    const archived = await newCampaign(t, { campaign_name: 'archived' });
    await act(t, archived.campaign_id, 'archive');

    const expected: Record<string, string[]> = {
      DRAFT: [draft.campaign_id],
      ACTIVE: [active.campaign_id],
      SCHEDULED: [scheduled.campaign_id],
      PAUSED: [paused.campaign_id],
      ARCHIVED: [archived.campaign_id],
      ENDED: [],
    };
    for (const [status, want] of Object.entries(expected)) {
      const r = await list(t, { status });
      expect(ids(r), status).toEqual(want);
      expect(r.body.pagination.total, status).toBe(want.length);
      expect(r.body.campaigns.every((c: { status: string }) => c.status === status)).toBe(true);
    }
  });

  it('filters by campaign_type', async () => {
    const t = await (await testApp()).newTenant();
    const coupon = await newCampaign(t, { campaign_type: 'COUPON' });
    const coupon2 = await newCampaign(t, { campaign_type: 'COUPON' });
    await newCampaign(t, { campaign_type: 'TASK' });
    const r = await list(t, { campaign_type: 'COUPON' });
    expect(sorted(ids(r))).toEqual(sorted([coupon.campaign_id, coupon2.campaign_id]));
    expect(r.body.pagination.total).toBe(2);
    expect(ids(await list(t, { campaign_type: 'REFERRAL' }))).toEqual([]);
  });

  it('filters by product_code from the query or the X-Product-Code header', async () => {
    const t = await (await testApp()).newTenant({ productCodes: ['app1', 'app2'] });
    const one = await newCampaign(t, { product_code: 'app1' });
    const two = await newCampaign(t, { product_code: 'app2' });
    expect(ids(await list(t, { product_code: 'app2' }))).toEqual([two.campaign_id]);
    expect(ids(await list(t, { product_code: 'app1' }))).toEqual([one.campaign_id]);
    expect(ids(await list(t, {}, { 'x-product-code': 'app1' }))).toEqual([one.campaign_id]);
    expect(ids(await list(t, {}, { 'x-product-code': 'app2' }))).toEqual([two.campaign_id]);
    expect(ids(await list(t, { product_code: 'app9' }))).toEqual([]);
    expect((await list(t)).body.pagination.total).toBe(2);
  });

  it('filters by name: case-insensitive substring, with % _ and \\ matched literally', async () => {
    const t = await (await testApp()).newTenant();
    const names = ['Summer SALE', 'summer sale 2', 'Winter', '100% off', '100 off', 'a_b', 'axb', 'back\\slash', 'backslash'];
    const byName: Record<string, string> = {};
    for (const name of names) byName[name] = (await newCampaign(t, { campaign_name: name })).campaign_id;
    const cases: [string, string[]][] = [
      ['sale', ['Summer SALE', 'summer sale 2']],
      ['SUMMER', ['Summer SALE', 'summer sale 2']],
      ['winter', ['Winter']],
      ['%', ['100% off']],
      ['100%', ['100% off']],
      ['0 o', ['100 off']],
      ['_', ['a_b']],
      ['a_b', ['a_b']],
      ['\\', ['back\\slash']],
      ['k\\s', ['back\\slash']],
      ['nothing like it', []],
    ];
    for (const [query, want] of cases) {
      const r = await list(t, { name: query });
      expect(sorted(ids(r)), `name=${query}`).toEqual(sorted(want.map((n) => byName[n]!)));
      expect(r.body.pagination.total, `name=${query}`).toBe(want.length);
    }
  });

  it('filters by start_from / start_to / end_from / end_to (from inclusive, to exclusive)', async () => {
    const t = await (await testApp()).newTenant();
    const jan = await newCampaign(t, { start_time: '2030-01-01T00:00:00Z', end_time: '2030-02-01T00:00:00Z' });
    const feb = await newCampaign(t, { start_time: '2030-02-01T00:00:00Z', end_time: '2030-03-01T00:00:00Z' });
    const mar = await newCampaign(t, { start_time: '2030-03-01T00:00:00Z', end_time: null });
    const noStart = await newCampaign(t, { start_time: null, end_time: '2030-02-15T00:00:00Z' });
    const cases: [Record<string, string>, { campaign_id: string }[]][] = [
      [{ start_from: '2030-02-01T00:00:00Z' }, [feb, mar]],
      [{ start_to: '2030-02-01T00:00:00Z' }, [jan]],
      [{ start_from: '2030-01-15T00:00:00Z', start_to: '2030-03-01T00:00:00Z' }, [feb]],
      [{ end_from: '2030-02-15T00:00:00Z' }, [feb, noStart]],
      [{ end_to: '2030-02-15T00:00:00Z' }, [jan]],
      [{ end_from: '2030-02-01T00:00:00Z', end_to: '2030-03-01T00:00:00Z' }, [jan, noStart]],
      [{ start_from: '2030-01-01T00:00:00Z', end_from: '2030-02-01T00:00:00Z' }, [jan, feb]],
      [{ start_from: '2031-01-01T00:00:00Z' }, []],
    ];
    for (const [query, want] of cases) {
      const r = await list(t, query);
      expect(sorted(ids(r)), JSON.stringify(query)).toEqual(sorted(want.map((c) => c.campaign_id)));
      expect(r.body.pagination.total).toBe(want.length);
    }
  });

  it('combines filters, and total counts the filtered rows', async () => {
    const t = await (await testApp()).newTenant();
    const a = await newCampaign(t, { campaign_type: 'COUPON', campaign_name: 'Coupon live' });
    await act(t, a.campaign_id, 'publish');
    await newCampaign(t, { campaign_type: 'COUPON', campaign_name: 'Coupon draft' });
    const c = await newCampaign(t, { campaign_type: 'TASK', campaign_name: 'Task live' });
    await act(t, c.campaign_id, 'publish');
    const r = await list(t, { status: 'ACTIVE', campaign_type: 'COUPON', name: 'coupon', page_size: 1 });
    expect(ids(r)).toEqual([a.campaign_id]);
    expect(r.body.pagination).toEqual({ total: 1, page: 1, page_size: 1 });
  });
});

describe('readonly key', () => {
  it('cannot create, update, delete, publish, pause, resume or archive: 403 read_only_key', async () => {
    const t = await (await testApp()).newTenant();
    const c = await newCampaign(t);
    const ro = { key: t.readonly };
    expectError(await t.call('POST', '/v1/campaigns', campaignBody(), ro), 403, 'read_only_key', { key_role: 'readonly' });
    expectError(await t.call('PUT', `/v1/campaigns/${c.campaign_id}`, { campaign_name: 'x' }, ro), 403, 'read_only_key');
    expectError(await t.call('DELETE', `/v1/campaigns/${c.campaign_id}`, undefined, ro), 403, 'read_only_key');
    for (const action of ['publish', 'pause', 'resume', 'archive']) {
      expectError(await t.call('POST', `/v1/campaigns/${c.campaign_id}/${action}`, undefined, ro), 403, 'read_only_key');
    }
    // Nothing changed, and nothing was created.
    expect(must(await t.call('GET', `/v1/campaigns/${c.campaign_id}`), 200).body).toEqual(c);
    expect((await list(t)).body.pagination.total).toBe(1);
  });

  it('can list and get', async () => {
    const t = await (await testApp()).newTenant();
    const c = await newCampaign(t);
    const ro = { key: t.readonly };
    expect(must(await t.call('GET', `/v1/campaigns/${c.campaign_id}`, undefined, ro), 200).body).toEqual(c);
    const r = must(await t.call('GET', '/v1/campaigns', undefined, { ...ro, query: { status: 'DRAFT' } }), 200);
    expect(ids(r)).toEqual([c.campaign_id]);
  });
});
