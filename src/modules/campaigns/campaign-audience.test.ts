import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { campaignBody, newCampaign } from '../../../test/helpers/factories.js';
import { must, type Reply, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';

/** A TAG audience of the tenant; returns its id. */
async function newAudience(t: TenantFixture, name = 'VIPs'): Promise<string> {
  const body = { audience_name: name, product_code: t.productCode, audience_type: 'TAG', rule: { tags_any: ['vip'] } };
  return must(await t.call('POST', '/v1/audiences', body), 201).body.audience_id as string;
}

/** Status, code and details of an error reply, for one readable comparison. */
const errorOf = (r: Reply) => ({ status: r.status, code: r.body?.error?.code, details: r.body?.error?.details });

describe('campaign audience_id: checked on write', () => {
  it('create with a made-up audience_id: 400 unknown_audience naming the field, nothing stored', async () => {
    const t = await (await testApp()).newTenant();
    const r = await t.call('POST', '/v1/campaigns', campaignBody({ product_code: t.productCode, audience_id: 'aud_made_up' }));
    expect(errorOf(r)).toEqual({ status: 400, code: 'unknown_audience', details: { field: 'audience_id', audience_id: 'aud_made_up' } });
    expect(must(await t.call('GET', '/v1/campaigns'), 200).body.campaigns).toEqual([]);
  });

  it("another tenant's audience id looks exactly like a missing one, on create and on update", async () => {
    const env = await testApp();
    const a = await env.newTenant();
    const b = await env.newTenant();
    const theirs = await newAudience(b);
    const created = await t400(a, theirs);
    const missing = await t400(a, 'aud_00000000000000000000000000');
    expect({ ...created, details: { ...created.details, audience_id: null } }).toEqual({ ...missing, details: { ...missing.details, audience_id: null } });

    const c = await newCampaign(a);
    const updated = errorOf(await a.call('PUT', `/v1/campaigns/${c.campaign_id}`, { audience_id: theirs }));
    expect(updated).toEqual({ status: 400, code: 'unknown_audience', details: { field: 'audience_id', audience_id: theirs } });
    expect(must(await a.call('GET', `/v1/campaigns/${c.campaign_id}`), 200).body).toMatchObject({ audience_id: null, version: 1 });

    async function t400(t: TenantFixture, audienceId: string) {
      const e = errorOf(await t.call('POST', '/v1/campaigns', campaignBody({ product_code: t.productCode, audience_id: audienceId })));
      expect(e).toMatchObject({ status: 400, code: 'unknown_audience' });
      return e;
    }
  });

  it('update with a made-up audience_id: 400, the campaign is unchanged; a real one is accepted', async () => {
    const t = await (await testApp()).newTenant();
    const c = await newCampaign(t);
    const r = await t.call('PUT', `/v1/campaigns/${c.campaign_id}`, { campaign_name: 'Renamed', audience_id: 'aud_nope' });
    expect(errorOf(r)).toEqual({ status: 400, code: 'unknown_audience', details: { field: 'audience_id', audience_id: 'aud_nope' } });
    expect(must(await t.call('GET', `/v1/campaigns/${c.campaign_id}`), 200).body).toEqual(c);
    const audienceId = await newAudience(t);
    expect(must(await t.call('PUT', `/v1/campaigns/${c.campaign_id}`, { audience_id: audienceId }), 200).body.audience_id).toBe(audienceId);
  });
});

describe('DELETE /v1/audiences/:id of an audience campaigns use', () => {
  it('409 audience_in_use listing the campaigns; the audience stays; free again once no campaign uses it', async () => {
    const t = await (await testApp()).newTenant();
    const audienceId = await newAudience(t);
    const c1 = await newCampaign(t, { audience_id: audienceId });
    const c2 = await newCampaign(t, { audience_id: audienceId });
    const r = await t.call('DELETE', `/v1/audiences/${audienceId}`);
    expect(errorOf(r)).toMatchObject({ status: 409, code: 'audience_in_use', details: { audience_id: audienceId, campaign_count: 2 } });
    expect([...r.body.error.details.campaign_ids].sort()).toEqual([c1.campaign_id, c2.campaign_id].sort());
    must(await t.call('GET', `/v1/audiences/${audienceId}`), 200);

    // Pointing one elsewhere and deleting the other (a DRAFT) releases the audience.
    must(await t.call('PUT', `/v1/campaigns/${c1.campaign_id}`, { audience_id: null }), 200);
    must(await t.call('DELETE', `/v1/campaigns/${c2.campaign_id}`), 204);
    must(await t.call('DELETE', `/v1/audiences/${audienceId}`), 204);
    expect((await t.call('GET', `/v1/audiences/${audienceId}`)).status).toBe(404);
  });

  it('an ARCHIVED campaign still holds its audience until the campaign is deleted', async () => {
    const t = await (await testApp()).newTenant();
    const audienceId = await newAudience(t);
    const c = await newCampaign(t, { audience_id: audienceId });
    must(await t.call('POST', `/v1/campaigns/${c.campaign_id}/publish`), 200);
    must(await t.call('POST', `/v1/campaigns/${c.campaign_id}/archive`), 200);
    const r = await t.call('DELETE', `/v1/audiences/${audienceId}`);
    expect(errorOf(r)).toMatchObject({ status: 409, code: 'audience_in_use', details: { campaign_ids: [c.campaign_id] } });
    must(await t.call('DELETE', `/v1/campaigns/${c.campaign_id}`), 204);
    must(await t.call('DELETE', `/v1/audiences/${audienceId}`), 204);
  });

  it('a product-limited key sees only its products\' campaign ids in the refusal (and the total count)', async () => {
    const env = await testApp();
    const t = await env.newTenant({ productCodes: ['app1', 'app2'] });
    const audienceId = await newAudience(t);
    const mine = await newCampaign(t, { product_code: 'app1', audience_id: audienceId });
    await newCampaign(t, { product_code: 'app2', audience_id: audienceId });
    const limited = must(await env.call('POST', `/v1/tenants/${t.tenantId}/api-keys`, { name: 'p1', role: 'service', product_codes: ['app1'] }), 201).body.key as string;
    const r = await t.call('DELETE', `/v1/audiences/${audienceId}`, undefined, { key: limited });
    expect(errorOf(r)).toEqual({ status: 409, code: 'audience_in_use', details: { audience_id: audienceId, campaign_ids: [mine.campaign_id], campaign_count: 2 } });
  });

  it('race: 100 parallel pairs of "PUT campaign audience_id=X" and "DELETE audience X" never leave a dangling reference', async () => {
    const env = await testApp();
    const t = await env.newTenant();
    const pairs = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => ({ audienceId: await newAudience(t, `race ${i}`), campaignId: (await newCampaign(t)).campaign_id as string })),
    );
    const replies = await Promise.all(
      pairs.map(async ({ audienceId, campaignId }, i) => {
        const put = () => t.call('PUT', `/v1/campaigns/${campaignId}`, { audience_id: audienceId });
        const del = () => t.call('DELETE', `/v1/audiences/${audienceId}`);
        // A delete reaches the database sooner than an update (less work before it), so half the
        // pairs give the update a 1 ms head start: on PostgreSQL both outcomes then happen.
        const [p, d] = await Promise.all([put(), i % 2 === 0 ? del() : sleep(1).then(del)]);
        return { put: p!.status === 200 ? 200 : `${p!.status} ${p!.body.error.code}`, del: d!.status === 204 ? 204 : `${d!.status} ${d!.body.error.code}` };
      }),
    );
    // Exactly one of each pair wins: the campaign got the audience (the delete is refused) or the
    // audience is gone (the update is refused). Never both, never a 500.
    const won = { update: 0, delete: 0 };
    for (const r of replies) {
      expect([{ put: 200, del: '409 audience_in_use' }, { put: '400 unknown_audience', del: 204 }]).toContainEqual(r);
      won[r.put === 200 ? 'update' : 'delete']++;
    }
    // PGlite runs one transaction at a time (in practice the deletes first); PostgreSQL races.
    if (env.database.kind === 'postgres') {
      expect(won.update, JSON.stringify(won)).toBeGreaterThan(0);
      expect(won.delete, JSON.stringify(won)).toBeGreaterThan(0);
    }
    const dangling = await sql<{ n: number }>`
      select count(*)::int as n from campaign c
       where c.tenant_id = ${t.tenantId} and c.audience_id is not null
         and not exists (select 1 from audience a where a.tenant_id = c.tenant_id and a.audience_id = c.audience_id)`.execute(env.database.db);
    expect(dangling.rows[0]!.n).toBe(0);
  });
});
