import pg from 'pg';
import { client, runCli, type ServerProcess, startServerProcess } from '../../e2e/server-process.js';
import { metricValue } from '../../helpers/grant-helpers.js';
import { createScratchDatabase } from '../../helpers/postgres-admin.js';
import type { Reply, TenantFixture } from '../../helpers/test-app.js';

/**
 * `marketing-hub serve` as a real process over a scratch database on the machine's PostgreSQL
 * (TEST_DATABASE_URL), with the environment a fault test gives it (a private Redis, a local
 * webhook receiver). The test reads the database directly to count what really happened.
 */
export const MASTER_KEY = 'system-master-key-0123456789abcdefghij';

/** Why these tests cannot run here, or null. */
export function serviceUnavailable(): string | null {
  return process.env.TEST_DATABASE_URL ? null : 'needs TEST_DATABASE_URL (a PostgreSQL server for a scratch database)';
}

export interface SystemService {
  server: ServerProcess;
  url: string;
  /** The environment the server runs with (its DATABASE_URL included), for more processes on it. */
  env: Record<string, string>;
  /** Direct access to the scratch database, for counting rows. */
  sql: pg.Pool;
  /** A tenant with an admin and a service key and one app, driven over HTTP. */
  newTenant(): Promise<TenantFixture>;
  /** One sample of /metrics (0 when absent). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** `marketing-hub <args>` against the same database and environment. */
  cli(args: string[]): Promise<{ code: number | null; output: string }>;
  stop(): Promise<void>;
}

export async function startSystemService(env: Record<string, string>): Promise<SystemService> {
  const scratch = await createScratchDatabase(process.env.TEST_DATABASE_URL!, 'system');
  const fullEnv = { DATABASE_URL: scratch.url, MARKETING_MASTER_KEY: MASTER_KEY, MARKETING_DB_POOL_SIZE: '10', ...env };
  let server: ServerProcess;
  try {
    // Generous: on a machine shared with other test runs, a cold start (tsx, migrations) can take a minute.
    server = await startServerProcess(fullEnv, 180_000);
  } catch (err) {
    await scratch.drop().catch(() => undefined);
    throw err;
  }
  const sql = new pg.Pool({ connectionString: scratch.url, max: 2 });
  const call = client(server.url);
  return {
    server,
    url: server.url,
    env: fullEnv,
    sql,
    newTenant: () => httpTenant(call),
    async metric(name, labels = {}) {
      const res = await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(5000) });
      return metricValue(await res.text(), name, labels);
    },
    cli: (args) => runCli(args, fullEnv),
    async stop() {
      await server.stop('SIGTERM');
      await sql.end();
      await scratch.drop();
    },
  };
}

type Call = ReturnType<typeof client>;

/** The same shape as the in-process test helpers' tenant, so their fixtures work over HTTP. */
async function httpTenant(call: Call): Promise<TenantFixture> {
  const tenantId = `t_sys${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const as = async (key: string, method: string, path: string, body?: unknown) => {
    const reply = await call(method, path, { key, ...(body !== undefined ? { body } : {}) });
    if (reply.status >= 300) throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body;
  };
  await as(MASTER_KEY, 'POST', '/v1/tenants', { tenant_id: tenantId, name: 'System' });
  const admin = (await as(MASTER_KEY, 'POST', `/v1/tenants/${tenantId}/api-keys`, { name: 'admin', role: 'admin' })).key as string;
  await as(admin, 'POST', '/v1/apps', { product_code: 'app1', name: 'App' });
  const service = (await as(MASTER_KEY, 'POST', `/v1/tenants/${tenantId}/api-keys`, { name: 'svc', role: 'service' })).key as string;
  const readonly = (await as(MASTER_KEY, 'POST', `/v1/tenants/${tenantId}/api-keys`, { name: 'ro', role: 'readonly' })).key as string;
  return {
    tenantId,
    productCode: 'app1',
    productCodes: ['app1'],
    admin,
    service,
    readonly,
    async call(method, url, body, options = {}) {
      const query = options.query ? `?${new URLSearchParams(Object.fromEntries(Object.entries(options.query).map(([k, v]) => [k, String(v)])))}` : '';
      const key = options.key === undefined ? service : (options.key ?? undefined);
      const reply = await call(String(method), `${url}${query}`, {
        ...(key ? { key } : {}),
        ...(body !== undefined ? { body } : {}),
        ...(options.headers ? { headers: options.headers } : {}),
      });
      return { status: reply.status, body: reply.body, headers: Object.fromEntries(reply.headers) } as Reply;
    },
  };
}

/** `t.call` that throws on anything but a 2xx, for a scenario's set-up. */
export function okCall(t: TenantFixture): (method: string, url: string, body?: unknown) => Promise<any> {
  return async (method, url, body) => {
    const r = await t.call(method as 'POST', url, body);
    if (r.status >= 300) throw new Error(`${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
}

/**
 * A published campaign of the tenant's app and a way to add POINTS rewards to it (`body` gives
 * the reward's name, stock and config), the set-up every fault scenario starts from.
 */
export async function liveCampaign(t: TenantFixture, name: string): Promise<{ campaignId: string; reward: (body: Record<string, unknown>) => Promise<any> }> {
  const ok = okCall(t);
  const campaign = await ok('POST', '/v1/campaigns', {
    campaign_name: name,
    campaign_type: 'PROMOTION',
    product_code: t.productCode,
    start_time: '2020-01-01T00:00:00Z',
    end_time: '2099-12-31T23:59:59Z',
  });
  await ok('POST', `/v1/campaigns/${campaign.campaign_id}/publish`);
  return {
    campaignId: campaign.campaign_id,
    reward: (body) => ok('POST', '/v1/rewards', { reward_type: 'POINTS', product_code: t.productCode, campaign_id: campaign.campaign_id, ...body }),
  };
}
