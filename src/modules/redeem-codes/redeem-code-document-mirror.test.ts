/**
 * The document's additions with the Redis mirror on: a batch with reward rules (the mirror never
 * vouches for its codes, it still refuses used ones without the database), and assign-next (the
 * hand-out reaches the mirror, which then refuses other users from Redis).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue } from '../../../test/helpers/grant-helpers.js';
import { type MirrorApp, mirrorApp } from '../../../test/helpers/mirror-app.js';
import { codeCampaign } from '../../../test/helpers/redeem-code-helpers.js';
import { connectTestRedis, deletePrefix, redisSkipNote, testRedisUrl } from '../../../test/helpers/redis.js';
import { must, testApp } from '../../../test/helpers/test-app.js';

let a: MirrorApp;
let admin: Redis;
beforeAll(async () => {
  if (!testRedisUrl) return;
  admin = await connectTestRedis();
  a = await mirrorApp();
});
afterAll(async () => {
  if (!testRedisUrl) return;
  await a.api.close();
  await deletePrefix(admin, a.prefix);
  await admin.quit();
});

const refusedFromRedis = async (label: string) =>
  metricValue(String((await a.api.inject({ method: 'GET', url: '/metrics' })).body), 'marketing_redeem_code_fast_path_total', { result: label }) || 0;

describe.skipIf(!testRedisUrl)(`document additions with the Redis mirror${redisSkipNote}`, () => {
  it('a reward-rule code redeems through the database, then the mirror refuses its reuse; device id kept', async () => {
    const t = await (await testApp()).newTenant();
    const { campaignId, rewardId } = await codeCampaign(t);
    const batch = must(await a.call(t, 'POST', `/v1/campaigns/${campaignId}/redeem-codes`, { count: 3, codeType: 'ALPHANUM', length: 12, rewardRules: [{ type: 'REWARD', id: rewardId }] }), 201).body;
    const ok = must(await a.call(t, 'POST', '/api/redeem', { code: batch.codes[0], userId: 'u1' }, { 'x-device-id': 'dev-r' }), 201).body;
    expect(ok).toMatchObject({ message: '核销成功', redemption: { device_id: 'dev-r' }, granted: [{ type: 'REWARD', id: rewardId }] });
    // The write-back after the commit is not awaited by the answer; give it a moment.
    await new Promise((r) => setTimeout(r, 100));
    const before = await refusedFromRedis('refused_used');
    const again = await a.call(t, 'POST', '/api/redeem', { code: batch.codes[0], userId: 'u2' });
    expect(again.body.error.code).toBe('code_already_redeemed');
    expect(await refusedFromRedis('refused_used')).toBe(before + 1);
  });

  it('assign-next reaches the mirror: another user is refused from Redis, the assignee redeems', async () => {
    const t = await (await testApp()).newTenant();
    const { campaignId, rewardId } = await codeCampaign(t);
    const batch = must(await a.call(t, 'POST', `/v1/campaigns/${campaignId}/redeem-codes`, { count: 3, code_type: 'ALPHANUM', length: 12, reward_id: rewardId }), 201).body;
    const got = must(await a.call(t, 'POST', `/v1/redeem-code-batches/${batch.batch_id}/assign-next`, { user_id: 'owner' }), 200).body;
    const before = await refusedFromRedis('refused_not_assigned');
    const other = await a.call(t, 'POST', '/v1/redeem', { code: got.redeem_code.code, user_id: 'intruder' });
    expect(other.body.error.code).toBe('code_not_assigned_to_user');
    expect(await refusedFromRedis('refused_not_assigned')).toBe(before + 1);
    must(await a.call(t, 'POST', '/v1/redeem', { code: got.redeem_code.code, user_id: 'owner' }), 201);
  });
});
