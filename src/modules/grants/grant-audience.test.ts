import { describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { must, testApp } from '../../../test/helpers/test-app.js';

/** A campaign's audience gates its rewards: outside it, not_in_audience. */
describe('grants: campaign audience', () => {
  it('grants to members only, and the eligibility check says why not', async () => {
    const t = await (await testApp()).newTenant();
    const audience = must(
      await t.call('POST', '/v1/audiences', { audience_name: 'VIPs', product_code: t.productCode, audience_type: 'TAG', rule: { tags_any: ['vip'] } }),
      201,
    ).body;
    const campaign = await newCampaign(t, { audience_id: audience.audience_id });
    must(await t.call('POST', `/v1/campaigns/${campaign.campaign_id}/publish`), 200);
    const reward = must(
      await t.call('POST', '/v1/rewards', {
        reward_name: 'VIP points',
        reward_type: 'POINTS',
        product_code: t.productCode,
        campaign_id: campaign.campaign_id,
        config: { generator: { points: 10 } },
      }),
      201,
    ).body;
    must(await t.call('PUT', '/v1/customers/vip-user', { tags: ['vip'] }), 201);
    must(await t.call('PUT', '/v1/customers/plain-user', { tags: ['new'] }), 201);

    const refused = await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'plain-user' });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'not_in_audience', details: { audience_id: audience.audience_id } });
    expect((await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'nobody' })).body.error.code).toBe('not_in_audience');
    must(await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'vip-user' }), 201);

    const check = must(await t.call('POST', '/v1/reward-grants/check', { reward_id: reward.reward_id, user_id: 'plain-user' }), 200).body;
    expect(check.eligible).toBe(false);
    expect(check.reasons.map((r: { code: string }) => r.code)).toContain('not_in_audience');
    // Tagged later: the next grant sees it (membership is read at grant time, never cached).
    must(await t.call('POST', '/v1/customers/plain-user/tags', { add: ['vip'] }), 200);
    must(await t.call('POST', '/v1/reward-grants', { reward_id: reward.reward_id, user_id: 'plain-user' }), 201);
  });
});
