import { describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { must, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';
import { ManualClock } from '../../platform/clock.js';

/**
 * per_user_limit_reached and min_interval_not_elapsed are found in three places: the eligibility
 * check (TypeScript, reading the counters), the request's own quantity (TypeScript, before any
 * counter) and the grant statement's counters (the database, here under a race of parallel
 * grants). Each code has one message and one details shape (grant.errors.ts), whichever found it.
 */

type Reason = { code: string; message: string; details: Record<string, unknown> };

async function campaignReward(t: TenantFixture, validator: Record<string, unknown>) {
  const c = await newCampaign(t);
  must(await t.call('POST', `/v1/campaigns/${c.campaign_id}/publish`), 200);
  const body = { reward_name: 'Limited', reward_type: 'POINTS', product_code: t.productCode, total_stock: 100, campaign_id: c.campaign_id, config: { generator: { points: 10 }, validator } };
  return must(await t.call('POST', '/v1/rewards', body), 201).body as { reward_id: string };
}

const grant = (t: TenantFixture, body: Record<string, unknown>) => t.call('POST', '/v1/reward-grants', body);

/** The eligibility check's reason with this code. */
async function reasonOf(t: TenantFixture, body: Record<string, unknown>, code: string): Promise<Reason> {
  const reasons = must(await t.call('POST', '/v1/reward-grants/check', body), 200).body.reasons as Reason[];
  const found = reasons.find((r) => r.code === code);
  expect(found, JSON.stringify(reasons)).toBeDefined();
  return found!;
}

/** What N parallel grants answered: the error bodies of the refused ones, and how many were made. */
async function race(t: TenantFixture, body: Record<string, unknown>, n: number) {
  const replies = await Promise.all(Array.from({ length: n }, () => grant(t, body)));
  const refused = replies.filter((r) => r.status !== 201);
  for (const r of refused) expect(r.status, JSON.stringify(r.body)).toBe(409);
  return { made: replies.length - refused.length, errors: refused.map((r) => r.body.error as Reason) };
}

describe('one message and one details shape per grant refusal', () => {
  it('per_user_limit_reached: the eligibility check, the quantity check and the database (under a race) answer alike', async () => {
    const app = await testApp({ clock: new ManualClock('2030-03-10T08:00:00Z') });
    try {
      const t = await app.newTenant();
      const reward = await campaignReward(t, { per_user_limit: 2, period: 'DAY' });
      const one = { reward_id: reward.reward_id, user_id: 'u1' };

      // 12 parallel grants of one unit: 2 made, 10 refused by the counter in the database.
      const { made, errors } = await race(t, one, 12);
      expect(made).toBe(2);
      const expected = { code: 'per_user_limit_reached', message: 'Limit of 2 per day reached (asked for 1)', details: { per_user_limit: 2, period: 'DAY', quantity: 1 } };
      expect(await reasonOf(t, one, 'per_user_limit_reached')).toEqual(expected);
      expect(errors).toHaveLength(10);
      for (const e of errors) expect(e).toEqual(expected);

      // A quantity above the limit, refused before any counter, in the same words.
      const three = { ...one, user_id: 'u2', quantity: 3 };
      const above = { code: 'per_user_limit_reached', message: 'Limit of 2 per day reached (asked for 3)', details: { per_user_limit: 2, period: 'DAY', quantity: 3 } };
      expect(await reasonOf(t, three, 'per_user_limit_reached')).toEqual(above);
      expect(must(await grant(t, three), 409).body.error).toEqual(above);
    } finally {
      await app.app.close();
    }
  });

  it('min_interval_not_elapsed: the eligibility check and the database (under a race) answer alike', async () => {
    const clock = new ManualClock('2030-03-10T08:00:00Z');
    const app = await testApp({ clock });
    try {
      const t = await app.newTenant();
      const reward = await campaignReward(t, { min_interval_seconds: 60 });
      const body = { reward_id: reward.reward_id, user_id: 'u1' };
      must(await grant(t, body), 201);
      clock.advance(20_000);

      const { made, errors } = await race(t, body, 8);
      expect(made).toBe(0);
      const expected = { code: 'min_interval_not_elapsed', message: 'Next grant possible in 40 s (at most one every 60 s)', details: { min_interval_seconds: 60, retry_after_seconds: 40 } };
      expect(await reasonOf(t, body, 'min_interval_not_elapsed')).toEqual(expected);
      expect(errors).toHaveLength(8);
      for (const e of errors) expect(e).toEqual(expected);
    } finally {
      await app.app.close();
    }
  });
});
