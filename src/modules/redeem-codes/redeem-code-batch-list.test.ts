import { describe, expect, it } from 'vitest';
import { codeCampaign, createBatch, expectError } from '../../../test/helpers/redeem-code-helpers.js';
import { must, testApp } from '../../../test/helpers/test-app.js';

describe('GET /v1/redeem-code-batches', () => {
  it('pages the tenant batches newest first, filtered by campaign and status, never another tenant', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const other = await app.newTenant();
    const a = await codeCampaign(t);
    const b = await codeCampaign(t);
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push(must(await createBatch(t, a.campaignId, { reward_id: a.rewardId, count: 2 }), 201).body.batch_id);
    const inB = must(await createBatch(t, b.campaignId, { reward_id: b.rewardId, count: 1 }), 201).body.batch_id as string;
    must(await t.call('POST', `/v1/redeem-code-batches/${made[0]}/void`, {}), 200);
    const theirs = await codeCampaign(other);
    must(await createBatch(other, theirs.campaignId, { reward_id: theirs.rewardId, count: 1 }), 201);

    const all = must(await t.call('GET', '/v1/redeem-code-batches?page_size=2'), 200).body;
    expect(all.pagination).toEqual({ page: 1, page_size: 2, total: 4 });
    expect(all.batches.map((x: { batch_id: string }) => x.batch_id)).toEqual([inB, made[2]]);
    expect(all.batches[0]).not.toHaveProperty('codes');
    expect(all.batches[0]).toMatchObject({ campaign_id: b.campaignId, status: 'DONE', total: 1, generated: 1 });
    const second = must(await t.call('GET', '/v1/redeem-code-batches?page=2&page_size=2'), 200).body;
    expect(second.batches.map((x: { batch_id: string }) => x.batch_id)).toEqual([made[1], made[0]]);

    const ofA = must(await t.call('GET', `/v1/redeem-code-batches?campaign_id=${a.campaignId}`), 200).body;
    expect(ofA.pagination.total).toBe(3);
    const voided = must(await t.call('GET', `/v1/redeem-code-batches?campaign_id=${a.campaignId}&status=VOIDED`), 200).body;
    expect(voided.batches.map((x: { batch_id: string }) => x.batch_id)).toEqual([made[0]]);
    const readonly = must(await t.call('GET', '/v1/redeem-code-batches?status=DONE', undefined, { key: t.readonly }), 200).body;
    expect(readonly.pagination.total).toBe(3);

    expectError(await t.call('GET', '/v1/redeem-code-batches?status=LOST'), 400, 'invalid_request');
    expectError(await t.call('GET', '/v1/redeem-code-batches?page_size=1000'), 400, 'invalid_request');
  });
});
