import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresAdapter,
  PostgresDialect,
  PostgresIntrospector,
  PostgresQueryCompiler,
} from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { campaignBody, newCampaign } from '../../test/helpers/factories.js';
import { must, type Reply, TEST_MASTER_KEY, testApp } from '../../test/helpers/test-app.js';
import { loadConfig } from '../config/load.js';
import type { Database, DatabaseHandle } from '../db/client.js';
import type { DB } from '../db/schema.js';
import { hashSecret } from '../platform/secrets.js';
import { buildApp } from './build-app.js';
import type { Api } from '../platform/http/types.js';

/**
 * Asserts the one error body of the service: exactly `{error: {code, message, details}, requestId}`,
 * with the request id also in the x-request-id header.
 */
function expectRefusal(reply: Reply, status: number, code: string) {
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  expect(reply.body, 'error body').toBeTypeOf('object');
  expect(Object.keys(reply.body).sort()).toEqual(['error', 'requestId']);
  expect(Object.keys(reply.body.error).sort()).toEqual(['code', 'details', 'message']);
  expect(reply.body.error.code).toBe(code);
  expect(reply.body.error.message).toEqual(expect.any(String));
  expect(reply.body.error.message.length).toBeGreaterThan(0);
  expect(reply.body.error.details).toBeTypeOf('object');
  expect(Array.isArray(reply.body.error.details)).toBe(false);
  expect(reply.body.error.details).not.toBeNull();
  expect(reply.body.requestId).toEqual(expect.any(String));
  expect(reply.headers['x-request-id']).toBe(reply.body.requestId);
  expect(String(reply.headers['content-type'])).toMatch(/^application\/json/);
  return reply.body.error as { code: string; message: string; details: Record<string, unknown> };
}

const countCampaigns = async (t: { call: (m: 'GET', u: string) => Promise<Reply> }) =>
  must(await t.call('GET', '/v1/campaigns'), 200).body.pagination.total as number;

/** Every route of an app, from Fastify's route tree: `{ method, path }`, with `:param` kept. */
function routesOf(api: Api): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  const stack: string[] = [];
  for (const line of api.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^(.*?)[├└]── (.*?)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) continue;
    const depth = [...m[1]!].length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    const path = stack.join('');
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) out.push({ method, path });
  }
  return out;
}

/** The application over a database that cannot answer (closed, or failing every query). */
async function appOver(db: Database): Promise<Api> {
  const database: DatabaseHandle = {
    db,
    kind: 'postgres',
    location: 'broken',
    execScript: async () => {
      throw new Error('not used');
    },
    close: async () => {},
  };
  const config = loadConfig({ env: {}, file: null, overrides: { 'log.level': 'silent', 'auth.key_cache_seconds': 0 } });
  const api = await buildApp({ config, database, masterKeyHash: hashSecret(TEST_MASTER_KEY), logger: false });
  await api.ready();
  return api;
}

/** A database handle whose Kysely instance has been closed: every query throws. */
async function closedDatabase(): Promise<Database> {
  // Never connects: the pool is lazy, and the instance is destroyed before first use.
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none' }) }) });
  await db.destroy();
  return db;
}

const LEAKY_SQL_MARKER = 'SECRET_TABLE_DETAIL';

/** A database whose every query fails with an error carrying the SQL text and a stack, as drivers do. */
function failingDatabase(): Database {
  const fail = (query: CompiledQuery): never => {
    const err = new Error(`relation "${LEAKY_SQL_MARKER}" is broken while running: ${query.sql}`);
    Object.assign(err, { code: 'XX000', severity: 'ERROR', query: query.sql });
    throw err;
  };
  const connection: DatabaseConnection = {
    executeQuery: async (query) => fail(query),
    streamQuery: (query) => fail(query),
  };
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: async () => {},
    commitTransaction: async () => {},
    rollbackTransaction: async () => {},
    releaseConnection: async () => {},
    destroy: async () => {},
  };
  return new Kysely<DB>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
}

async function inject(api: Api, method: 'GET' | 'POST', url: string, key: string | null, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await api.inject({ method, url, headers, ...(body !== undefined ? { payload: JSON.stringify(body) } : {}) });
  let parsed: unknown = res.body;
  try {
    parsed = JSON.parse(res.body);
  } catch {
    // keep the text
  }
  return { status: res.statusCode, body: parsed, headers: res.headers };
}

function expectNoInternals(reply: Reply) {
  const text = JSON.stringify(reply.body);
  expect(text).not.toContain(LEAKY_SQL_MARKER);
  expect(text).not.toMatch(/\bselect\b|\binsert\b|\bfrom "/i);
  expect(text).not.toMatch(/\bat .*\.(ts|js):\d+/);
  expect(text).not.toContain('stack');
  expect(text).not.toContain('destroyed');
  expect(text).not.toContain('node_modules');
}

describe('health and readiness', () => {
  it('GET /health answers UP without a key', async () => {
    const app = await testApp();
    await app.newTenant();
    const reply = must(await app.call('GET', '/health', undefined, { key: null }), 200);
    expect(reply.body).toEqual({ status: 'UP', service: 'marketing-hub' });
  });

  it('GET /ready answers 200 with the database UP, without a key', async () => {
    const app = await testApp();
    await app.newTenant();
    const reply = must(await app.call('GET', '/ready', undefined, { key: null }), 200);
    expect(reply.body).toEqual({ status: 'READY', checks: { database: 'UP' } });
  });

  it('GET /ready answers 503 with the database DOWN when the database is closed', async () => {
    const app = await testApp();
    await app.newTenant();
    const api = await appOver(await closedDatabase());
    try {
      const ready = await inject(api, 'GET', '/ready', null);
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual({ status: 'NOT_READY', checks: { database: 'DOWN' } });
      // Liveness does not depend on the database.
      expect((await inject(api, 'GET', '/health', null)).status).toBe(200);
    } finally {
      await api.close();
    }
  });
});

describe('GET /metrics', () => {
  it('serves Prometheus text without a key: HTTP histograms by route pattern, module counters, process metrics', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const campaign = await newCampaign(t);
    must(await t.call('GET', `/v1/campaigns/${campaign.campaign_id}`), 200);

    const reply = must(await app.call('GET', '/metrics', undefined, { key: null }), 200);
    expect(String(reply.headers['content-type'])).toMatch(/^text\/plain/);
    const text = reply.body as string;
    expect(typeof text).toBe('string');
    const buckets = text.split('\n').filter((l) => l.startsWith('http_request_duration_seconds_bucket{'));
    expect(buckets.some((l) => l.includes('route="/v1/campaigns"') && l.includes('method="POST"') && l.includes('status_code="201"'))).toBe(
      true,
    );
    // Route patterns, never raw URLs with ids in them.
    expect(buckets.some((l) => l.includes('route="/v1/campaigns/:campaign_id"'))).toBe(true);
    expect(text).not.toContain(campaign.campaign_id);
    expect(text).toMatch(/^marketing_campaign_created_total\{campaign_type="PROMOTION"\} [1-9]\d*$/m);
    expect(text).toMatch(/^process_cpu_\w+ /m);
  });
});

describe('OpenAPI and docs', () => {
  const expected: [string, string[]][] = [
    ['/v1/tenants', ['get', 'post']],
    ['/v1/tenants/{tenant_id}', ['get', 'put']],
    ['/v1/tenants/{tenant_id}/code-quota', ['delete', 'get', 'put']],
    ['/v1/partner/campaigns', ['post']],
    ['/v1/tenants/{tenant_id}/api-keys', ['get', 'post']],
    ['/v1/tenants/{tenant_id}/api-keys/{key_id}', ['delete']],
    ['/v1/apps', ['get', 'post']],
    ['/v1/apps/{product_code}', ['get', 'put']],
    ['/v1/apps/{product_code}/publishable-keys', ['get', 'post']],
    ['/v1/apps/{product_code}/publishable-keys/{key_id}', ['delete']],
    ['/v1/apps/{product_code}/user-token-keys', ['get', 'post']],
    ['/v1/apps/{product_code}/user-token-keys/{kid}', ['delete']],
    ['/v1/campaigns', ['get', 'post']],
    ['/v1/campaigns/{campaign_id}', ['delete', 'get', 'put']],
    ['/v1/campaigns/{campaign_id}/publish', ['post']],
    ['/v1/campaigns/{campaign_id}/pause', ['post']],
    ['/v1/campaigns/{campaign_id}/resume', ['post']],
    ['/v1/campaigns/{campaign_id}/archive', ['post']],
    ['/v1/rewards', ['get', 'post']],
    ['/v1/rewards/{reward_id}', ['delete', 'get', 'put']],
    ['/v1/inventory/reserve', ['post']],
    ['/v1/inventory/{reservation_id}/confirm', ['post']],
    ['/v1/inventory/{reservation_id}/cancel', ['post']],
    ['/v1/inventory/reservations', ['get']],
    ['/v1/reward-grants', ['get', 'post']],
    ['/v1/reward-grants/check', ['post']],
    ['/v1/reward-grants/batch', ['post']],
    ['/v1/reward-grants/{grant_id}', ['get']],
    ['/v1/reward-grants/{grant_id}/status', ['put']],
    ['/v1/reward-grants/{grant_id}/retry-delivery', ['post']],
    ['/v1/users/{user_id}/balances', ['get']],
    ['/v1/users/{user_id}/ledger', ['get']],
    ['/v1/users/{user_id}/ledger/debit', ['post']],
    ['/v1/users/{user_id}/ledger/adjust', ['post']],
    ['/v1/campaigns/{campaign_id}/redeem-codes', ['post']],
    ['/v1/redeem-code-batches', ['get']],
    ['/v1/redeem-code-batches/{batch_id}', ['get']],
    ['/v1/redeem-code-batches/{batch_id}/void', ['post']],
    ['/v1/redeem-codes', ['get']],
    ['/v1/redeem-codes/export', ['get']],
    ['/v1/redeem-codes/{code}', ['get']],
    ['/v1/redeem-codes/{code}/assign', ['post']],
    ['/v1/redeem-codes/{code}/void', ['post']],
    ['/v1/redeem', ['post']],
    ['/v1/redeem-code-batches/{batch_id}/assign-next', ['post']],
    ['/api/redeem', ['post']],
    ['/v1/redemptions', ['get']],
    ['/v1/customers', ['get']],
    ['/v1/customers/{user_id}', ['delete', 'get', 'put']],
    ['/v1/customers/{user_id}/tags', ['post']],
    ['/v1/customers/import', ['post']],
    ['/v1/audiences', ['get', 'post']],
    ['/v1/audiences/preview', ['post']],
    ['/v1/audiences/{audience_id}', ['delete', 'get', 'put']],
    ['/v1/audiences/{audience_id}/members', ['delete', 'get', 'post']],
    ['/v1/audiences/{audience_id}/members/import', ['post']],
    ['/v1/audiences/{audience_id}/count', ['get']],
    ['/v1/audiences/{audience_id}/preview', ['get']],
    ['/v1/tasks', ['get', 'post']],
    ['/v1/tasks/{task_id}', ['delete', 'get', 'put']],
    ['/v1/tasks/trigger', ['post']],
    ['/v1/tasks/trigger/batch', ['post']],
    ['/v1/tasks/{task_id}/completion-stats', ['get']],
    ['/v1/task-completion-logs', ['get']],
    ['/v1/users/{user_id}/tasks', ['get']],
    ['/v1/campaigns/{campaign_id}/tasks', ['get', 'post']],
    ['/v1/campaigns/{campaign_id}/tasks/{task_id}', ['delete']],
    ['/v1/outreach/templates', ['get', 'post']],
    ['/v1/outreach/templates/{template_id}', ['delete', 'get', 'put']],
    ['/v1/outreach/templates/preview', ['post']],
    ['/v1/outreach/templates/{template_id}/preview', ['post']],
    ['/v1/outreach/campaigns', ['get', 'post']],
    ['/v1/outreach/campaigns/{campaign_id}', ['get', 'put']],
    ['/v1/outreach/campaigns/{campaign_id}/archive', ['post']],
    ['/v1/outreach/campaigns/{campaign_id}/trigger', ['post']],
    ['/v1/outreach/campaigns/{campaign_id}/stats', ['get']],
    ['/v1/outreach/runs', ['get']],
    ['/v1/outreach/runs/{run_id}', ['get']],
    ['/v1/outreach/runs/{run_id}/pause', ['post']],
    ['/v1/outreach/runs/{run_id}/resume', ['post']],
    ['/v1/outreach/runs/{run_id}/cancel', ['post']],
    ['/v1/outreach/records', ['get']],
    ['/v1/outreach/records/export', ['get']],
    ['/v1/outreach/records/{record_id}', ['get']],
    ['/v1/outreach/providers', ['get', 'post']],
    ['/v1/outreach/providers/{provider_id}', ['delete', 'get', 'put']],
    ['/v1/outreach/settings', ['get', 'put']],
    ['/v1/outreach/callbacks/{provider_id}/status', ['post']],
    ['/v1/outreach/callbacks/{provider_id}/inbound', ['post']],
    ['/v1/group-buys/activities', ['get', 'post']],
    ['/v1/group-buys/activities/{activity_id}', ['get', 'put']],
    ['/v1/group-buys/activities/{activity_id}/stats', ['get']],
    ['/v1/group-buys/activities/{activity_id}/end', ['post']],
    ['/v1/group-buys/activities/{activity_id}/groups', ['get', 'post']],
    ['/v1/group-buys/groups/{group_id}', ['get']],
    ['/v1/group-buys/groups/{group_id}/join', ['post']],
    ['/v1/coupons/templates', ['get', 'post']],
    ['/v1/coupons/templates/{coupon_template_id}', ['get', 'put']],
    ['/v1/coupons/templates/{coupon_template_id}/disable', ['post']],
    ['/v1/coupons/templates/{coupon_template_id}/claim', ['post']],
    ['/v1/coupons/templates/{coupon_template_id}/issue', ['post']],
    ['/v1/coupons/templates/{coupon_template_id}/stats', ['get']],
    ['/v1/coupons', ['get']],
    ['/v1/coupons/available', ['get', 'post']],
    ['/v1/coupons/{coupon_id}', ['get']],
    ['/v1/coupons/{coupon_id}/void', ['post']],
    ['/v1/coupons/{coupon_id}/lock', ['post']],
    ['/v1/coupons/{coupon_id}/commit', ['post']],
    ['/v1/coupons/{coupon_id}/release', ['post']],
    ['/v1/coupons/{coupon_id}/refund', ['post']],
    ['/v1/promotions', ['get', 'post']],
    ['/v1/promotions/{promotion_id}', ['get', 'put']],
    ['/v1/promotions/{promotion_id}/end', ['post']],
    ['/v1/promotions/{promotion_id}/eligibility', ['post']],
    ['/v1/promotions/{promotion_id}/discount', ['post']],
    ['/v1/promotions/{promotion_id}/reserve', ['post']],
    ['/v1/promotions/{promotion_id}/commit', ['post']],
    ['/v1/promotions/{promotion_id}/release', ['post']],
    ['/v1/promotions/{promotion_id}/refund', ['post']],
    ['/v1/checkout/quote', ['post']],
    ['/v1/checkout/orders', ['post']],
    ['/v1/checkout/orders/{order_id}', ['get']],
    ['/v1/checkout/orders/{order_id}/commit', ['post']],
    ['/v1/checkout/orders/{order_id}/release', ['post']],
    ['/v1/checkout/orders/{order_id}/refund', ['post']],
    ['/v1/checkout/stats', ['get']],
    ['/v1/posters', ['post']],
    ['/api/v1/qrcode/generate', ['post']],
    ['/v1/auth/wechat', ['post']],
    ['/api/v1/auth/wechat', ['post']],
    ['/v1/wechat/apps/{app_id}', ['get', 'put']],
    ['/v1/payments/wechat-pay', ['delete', 'get', 'put']],
    ['/v1/media', ['get', 'post']],
    ['/v1/campaigns/{campaign_id}/referral', ['get', 'put']],
    ['/v1/campaigns/{campaign_id}/funnel', ['get']],
    ['/v1/referrals/rewards/balance/{userId}', ['get']],
    ['/v1/referrals/rewards/{userId}', ['get']],
    // The referral landing page's keyless paths (the product document's).
    ['/api/v1/campaigns/{id}/form', ['get']],
    ['/api/v1/campaigns/{id}/views', ['post']],
    ['/api/v1/orders', ['post']],
    ['/api/v1/orders/{id}', ['get']],
    ['/api/v1/orders/{id}/pay', ['post']],
    ['/api/v1/orders/{id}/sandbox-pay', ['post']],
    ['/api/v1/orders/payment/callback', ['post']],
    ['/api/v1/orders/payment/notify', ['post']],
    ['/api/v1/rewards/balance/{userId}', ['get']],
    ['/api/v1/rewards/{userId}', ['get']],
    // The document's campaign paths (tenant key).
    ['/api/v1/campaigns', ['get', 'post']],
    ['/api/v1/campaigns/{id}', ['delete', 'get', 'put']],
    ['/v1/referrals/withdrawals', ['get', 'post']],
    ['/v1/referrals/withdrawals/{withdrawal_id}', ['get']],
    ['/v1/referrals/withdrawals/{withdrawal_id}/approve', ['post']],
    ['/v1/referrals/withdrawals/{withdrawal_id}/reject', ['post']],
    ['/api/v1/rewards/withdraw', ['post']],
    ['/v1/referrals/orders/{order_id}/refund', ['post']],
    ['/v1/referrals/orders', ['get']],
    ['/v1/referrals/orders/{order_id}', ['get']],
    ['/v1/sync/targets', ['get', 'post']],
    ['/v1/sync/targets/{target_id}', ['delete', 'get', 'put']],
    ['/v1/sync/targets/{target_id}/check', ['post']],
    ['/v1/sync/status/{order_id}', ['get']],
    ['/v1/sync/retry/{order_id}', ['post']],
    ['/v1/sync/records', ['get']],
    // The product document's sync paths (tenant keys, like /v1).
    ['/api/v1/sync/status/{orderId}', ['get']],
    ['/api/v1/sync/retry/{orderId}', ['post']],
    // The product document's own paths (tenant keys, like /v1).
    ['/api/marketing/campaigns', ['get', 'post']],
    ['/api/marketing/campaigns/{id}', ['get', 'put']],
    ['/api/marketing/campaigns/{id}/trigger', ['post']],
    ['/api/marketing/campaigns/{id}/archive', ['post']],
    ['/api/marketing/records', ['get']],
    // The admin console's sign-in (cookie sessions), its operators and the audit log.
    ['/v1/console/session', ['delete', 'get', 'post']],
    ['/v1/console/password', ['post']],
    ['/v1/operators', ['get', 'post']],
    ['/v1/operators/{operator_id}', ['delete', 'get', 'patch']],
    ['/v1/audit-log', ['get']],
  ];
  const isApi = (path: string) => path.startsWith('/v1/') || path.startsWith('/api/');

  it('GET /openapi.json documents every /v1 and /api route of the app', async () => {
    const app = await testApp();
    await app.newTenant();
    const doc = must(await app.call('GET', '/openapi.json', undefined, { key: null }), 200).body;
    expect(String(doc.openapi)).toMatch(/^3\./);
    expect(doc.info).toMatchObject({ title: 'marketing-hub' });

    const documented = Object.keys(doc.paths).filter(isApi);
    for (const [path, methods] of expected) {
      expect(documented, path).toContain(path);
      expect(Object.keys(doc.paths[path]).filter((m) => m !== 'parameters').sort(), path).toEqual(methods);
    }
    expect(documented.sort()).toEqual(expected.map(([p]) => p).sort());

    // And nothing registered under /v1 or /api is missing from the document.
    const routes = routesOf(app.app).filter((r) => isApi(r.path) && r.method !== 'HEAD');
    expect(routes.length).toBeGreaterThanOrEqual(expected.flatMap(([, methods]) => methods).length);
    for (const route of routes) {
      const path = route.path.replace(/:([A-Za-z_]+)/g, '{$1}');
      expect(doc.paths[path]?.[route.method.toLowerCase()], `${route.method} ${path}`).toBeDefined();
    }
  });

  it('documents request bodies and the bearer security scheme', async () => {
    const app = await testApp();
    await app.newTenant();
    const doc = must(await app.call('GET', '/openapi.json', undefined, { key: null }), 200).body;
    const bodies: [string, string, string[]][] = [
      ['/v1/tenants', 'post', ['tenant_id', 'name']],
      ['/v1/tenants/{tenant_id}/api-keys', 'post', ['name', 'role', 'product_codes']],
      ['/v1/apps', 'post', ['product_code', 'name']],
      ['/v1/apps/{product_code}', 'put', ['name']],
      ['/v1/campaigns', 'post', ['campaign_name', 'campaign_type', 'product_code', 'start_time', 'end_time']],
      ['/v1/campaigns/{campaign_id}', 'put', ['campaign_name']],
    ];
    for (const [path, method, fields] of bodies) {
      const schema = doc.paths[path][method].requestBody?.content?.['application/json']?.schema;
      expect(schema, `${method} ${path}`).toBeDefined();
      for (const field of fields) expect(Object.keys(schema.properties ?? {}), `${method} ${path}`).toContain(field);
    }

    const schemes = doc.components.securitySchemes as Record<string, { type: string; scheme?: string }>;
    const bearer = Object.entries(schemes).find(([, s]) => s.type === 'http' && s.scheme?.toLowerCase() === 'bearer');
    expect(bearer).toBeDefined();
    const name = bearer![0];
    // Required everywhere by default.
    expect(doc.security).toContainEqual({ [name]: [] });
  });

  it('GET /docs serves the HTML documentation', async () => {
    const app = await testApp();
    await app.newTenant();
    let url = '/docs';
    let reply = await app.call('GET', url, undefined, { key: null });
    for (let hops = 0; hops < 3 && reply.status >= 300 && reply.status < 400; hops++) {
      url = new URL(String(reply.headers.location), `http://localhost${url}`).pathname;
      reply = await app.call('GET', url, undefined, { key: null });
    }
    expect(reply.status).toBe(200);
    expect(String(reply.headers['content-type'])).toMatch(/^text\/html/);
    expect(String(reply.body)).toMatch(/<html/i);
  });
});

describe('errors', () => {
  it('answers an unknown route with 404 route_not_found', async () => {
    const app = await testApp();
    await app.newTenant();
    for (const key of [app.master, null]) {
      const reply = await app.call('GET', '/v1/nope/nothing?x=1', undefined, { key });
      const error = expectRefusal(reply, 404, 'route_not_found');
      expect(error.details).toEqual({ method: 'GET', path: '/v1/nope/nothing' });
    }
    expectRefusal(await app.call('DELETE', '/v1/apps', undefined, { key: null }), 404, 'route_not_found');
  });

  it('uses one error body shape for every kind of refusal', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const c = await newCampaign(t);
    must(await t.call('POST', `/v1/campaigns/${c.campaign_id}/publish`), 200);
    const cases: [Promise<Reply>, number, string][] = [
      [t.call('POST', '/v1/campaigns', campaignBody({ campaign_type: 'NOPE' })), 400, 'invalid_request'],
      [t.call('POST', '/v1/campaigns', undefined, { payload: '{"a":' }), 400, 'invalid_json'],
      [t.call('GET', '/v1/campaigns', undefined, { key: null }), 401, 'unauthorized'],
      [t.call('GET', '/v1/campaigns', undefined, { key: 'Basic abc' }), 401, 'unauthorized'],
      [t.call('POST', '/v1/apps', { product_code: 'x', name: 'x' }), 403, 'insufficient_role'],
      [t.call('GET', '/v1/campaigns/cmp_does_not_exist'), 404, 'campaign_not_found'],
      [t.call('GET', '/nothing-here'), 404, 'route_not_found'],
      [t.call('POST', `/v1/campaigns/${c.campaign_id}/publish`), 409, 'invalid_campaign_transition'],
      [t.call('POST', '/v1/campaigns', undefined, { payload: '<a/>', headers: { 'content-type': 'application/xml' } }), 415, 'unsupported_media_type'],
    ];
    for (const [pending, status, code] of cases) expectRefusal(await pending, status, code);
  });

  it('refuses a body over the limit: 413 payload_too_large', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const payload = JSON.stringify(campaignBody({ product_code: t.productCode, campaign_name: 'x'.repeat(2 * 1024 * 1024) }));
    expect(payload.length).toBeGreaterThan(2_000_000);
    expectRefusal(await t.call('POST', '/v1/campaigns', undefined, { payload }), 413, 'payload_too_large');
    expect(await countCampaigns(t)).toBe(0);
  });

  it('refuses a body that is not JSON: 415 unsupported_media_type', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const payload = JSON.stringify(campaignBody({ product_code: t.productCode }));
    const types = ['text/plain', 'text/plain; charset=utf-8', 'application/xml', 'application/x-www-form-urlencoded'];
    const outcomes: Record<string, string> = {};
    for (const type of types) {
      const reply = await t.call('POST', '/v1/campaigns', undefined, { payload, headers: { 'content-type': type } });
      outcomes[type] = `${reply.status} ${reply.body?.error?.code}`;
    }
    expect(outcomes).toEqual(Object.fromEntries(types.map((type) => [type, '415 unsupported_media_type'])));
    expectRefusal(
      await t.call('POST', '/v1/campaigns', undefined, { payload, headers: { 'content-type': 'text/plain' } }),
      415,
      'unsupported_media_type',
    );
    expect(await countCampaigns(t)).toBe(0);
  });

  it('refuses malformed JSON: 400 invalid_json', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    for (const payload of ['{"campaign_name": ', '{campaign_name: "x"}', 'not json']) {
      expectRefusal(await t.call('POST', '/v1/campaigns', undefined, { payload }), 400, 'invalid_json');
    }
    expect(await countCampaigns(t)).toBe(0);
  });

  it('takes an empty body with Content-Type: application/json as no body on an action', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const c = await newCampaign(t);
    const reply = await t.call('POST', `/v1/campaigns/${c.campaign_id}/publish`, undefined, {
      payload: '',
      headers: { 'content-type': 'application/json' },
    });
    must(reply, 200);
    expect(reply.body.campaign_id).toBe(c.campaign_id);
    expect(reply.body.status).not.toBe('DRAFT');
  });

  it('answers a failure of its own with 500 internal_error and no internals (SQL, stack) in the body', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const api = await appOver(failingDatabase());
    try {
      // The master key needs no database look-up, so the failure comes from the handler's query.
      const list = await inject(api, 'GET', '/v1/tenants', TEST_MASTER_KEY);
      expectRefusal(list, 500, 'internal_error');
      expect(list.body.error.details).toEqual({});
      expectNoInternals(list);

      const create = await inject(api, 'POST', '/v1/tenants', TEST_MASTER_KEY, { tenant_id: 'broken_1', name: 'Broken' });
      expectRefusal(create, 500, 'internal_error');
      expectNoInternals(create);

      // A tenant key cannot be checked without the database: that is our failure, not a 401.
      const auth = await inject(api, 'GET', '/v1/campaigns', t.service);
      expectRefusal(auth, 500, 'internal_error');
      expectNoInternals(auth);
    } finally {
      await api.close();
    }
  });

  it('answers with 500 internal_error when the database handle is closed', async () => {
    const app = await testApp();
    await app.newTenant();
    const api = await appOver(await closedDatabase());
    try {
      const reply = await inject(api, 'GET', '/v1/tenants', TEST_MASTER_KEY);
      expectRefusal(reply, 500, 'internal_error');
      expectNoInternals(reply);
    } finally {
      await api.close();
    }
  });
});

describe('x-request-id', () => {
  it('is on every response, new for each request', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const a = await app.call('GET', '/health', undefined, { key: null });
    const b = must(await t.call('GET', '/v1/campaigns'), 200);
    for (const reply of [a, b]) expect(reply.headers['x-request-id']).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  it('echoes a valid incoming x-request-id, also in error bodies', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const id = `trace-${t.tenantId}.1:2_3`;
    const ok = must(await t.call('GET', '/v1/campaigns', undefined, { headers: { 'x-request-id': id } }), 200);
    expect(ok.headers['x-request-id']).toBe(id);
    const refused = await t.call('GET', '/v1/campaigns/cmp_missing', undefined, { headers: { 'x-request-id': id } });
    expectRefusal(refused, 404, 'campaign_not_found');
    expect(refused.body.requestId).toBe(id);
  });

  it.each([
    ['spaces', 'has spaces'],
    ['129 characters', 'x'.repeat(129)],
    ['a newline-like injection', 'abc%0d%0aset-cookie'],
    ['non-ASCII', 'idé'],
  ])('replaces an incoming x-request-id with %s', async (_label, id) => {
    const app = await testApp();
    const t = await app.newTenant();
    const reply = must(await t.call('GET', '/v1/campaigns', undefined, { headers: { 'x-request-id': id } }), 200);
    expect(reply.headers['x-request-id']).not.toBe(id);
    expect(reply.headers['x-request-id']).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
  });
});
