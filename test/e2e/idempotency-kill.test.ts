import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresUrl, testDbKind } from '../helpers/database.js';
import { createScratchDatabase } from '../helpers/postgres-admin.js';
import { client, type ServerProcess, startServerProcess } from './server-process.js';

const MASTER = 'e2e-master-key-0123456789abcdefghij';

/**
 * `marketing-hub serve` on PostgreSQL is killed with SIGKILL while a request
 * holding an Idempotency-Key is in flight; the client's retry (to another server process on the
 * same database) is answered within seconds, not with 409 until the claim's 60 s lock runs out.
 */
describe.runIf(testDbKind() === 'postgres')('Idempotency-Key after kill -9 on PostgreSQL', () => {
  const servers: ServerProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop('SIGKILL');
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it('the retry takes the dead process claim over in seconds and the change happens once', async () => {
    const scratch = await createScratchDatabase(postgresUrl(), 'idemkill');
    cleanups.push(scratch.drop);
    const env = { DATABASE_URL: scratch.url, MARKETING_MASTER_KEY: MASTER };
    const [doomed, survivor] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
    servers.push(doomed!, survivor!);
    const a = client(doomed!.url);
    const b = client(survivor!.url);

    const tenantId = `t_kill${Date.now().toString(36)}`;
    expect((await a('POST', '/v1/tenants', { key: MASTER, body: { tenant_id: tenantId, name: 'K' } })).status).toBe(201);
    const admin = (await a('POST', `/v1/tenants/${tenantId}/api-keys`, { key: MASTER, body: { name: 'a', role: 'admin' } })).body.key as string;
    expect((await a('POST', '/v1/apps', { key: admin, body: { product_code: 'app1', name: 'A' } })).status).toBe(201);

    // Hold the campaign table so the keyed request claims its key and then waits in its transaction.
    const blocker = new pg.Client({ connectionString: scratch.url });
    await blocker.connect();
    cleanups.push(() => blocker.end());
    await blocker.query('begin');
    await blocker.query('lock table campaign in exclusive mode');
    const body = { campaign_name: 'Once', campaign_type: 'PROMOTION', product_code: 'app1' };
    const headers = { 'idempotency-key': 'survives-kill-9' };
    void a('POST', '/v1/campaigns', { key: admin, body, headers }).catch(() => undefined);
    await waitFor(async () => (await blocker.query(`select 1 from idempotency_key where idem_key = 'survives-kill-9'`)).rowCount === 1);

    await doomed!.stop('SIGKILL');
    await blocker.query('rollback');
    const killedAt = Date.now();
    let reply = await b('POST', '/v1/campaigns', { key: admin, body, headers });
    let tries = 1;
    while (reply.status === 409 && Date.now() - killedAt < 30_000) {
      await new Promise((r) => setTimeout(r, 250));
      reply = await b('POST', '/v1/campaigns', { key: admin, body, headers });
      tries += 1;
    }
    const waitedMs = Date.now() - killedAt;
    console.log(`idempotency after kill -9: answered ${reply.status} after ${waitedMs} ms (${tries} tries)`);
    expect(reply.status, JSON.stringify(reply.body)).toBe(201);
    expect(waitedMs).toBeLessThan(10_000);
    const again = await b('POST', '/v1/campaigns', { key: admin, body, headers });
    expect(again.body.campaign_id).toBe(reply.body.campaign_id);
    expect((await b('GET', '/v1/campaigns', { key: admin })).body.pagination.total).toBe(1);
  }, 120_000);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
