import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MirrorApp, mirrorApp } from '../../../test/helpers/mirror-app.js';
import { codeCampaign } from '../../../test/helpers/redeem-code-helpers.js';
import { connectTestRedis, deletePrefix, redisSkipNote, testRedisUrl } from '../../../test/helpers/redis.js';
import { must, type Reply, testApp, type TenantFixture } from '../../../test/helpers/test-app.js';

/**
 * The anti-abuse limits (防刷) on the real route, POST /v1/redeem, with the configured defaults: 30 attempts
 * per user per hour, 300 per end-user IP, lock-out after 10 failed attempts per user and per IP.
 * Once with in-process counting (no Redis), once with Redis (and the fast path in front).
 */
type Redeem = (t: TenantFixture, body: Record<string, unknown>) => Promise<Reply>;
type Setup = () => Promise<{ redeem: Redeem; batchOf: (t: TenantFixture, count: number) => Promise<string[]> }>;

async function batchVia(call: (t: TenantFixture, url: string, body: unknown) => Promise<Reply>, t: TenantFixture, count: number): Promise<string[]> {
  const { campaignId, rewardId } = await codeCampaign(t);
  return must(await call(t, `/v1/campaigns/${campaignId}/redeem-codes`, { code_type: 'ALPHANUM', length: 12, count, reward_id: rewardId }), 201).body.codes;
}

const wrong = (code: string, i: number) => `${code.slice(0, -3)}${'ABCDEFGHJK'[i % 10]}${'MNPQRSTUVW'[Math.floor(i / 10) % 10]}Z`;

function suite(setup: Setup) {
  it('per user: 429 rate_limited with Retry-After after 30 attempts an hour; other users go on', async () => {
    const { redeem, batchOf } = await setup();
    const t = await (await testApp()).newTenant();
    const codes = await batchOf(t, 32);
    for (let i = 0; i < 30; i++) must(await redeem(t, { code: codes[i], user_id: 'busy' }), 201);
    const refused = await redeem(t, { code: codes[30], user_id: 'busy' });
    expect({ status: refused.status, code: refused.body.error.code, rule: refused.body.error.details.rule }).toEqual({ status: 429, code: 'rate_limited', rule: 'user' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    must(await redeem(t, { code: codes[30], user_id: 'other' }), 201);
  });

  it('lock-out after 10 failed attempts, per user and per client_ip: even a real code is refused then', async () => {
    const { redeem, batchOf } = await setup();
    const t = await (await testApp()).newTenant();
    const codes = await batchOf(t, 4);
    for (let i = 0; i < 10; i++) expect((await redeem(t, { code: wrong(codes[0]!, i), user_id: 'guesser' })).status).toBe(404);
    const locked = await redeem(t, { code: codes[0], user_id: 'guesser' });
    expect({ status: locked.status, rule: locked.body.error.details.rule }).toEqual({ status: 429, rule: 'lockout' });
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    must(await redeem(t, { code: codes[0], user_id: 'honest' }), 201);
    // Ten users failing once each from one end-user address lock that address, not the users elsewhere.
    for (let i = 0; i < 10; i++) expect((await redeem(t, { code: wrong(codes[1]!, i), user_id: `ip-user-${i}`, client_ip: '203.0.113.7' })).status).toBe(404);
    const byIp = await redeem(t, { code: codes[1], user_id: 'newcomer', client_ip: '203.0.113.7' });
    expect({ status: byIp.status, rule: byIp.body.error.details.rule }).toEqual({ status: 429, rule: 'lockout' });
    must(await redeem(t, { code: codes[1], user_id: 'newcomer', client_ip: '198.51.100.1' }), 201);
  });

  it('400 parallel redemptions by different users from one backend (no client_ip) are not throttled per IP', async () => {
    const { redeem, batchOf } = await setup();
    const t = await (await testApp()).newTenant();
    const codes = await batchOf(t, 400);
    const replies = await Promise.all(codes.map((code, i) => redeem(t, { code, user_id: `user-${i}` })));
    const statuses: Record<number, number> = {};
    for (const r of replies) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    expect(statuses).toEqual({ 201: 400 });
  });
}

describe('redemption abuse defence on POST /v1/redeem, in-process counting', () =>
  suite(async () => {
    return {
      redeem: (t, body) => t.call('POST', '/v1/redeem', body),
      batchOf: (t, count) => batchVia((tt, url, body) => tt.call('POST', url, body), t, count),
    };
  }));

const mirrors: MirrorApp[] = [];
let admin: Redis | undefined;
beforeAll(async () => {
  if (testRedisUrl) admin = await connectTestRedis();
});
afterAll(async () => {
  for (const m of mirrors) {
    await m.api.close();
    if (admin) await deletePrefix(admin, m.prefix);
  }
  await admin?.quit();
});

describe.skipIf(!testRedisUrl)(`redemption abuse defence on POST /v1/redeem, Redis and the fast path${redisSkipNote}`, () =>
  suite(async () => {
    const m = await mirrorApp({ overrides: { 'rate_limits.lockout.failures': 10, 'rate_limits.redeem.per_user.limit': 30, 'rate_limits.redeem.per_client_ip.limit': 300 } });
    mirrors.push(m);
    return {
      redeem: (t, body) => m.call(t, 'POST', '/v1/redeem', body),
      batchOf: (t, count) => batchVia((tt, url, body) => m.call(tt, 'POST', url, body), t, count),
    };
  }));
