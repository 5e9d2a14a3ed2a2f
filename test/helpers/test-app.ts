import { randomBytes } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { buildApp } from '../../src/app/build-app.js';
import type { Api } from '../../src/platform/http/types.js';
import { loadConfig } from '../../src/config/load.js';
import type { DatabaseHandle } from '../../src/db/client.js';
import type { Clock } from '../../src/platform/clock.js';
import { hashSecret } from '../../src/platform/secrets.js';
import { testDatabase } from './database.js';

export const TEST_MASTER_KEY = 'test-master-key-0123456789abcdef';

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Record<string, string | number | string[] | undefined>;
}

export interface CallOptions {
  key?: string | null;
  headers?: Record<string, string>;
  query?: Record<string, string | number | boolean>;
  /** Raw payload (for malformed JSON tests); `body` is JSON-encoded otherwise. */
  payload?: string;
}

export interface TestApp {
  app: Api;
  database: DatabaseHandle;
  master: string;
  call<T = any>(method: InjectOptions['method'], url: string, body?: unknown, options?: CallOptions): Promise<Reply<T>>;
  /** A new tenant with an app and admin / service / readonly keys: each test gets its own. */
  newTenant(options?: { productCodes?: string[] }): Promise<TenantFixture>;
}

export interface TenantFixture {
  tenantId: string;
  productCode: string;
  productCodes: string[];
  admin: string;
  service: string;
  readonly: string;
  call<T = any>(method: InjectOptions['method'], url: string, body?: unknown, options?: CallOptions): Promise<Reply<T>>;
}

const apps = new Map<string, Promise<TestApp>>();

/** The worker's shared app (system clock), or a new one over the same database with `clock`. */
export function testApp(options: { clock?: Clock } = {}): Promise<TestApp> {
  if (options.clock) return createTestApp(options.clock);
  let app = apps.get('default');
  if (!app) {
    app = createTestApp(undefined);
    apps.set('default', app);
  }
  return app;
}

async function createTestApp(clock: Clock | undefined): Promise<TestApp> {
  const database = await testDatabase();
  const config = loadConfig({ env: {}, file: null, overrides: { 'log.level': 'silent', 'auth.key_cache_seconds': 0, 'webhooks.allow_private_networks': true } });
  const app = await buildApp({ config, database, masterKeyHash: hashSecret(TEST_MASTER_KEY), logger: false, ...(clock ? { clock } : {}) });
  await app.ready();

  const call: TestApp['call'] = async (method, url, body, options = {}) => {
    const key = options.key === undefined ? TEST_MASTER_KEY : options.key;
    const headers: Record<string, string> = { ...options.headers };
    if (key) headers.authorization = `Bearer ${key}`;
    let payload: string | undefined = options.payload;
    if (payload === undefined && body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined) headers['content-type'] ??= 'application/json';
    const res = await app.inject({ method, url, headers, ...(payload !== undefined ? { payload } : {}), ...(options.query ? { query: stringify(options.query) } : {}) });
    let parsed: unknown = res.body;
    try {
      parsed = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      // not JSON (metrics, docs): keep the text
    }
    return { status: res.statusCode, body: parsed as any, headers: res.headers };
  };

  const testApp: TestApp = {
    app,
    database,
    master: TEST_MASTER_KEY,
    call,
    async newTenant(options = {}) {
      const tenantId = `t_${randomBytes(6).toString('hex')}`;
      must(await call('POST', '/v1/tenants', { tenant_id: tenantId, name: `Tenant ${tenantId}` }), 201);
      const admin = must(await call('POST', `/v1/tenants/${tenantId}/api-keys`, { name: 'admin', role: 'admin' }), 201).body.key as string;
      const productCodes = options.productCodes ?? ['app1'];
      for (const code of productCodes) {
        must(await call('POST', '/v1/apps', { product_code: code, name: `App ${code}` }, { key: admin }), 201);
      }
      const service = must(await call('POST', `/v1/tenants/${tenantId}/api-keys`, { name: 'svc', role: 'service' }), 201).body.key as string;
      const readonly = must(await call('POST', `/v1/tenants/${tenantId}/api-keys`, { name: 'ro', role: 'readonly' }), 201).body.key as string;
      return {
        tenantId,
        productCode: productCodes[0]!,
        productCodes,
        admin,
        service,
        readonly,
        call: (method, url, body, opts = {}) => call(method, url, body, { ...opts, key: opts.key === undefined ? service : opts.key }),
      };
    },
  };
  return testApp;
}

function stringify(query: Record<string, string | number | boolean>): Record<string, string> {
  return Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)]));
}

/** Asserts a status, with the body in the message when it differs (so failures explain themselves). */
export function must<T extends Reply>(reply: T, status: number): T {
  if (reply.status !== status) {
    throw new Error(`expected HTTP ${status}, got ${reply.status}: ${JSON.stringify(reply.body)}`);
  }
  return reply;
}
