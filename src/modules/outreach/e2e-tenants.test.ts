import { afterAll, describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { genericCallback, type SmsPeer } from './channels/testing/sms-peers.js';
import { createCampaign, getRun, INJECT_ORIGIN, postCallback, recordIdOf, recordsOf, runCampaign, TEST_RATE } from './testing/e2e-helpers.js';
import { outreachOf, seedCustomers, smsProvider } from './testing/outreach-fixture.js';

/** Tenants are walls: nothing of tenant A can be seen, changed or moved by tenant B, and secrets are never shown. */

const peers: SmsPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

const statusOf = (r: { status: number }) => r.status;

describe('outreach e2e: tenants are walls', () => {
  it("tenant B gets 404 for tenant A's provider, campaign, run and records; provider views show secret names only", async () => {
    const app = await testApp();
    const a = await app.newTenant();
    const b = await app.newTenant();
    await seedCustomers(a, 2, 'vip');
    await seedCustomers(b, 1, 'vip');
    const { peer, secret, providerId } = await smsProvider(a, { rate: TEST_RATE });
    peers.push(peer);
    const { campaign_id } = await createCampaign(a, { channel: 'sms', target_tags: ['vip'], content: { text: 'Hi {{ customer.name }}' } });
    const runId = await runCampaign(app, a, campaign_id);
    expect(peer.messages).toHaveLength(2);
    const records = await recordsOf(app, runId);
    const rid = recordIdOf(runId, records[0]!.seq);

    // Provider views: secret field names, never values (one, list, after an update).
    const own = must(await a.call('GET', `/v1/outreach/providers/${providerId}`, undefined, { key: a.admin }), 200).body;
    expect(own.secret_fields).toEqual(['secret']);
    expect(own).not.toHaveProperty('secrets');
    const list = must(await a.call('GET', '/v1/outreach/providers', undefined, { key: a.admin }), 200);
    const updated = must(await a.call('PUT', `/v1/outreach/providers/${providerId}`, { name: 'renamed' }, { key: a.admin }), 200);
    for (const view of [own, list.body, updated.body]) expect(JSON.stringify(view)).not.toContain(secret);
    expect(updated.body.secret_fields).toEqual(['secret']);
    // Providers hold credentials: a service key cannot read them.
    expect(statusOf(await a.call('GET', `/v1/outreach/providers/${providerId}`))).toBe(403);

    // Tenant B: every route naming A's objects is 404, and B's lists do not show them.
    const asB = [
      ['GET', `/v1/outreach/providers/${providerId}`, undefined, b.admin],
      ['PUT', `/v1/outreach/providers/${providerId}`, { name: 'mine now' }, b.admin],
      ['DELETE', `/v1/outreach/providers/${providerId}`, undefined, b.admin],
      ['GET', `/v1/outreach/campaigns/${campaign_id}`, undefined, b.service],
      ['PUT', `/v1/outreach/campaigns/${campaign_id}`, { name: 'mine now' }, b.service],
      ['POST', `/v1/outreach/campaigns/${campaign_id}/trigger`, {}, b.service],
      ['POST', `/v1/outreach/campaigns/${campaign_id}/archive`, undefined, b.service],
      ['GET', `/v1/outreach/campaigns/${campaign_id}/stats`, undefined, b.service],
      ['GET', `/v1/outreach/runs/${runId}`, undefined, b.service],
      ['POST', `/v1/outreach/runs/${runId}/pause`, undefined, b.service],
      ['POST', `/v1/outreach/runs/${runId}/cancel`, undefined, b.service],
      ['GET', `/v1/outreach/records/${rid}`, undefined, b.service],
    ] as const;
    for (const [method, url, body, key] of asB) {
      const r = await b.call(method, url, body, { key });
      expect(`${method} ${url} -> ${r.status}`).toBe(`${method} ${url} -> 404`);
    }
    // B cannot send through A's provider either.
    expect(statusOf(await b.call('POST', '/v1/outreach/campaigns', { name: 'x', channel: 'sms', target_tags: ['vip'], content: { text: 'x' }, provider_id: providerId }))).toBe(404);
    expect(must(await b.call('GET', '/v1/outreach/providers', undefined, { key: b.admin }), 200).body.providers).toEqual([]);
    expect(must(await b.call('GET', '/v1/outreach/campaigns'), 200).body.campaigns).toEqual([]);
    expect(must(await b.call('GET', '/v1/outreach/runs'), 200).body.runs).toEqual([]);
    const queries: Record<string, string>[] = [{}, { run_id: runId }, { campaign_id }];
    for (const query of queries) {
      expect(must(await b.call('GET', '/v1/outreach/records', undefined, { query }), 200).body.records).toEqual([]);
    }
    const csv = must(await b.call('GET', '/v1/outreach/records/export', undefined, { query: { run_id: runId } }), 200).body as string;
    expect(csv.trim().split('\n')).toHaveLength(1);
    // The same routes answer tenant A.
    expect(must(await a.call('GET', `/v1/outreach/records/${rid}`), 200).body).toMatchObject({ record_id: rid, run_id: runId, status: 'sent' });
    expect(must(await a.call('GET', '/v1/outreach/records', undefined, { query: { run_id: runId } }), 200).body.records).toHaveLength(2);

    // Records: B's services cannot move A's record, nor can a callback through B's own provider.
    await expect(outreachOf(app).events.applyToRecord(b.tenantId, rid, { kind: 'delivered' })).rejects.toMatchObject({ kind: 'not_found', code: 'record_not_found' });
    const bProvider = await smsProvider(b, { rate: TEST_RATE });
    peers.push(bProvider.peer);
    const statusPath = `/v1/outreach/callbacks/${bProvider.providerId}/status`;
    const report = genericCallback(`${INJECT_ORIGIN}${statusPath}`, bProvider.secret, [
      { id: rid, status: 'delivered' },
      { message_id: records[1]!.provider_message_id, status: 'delivered' },
    ]);
    expect(must(await postCallback(app, statusPath, report), 200).body).toEqual({ code: 0, applied: 0, ignored: 2 });
    expect((await recordsOf(app, runId)).map((r) => r.status)).toEqual(['sent', 'sent']);

    // A's objects are untouched and still A's.
    const run = await getRun(a, runId);
    expect(run.stats).toMatchObject({ planned: 2, sent: 2, delivered: 0 });
    expect(must(await a.call('GET', `/v1/outreach/providers/${providerId}`, undefined, { key: a.admin }), 200).body.name).toBe('renamed');
    expect(must(await a.call('GET', `/v1/outreach/campaigns/${campaign_id}`), 200).body.name).toBe('e2e campaign');
    // And A's own callback does move it.
    const aPath = `/v1/outreach/callbacks/${providerId}/status`;
    expect(must(await postCallback(app, aPath, genericCallback(`${INJECT_ORIGIN}${aPath}`, secret, [{ id: rid, status: 'delivered' }])), 200).body).toEqual({ code: 0, applied: 1, ignored: 0 });
  });
});
