import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { testDbKind } from '../../test/helpers/database.js';
import { campaignBody } from '../../test/helpers/factories.js';
import { must, type TenantFixture, type TestApp, testApp } from '../../test/helpers/test-app.js';
import { ManualClock, systemClock } from './clock.js';
import { createIdempotencyStore } from './idempotency.js';
import { HEARTBEAT_STALE_SECONDS, startInstanceHeartbeat } from './instance-heartbeat.js';
import { fingerprint } from './secrets.js';

const countCampaigns = async (t: { call: (m: 'GET', u: string) => Promise<{ body: any }> }) =>
  (await t.call('GET', '/v1/campaigns')).body.pagination.total as number;

describe('Idempotency-Key', () => {
  it('replays the first response for a retry with the same body and creates nothing new', async () => {
    const t = await (await testApp()).newTenant();
    const headers = { 'idempotency-key': 'create-1' };
    const first = must(await t.call('POST', '/v1/campaigns', campaignBody(), { headers }), 201);
    const retry = await t.call('POST', '/v1/campaigns', campaignBody(), { headers });
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(await countCampaigns(t)).toBe(1);
  });

  it('treats the same body with keys in another order as the same request', async () => {
    const t = await (await testApp()).newTenant();
    const headers = { 'idempotency-key': 'order' };
    const body = campaignBody();
    const reversed = Object.fromEntries(Object.entries(body).reverse());
    const first = must(await t.call('POST', '/v1/campaigns', body, { headers }), 201);
    expect((await t.call('POST', '/v1/campaigns', reversed, { headers })).body).toEqual(first.body);
  });

  it('refuses the same key with a different body: 422 idempotency_key_reused', async () => {
    const t = await (await testApp()).newTenant();
    const headers = { 'idempotency-key': 'reuse' };
    must(await t.call('POST', '/v1/campaigns', campaignBody(), { headers }), 201);
    const other = await t.call('POST', '/v1/campaigns', campaignBody({ campaign_name: 'Other' }), { headers });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    expect(await countCampaigns(t)).toBe(1);
  });

  it('refuses the same key on another route as a different request', async () => {
    const t = await (await testApp()).newTenant();
    const headers = { 'idempotency-key': 'cross-route' };
    const c = must(await t.call('POST', '/v1/campaigns', campaignBody(), { headers }), 201).body;
    const other = await t.call('POST', `/v1/campaigns/${c.campaign_id}/publish`, undefined, { headers });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
  });

  it('keys are per tenant: two tenants may use the same key', async () => {
    const app = await testApp();
    const [a, b] = [await app.newTenant(), await app.newTenant()];
    const headers = { 'idempotency-key': 'shared-name' };
    const ca = must(await a.call('POST', '/v1/campaigns', campaignBody(), { headers }), 201).body;
    const cb = must(await b.call('POST', '/v1/campaigns', campaignBody(), { headers }), 201).body;
    expect(ca.campaign_id).not.toBe(cb.campaign_id);
    expect(cb.tenant_id).toBe(b.tenantId);
  });

  it('50 parallel requests with one key create exactly one campaign', async () => {
    const t = await (await testApp()).newTenant();
    const headers = { 'idempotency-key': 'parallel-50' };
    const replies = await Promise.all(Array.from({ length: 50 }, () => t.call('POST', '/v1/campaigns', campaignBody(), { headers })));
    const created = replies.filter((r) => r.status === 201);
    const inProgress = replies.filter((r) => r.status === 409);
    expect(created.length + inProgress.length).toBe(50);
    expect(inProgress.every((r) => r.body.error.code === 'request_in_progress')).toBe(true);
    expect(new Set(created.map((r) => r.body.campaign_id)).size).toBe(1);
    expect(await countCampaigns(t)).toBe(1);
    // Once settled, every retry replays the one campaign.
    const after = must(await t.call('POST', '/v1/campaigns', campaignBody(), { headers }), 201);
    expect(after.body.campaign_id).toBe(created[0]!.body.campaign_id);
  });

  it('records refusals too: a retry of a 409 gets the same 409', async () => {
    const t = await (await testApp()).newTenant();
    const c = must(await t.call('POST', '/v1/campaigns', campaignBody()), 201).body;
    must(await t.call('POST', `/v1/campaigns/${c.campaign_id}/publish`), 200);
    const headers = { 'idempotency-key': 'second-publish' };
    const refused = await t.call('POST', `/v1/campaigns/${c.campaign_id}/publish`, undefined, { headers });
    expect(refused.status).toBe(409);
    const again = await t.call('POST', `/v1/campaigns/${c.campaign_id}/publish`, undefined, { headers });
    expect(again.status).toBe(409);
    expect(again.body).toEqual(refused.body);
  });

  it('does not record requests that fail validation', async () => {
    const t = await (await testApp()).newTenant();
    const headers = { 'idempotency-key': 'fix-and-retry' };
    expect((await t.call('POST', '/v1/campaigns', campaignBody({ campaign_type: 'NOPE' }), { headers })).status).toBe(400);
    // The corrected request may reuse the key: the invalid one changed nothing.
    must(await t.call('POST', '/v1/campaigns', campaignBody(), { headers }), 201);
  });

  it('rejects a malformed Idempotency-Key', async () => {
    const t = await (await testApp()).newTenant();
    const r = await t.call('POST', '/v1/campaigns', campaignBody(), { headers: { 'idempotency-key': 'x'.repeat(256) } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_request');
  });

  it('expires keys after 24 hours: the same key then starts a new request', async () => {
    const clock = new ManualClock('2030-01-01T00:00:00Z');
    const app = await testApp({ clock });
    const t = await app.newTenant();
    const headers = { 'idempotency-key': 'day-old' };
    const body = campaignBody({ start_time: null, end_time: null });
    const first = must(await t.call('POST', '/v1/campaigns', body, { headers }), 201).body;
    clock.advance(23 * 3600_000);
    expect((await t.call('POST', '/v1/campaigns', body, { headers })).body.campaign_id).toBe(first.campaign_id);
    clock.advance(1 * 3600_000 + 1);
    const later = must(await t.call('POST', '/v1/campaigns', body, { headers }), 201).body;
    expect(later.campaign_id).not.toBe(first.campaign_id);
    await app.app.close();
  });

  it('lets a retry take over a key whose holder vanished without committing', async () => {
    const clock = new ManualClock('2030-01-01T00:00:00Z');
    const app = await testApp({ clock });
    const t = await app.newTenant();
    const body = campaignBody({ start_time: null, end_time: null });
    // Simulate a process (one that never beat: tests, older rows) that claimed the key and
    // crashed before its transaction committed: its lock time decides.
    const store = createIdempotencyStore({ db: app.database.db, clock, ttlHours: 24, lockSeconds: 60, instanceId: `silent-${t.tenantId}` });
    const claimed = await store.claim({ scope: t.tenantId, key: 'crashed', requestHash: await campaignHash(app, t, body), method: 'POST', route: '/v1/campaigns' });
    expect(claimed.kind).toBe('claimed');
    const headers = { 'idempotency-key': 'crashed' };
    const blocked = await t.call('POST', '/v1/campaigns', body, { headers });
    expect(blocked.status).toBe(409);
    expect(blocked.body.error.code).toBe('request_in_progress');
    clock.advance(61_000);
    must(await t.call('POST', '/v1/campaigns', body, { headers }), 201);
    expect(await countCampaigns(t)).toBe(1);
    await app.app.close();
  });
});

describe('Idempotency-Key claims of a process that died', () => {
  it('are taken over by the same request as soon as the owner heartbeat is stale, not after the lock time', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const body = campaignBody();
    const dead = `dead-${t.tenantId}`;
    const store = createIdempotencyStore({ db: app.database.db, clock: systemClock, ttlHours: 24, lockSeconds: 60, instanceId: dead });
    expect((await store.claim({ scope: t.tenantId, key: 'killed', requestHash: await campaignHash(app, t, body), method: 'POST', route: '/v1/campaigns' })).kind).toBe('claimed');
    await beat(app, dead, HEARTBEAT_STALE_SECONDS + 1);
    const headers = { 'idempotency-key': 'killed' };
    const retry = must(await t.call('POST', '/v1/campaigns', body, { headers }), 201);
    expect(must(await t.call('POST', '/v1/campaigns', body, { headers }), 201).body).toEqual(retry.body);
    expect(await countCampaigns(t)).toBe(1);
    // Only the same request takes it over: another body is still a different request.
    await store.claim({ scope: t.tenantId, key: 'killed-2', requestHash: await campaignHash(app, t, body), method: 'POST', route: '/v1/campaigns' });
    const other = await t.call('POST', '/v1/campaigns', campaignBody({ campaign_name: 'Other' }), { headers: { 'idempotency-key': 'killed-2' } });
    expect(other.body.error.code).toBe('idempotency_key_reused');
  });

  it('stay with a live owner: a fresh heartbeat keeps the claim (409 request_in_progress)', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const body = campaignBody();
    const alive = `alive-${t.tenantId}`;
    const store = createIdempotencyStore({ db: app.database.db, clock: systemClock, ttlHours: 24, lockSeconds: 60, instanceId: alive });
    await store.claim({ scope: t.tenantId, key: 'busy', requestHash: await campaignHash(app, t, body), method: 'POST', route: '/v1/campaigns' });
    await beat(app, alive, 0);
    const blocked = await t.call('POST', '/v1/campaigns', body, { headers: { 'idempotency-key': 'busy' } });
    expect({ status: blocked.status, code: blocked.body.error.code }).toEqual({ status: 409, code: 'request_in_progress' });
  });

  it('an owner taken for dead that was only slow cannot record its answer: its transaction rolls back', async () => {
    const app = await testApp();
    const db = app.database.db;
    const scope = `t_slow_${Date.now()}`;
    const input = { scope, key: 'slow', requestHash: 'h', method: 'POST', route: '/x' };
    const slow = createIdempotencyStore({ db, clock: systemClock, ttlHours: 24, lockSeconds: 60, instanceId: `${scope}-a` });
    const retry = createIdempotencyStore({ db, clock: systemClock, ttlHours: 24, lockSeconds: 60, instanceId: `${scope}-b` });
    const first = await slow.claim(input);
    await beat(app, `${scope}-a`, HEARTBEAT_STALE_SECONDS + 1);
    const second = await retry.claim(input);
    if (first.kind !== 'claimed' || second.kind !== 'claimed') throw new Error('both claims should have been won');
    await expect(db.transaction().execute((trx) => slow.complete(trx, first.claim, 201, { by: 'slow' }))).rejects.toMatchObject({ code: 'request_in_progress' });
    await slow.completeAlone(first.claim, 409, { by: 'slow refusal' });
    await slow.release(first.claim);
    await db.transaction().execute((trx) => retry.complete(trx, second.claim, 201, { by: 'retry' }));
    expect(await slow.claim(input)).toEqual({ kind: 'replay', status: 201, body: { by: 'retry' } });
  });

  it.runIf(testDbKind() === 'pglite')('on the embedded database, a starting server releases every claim of earlier instances', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const body = campaignBody();
    const earlier = createIdempotencyStore({ db: app.database.db, clock: systemClock, ttlHours: 24, lockSeconds: 60, instanceId: `earlier-${t.tenantId}` });
    await earlier.claim({ scope: t.tenantId, key: 'before-restart', requestHash: await campaignHash(app, t, body), method: 'POST', route: '/v1/campaigns' });
    const heartbeat = await startInstanceHeartbeat({ db: app.database.db, kind: 'pglite', log: { warn: () => {} }, instanceId: `now-${t.tenantId}` });
    await heartbeat.stop();
    must(await t.call('POST', '/v1/campaigns', body, { headers: { 'idempotency-key': 'before-restart' } }), 201);
  });
});

/** The fingerprint the hook computes for `POST /v1/campaigns` with `body` from the tenant's service key. */
async function campaignHash(app: TestApp, t: TenantFixture, body: unknown): Promise<string> {
  const keys = must(await app.call('GET', `/v1/tenants/${t.tenantId}/api-keys`), 200).body.api_keys as { key_id: string; name: string }[];
  const caller = keys.find((k) => k.name === 'svc')!.key_id;
  return fingerprint({ method: 'POST', caller, route: '/v1/campaigns', params: {}, query: {}, body, product: null });
}

/** Writes a heartbeat for `instanceId`, `ageSeconds` old in database time. */
async function beat(app: TestApp, instanceId: string, ageSeconds: number): Promise<void> {
  await sql`insert into process_instance (instance_id, started_at, heartbeat_at)
            values (${instanceId}, now(), now() - make_interval(secs => ${ageSeconds}))
            on conflict (instance_id) do update set heartbeat_at = excluded.heartbeat_at`.execute(app.database.db);
}
