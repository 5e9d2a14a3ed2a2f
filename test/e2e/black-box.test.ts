import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresUrl, testDbKind } from '../helpers/database.js';
import { createScratchDatabase } from '../helpers/postgres-admin.js';
import { client, runCli, type ServerProcess, startServerProcess } from './server-process.js';

/**
 * The "done when", run against the real `marketing-hub serve` process: two tenants, keys,
 * apps, campaigns, cross-tenant 404s, 400s with codes, idempotent retries, archive; on the
 * embedded database in the pglite project and on PostgreSQL in the postgres project.
 */
const onPostgres = testDbKind() === 'postgres';
const MASTER = 'e2e-master-key-0123456789abcdefghij';

describe(`black box on ${onPostgres ? 'PostgreSQL' : 'embedded PGlite'}`, () => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  let server: ServerProcess;
  let master: string;

  beforeAll(async () => {
    if (onPostgres) {
      const scratch = await createScratchDatabase(postgresUrl(), 'e2e');
      env = { DATABASE_URL: scratch.url, MARKETING_MASTER_KEY: MASTER };
      cleanup = scratch.drop;
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'mh-e2e-'));
      env = { MARKETING_DATA_DIR: dir };
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
    server = await startServerProcess(env);
    master = onPostgres ? MASTER : server.generatedMasterKey!;
    expect(master).toBeTruthy();
  });

  afterAll(async () => {
    await server?.stop('SIGKILL');
    await cleanup?.();
  });

  it('prints where it serves: API, docs and metrics', () => {
    expect(server.output()).toContain(`${server.url}/v1`);
    expect(server.output()).toContain(`${server.url}/docs`);
    expect(server.output()).toContain(`${server.url}/metrics`);
  });

  it('runs the whole tenant / key / app / campaign flow with walls between tenants', async () => {
    const http = client(server.url);
    expect((await http('GET', '/health')).body).toEqual({ status: 'UP', service: 'marketing-hub' });

    const setup = async (tenantId: string) => {
      expect((await http('POST', '/v1/tenants', { key: master, body: { tenant_id: tenantId, name: tenantId } })).status).toBe(201);
      const created = await http('POST', `/v1/tenants/${tenantId}/api-keys`, { key: master, body: { name: 'admin', role: 'admin' } });
      expect(created.status).toBe(201);
      const admin = created.body.key as string;
      expect((await http('POST', '/v1/apps', { key: admin, body: { product_code: 'app1', name: 'App 1' } })).status).toBe(201);
      return admin;
    };
    const a = await setup('acme');
    const b = await setup('globex');

    const body = {
      tenant_id: 'acme',
      product_code: 'app1',
      campaign_name: '双十一促销',
      campaign_type: 'PROMOTION',
      start_time: '2024-11-01T00:00:00Z',
      end_time: '2099-11-11T23:59:59Z',
    };
    const first = await http('POST', '/v1/campaigns', { key: a, body, headers: { 'idempotency-key': 'e2e-1' } });
    expect(first.status).toBe(201);
    const retry = await http('POST', '/v1/campaigns', { key: a, body, headers: { 'idempotency-key': 'e2e-1' } });
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    const reused = await http('POST', '/v1/campaigns', { key: a, body: { ...body, campaign_name: 'x' }, headers: { 'idempotency-key': 'e2e-1' } });
    expect([reused.status, reused.body.error.code]).toEqual([422, 'idempotency_key_reused']);
    const id = first.body.campaign_id as string;

    // Tenant B sees nothing of A: 404 on every route, empty list, and cannot claim A's tenant_id.
    for (const [method, path] of [
      ['GET', `/v1/campaigns/${id}`],
      ['PUT', `/v1/campaigns/${id}`],
      ['DELETE', `/v1/campaigns/${id}`],
      ['POST', `/v1/campaigns/${id}/publish`],
      ['POST', `/v1/campaigns/${id}/archive`],
    ] as const) {
      const r = await http(method, path, { key: b, ...(method === 'PUT' ? { body: { campaign_name: 'stolen' } } : {}) });
      expect([method, path, r.status, r.body.error.code]).toEqual([method, path, 404, 'campaign_not_found']);
    }
    expect((await http('GET', '/v1/campaigns', { key: b })).body.pagination.total).toBe(0);
    const claim = await http('POST', '/v1/campaigns', { key: b, body });
    expect([claim.status, claim.body.error.code]).toEqual([403, 'tenant_mismatch']);

    // Bad input is a 400 with a code and the field named.
    const bad = await http('POST', '/v1/campaigns', { key: a, body: { ...body, end_time: '2024-10-01T00:00:00Z' } });
    expect([bad.status, bad.body.error.code, bad.body.error.details.field]).toEqual([400, 'invalid_request', 'end_time']);
    const badType = await http('POST', '/v1/campaigns', { key: a, body: { ...body, campaign_type: 'LOTTERY' } });
    expect([badType.status, badType.body.error.details.field]).toEqual([400, 'campaign_type']);
    const malformed = await http('POST', '/v1/campaigns', { key: a, body: '{"campaign_name": ' });
    expect([malformed.status, malformed.body.error.code]).toEqual([400, 'invalid_json']);
    expect((await http('POST', '/v1/campaigns', { body })).status).toBe(401);

    // Lifecycle: publish (ACTIVE by window), illegal publish, archive.
    const published = await http('POST', `/v1/campaigns/${id}/publish`, { key: a });
    expect([published.status, published.body.status]).toEqual([200, 'ACTIVE']);
    const twice = await http('POST', `/v1/campaigns/${id}/publish`, { key: a });
    expect([twice.status, twice.body.error.code]).toEqual([409, 'invalid_campaign_transition']);
    const archived = await http('POST', `/v1/campaigns/${id}/archive`, { key: a });
    expect([archived.status, archived.body.status]).toEqual([200, 'ARCHIVED']);
    expect((await http('GET', `/v1/campaigns/${id}`, { key: a })).body.status).toBe('ARCHIVED');

    const metrics = await http('GET', '/metrics');
    expect(metrics.body).toContain('marketing_campaign_created_total{campaign_type="PROMOTION"} 1');
  });

  it('stops gracefully on SIGTERM', async () => {
    expect(await server.stop('SIGTERM')).toBe(0);
  });

  it.runIf(!onPostgres)('keeps its data and master key across restarts of the embedded database', async () => {
    const again = await startServerProcess(env);
    try {
      expect(again.generatedMasterKey).toBeUndefined();
      const http = client(again.url);
      const tenants = await http('GET', '/v1/tenants', { key: master });
      expect(tenants.status).toBe(200);
      expect(tenants.body.tenants.map((t: { tenant_id: string }) => t.tenant_id).sort()).toEqual(['acme', 'globex']);
    } finally {
      await again.stop();
    }
  });

  it.runIf(onPostgres)('refuses to start on PostgreSQL without a master key, saying why', async () => {
    const { code, output } = await runCli(['serve', '--port', '0'], { DATABASE_URL: env.DATABASE_URL! });
    expect(code).toBe(1);
    expect(output).toContain('MARKETING_MASTER_KEY is required');
  });

  it.runIf(onPostgres)('starts three processes at once on one fresh database without migration races', async () => {
    const scratch = await createScratchDatabase(postgresUrl(), 'e2e3');
    const started: ServerProcess[] = [];
    try {
      const results = await Promise.allSettled(
        [0, 1, 2].map(() => startServerProcess({ DATABASE_URL: scratch.url, MARKETING_MASTER_KEY: MASTER })),
      );
      for (const r of results) if (r.status === 'fulfilled') started.push(r.value);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      for (const s of started) expect((await client(s.url)('GET', '/ready')).status).toBe(200);
      const c = new pg.Client({ connectionString: scratch.url });
      await c.connect();
      const { rows } = await c.query('select count(*)::int as n from schema_migration');
      await c.end();
      expect(rows[0].n).toBeGreaterThanOrEqual(3);
    } finally {
      await Promise.all(started.map((s) => s.stop('SIGKILL')));
      await scratch.drop();
    }
  });

  it('manages tenants and keys from the CLI over the same services', async () => {
    const dbEnv = onPostgres ? { DATABASE_URL: env.DATABASE_URL!, MARKETING_MASTER_KEY: MASTER } : env;
    const tenant = await runCli(['tenants', 'create', '--id', 'initech', '--name', 'Initech'], dbEnv);
    expect(tenant.code).toBe(0);
    expect(JSON.parse(tenant.output).tenant_id).toBe('initech');
    const key = await runCli(['keys', 'create', '--tenant', 'initech', '--name', 'ops', '--role', 'admin'], dbEnv);
    expect(key.code).toBe(0);
    expect(JSON.parse(key.output).key).toMatch(/^mhk_/);
    const dup = await runCli(['tenants', 'create', '--id', 'initech', '--name', 'Again'], dbEnv);
    expect(dup.code).toBe(1);
    expect(dup.output).toContain('tenant_already_exists');
  });
});
