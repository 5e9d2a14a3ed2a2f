import type { TenantFixture } from '../../helpers/test-app.js';
import type { Recorder} from './load.js';
import { loops, type Outcome, sleep } from './load.js';
import { liveCampaign, okCall, type SystemService } from './service.js';

/**
 * The mixed load of the Redis fault tests, over one tenant:
 * - grants of a reward with limited stock and a per-user limit (decided in PostgreSQL only);
 * - redemptions of fresh codes by many users (the Redis mirror and gate in front, PostgreSQL decides);
 * - replays of codes already redeemed, by other users (must always be refused);
 * - one user redeeming fresh codes as fast as it can, to meet the per-user attempt limit (a rate
 *   limit counted in Redis, in-process while Redis fails).
 */
export interface Workload {
  tenant: TenantFixture;
  label: string;
  grantRewardId: string;
  stock: number;
  perUserGrants: number;
  batchId: string;
  codeRewardId: string;
  /** Fresh codes for the many users, and a separate supply for the limited user. */
  codes: string[];
  hammerCodes: string[];
  hammerUser: string;
}

export async function prepareWorkload(svc: SystemService, label: string, sizes: { stock: number; codes: number; hammerCodes: number }): Promise<Workload> {
  const t = await svc.newTenant();
  const ok = okCall(t);
  const { campaignId, reward } = await liveCampaign(t, `Faults ${label}`);
  const perUserGrants = 2;
  const grantReward = await reward({ reward_name: 'Limited', total_stock: sizes.stock, config: { generator: { points: 1 }, validator: { per_user_limit: perUserGrants } } });
  const codeReward = await reward({ reward_name: 'Code', total_stock: null, config: { generator: { points: 1 } } });
  const batch = await ok('POST', `/v1/campaigns/${campaignId}/redeem-codes`, {
    code_type: 'ALPHANUM',
    length: 12,
    count: sizes.codes + sizes.hammerCodes,
    reward_id: codeReward.reward_id,
  });
  const codes = batch.codes as string[];
  return {
    tenant: t,
    label,
    grantRewardId: grantReward.reward_id,
    stock: sizes.stock,
    perUserGrants,
    batchId: batch.batch_id,
    codeRewardId: codeReward.reward_id,
    codes: codes.slice(0, sizes.codes),
    hammerCodes: codes.slice(sizes.codes),
    hammerUser: `${label}-limited`,
  };
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

/**
 * Runs the load until `stop()`; `concurrency` loops of grants, fresh redemptions and replays, plus
 * the limited user's loop. Grant users: 100 (each may take 2; the stock runs out first).
 */
export async function runWorkload(svc: SystemService, w: Workload, rec: Recorder, concurrency: number, stop: () => boolean): Promise<void> {
  const key = w.tenant.service;
  let next = 0;
  const redeemed: string[] = [];
  // Redeeming users come from a million, so none nears the per-user attempt limit (MARKETING_REDEEM_PER_USER,
  // set low for the limited user): from 2,000 a random user now and then made 6 attempts and met it.
  const user = (kind: string) => `${w.label}-${kind}${Math.floor(Math.random() * (kind === 'g' ? 100 : 1_000_000))}`;
  const many = loops(concurrency, stop, async () => {
    const r = Math.random();
    if (r < 0.3) {
      await rec.send('grant', `${svc.url}/v1/reward-grants`, { method: 'POST', key, body: { reward_id: w.grantRewardId, user_id: user('g') } });
    } else if (r < 0.8 && next < w.codes.length) {
      const code = w.codes[next++]!;
      const o = await rec.send('redeem', `${svc.url}/v1/redeem`, { method: 'POST', key, body: { code, user_id: user('r') } });
      if (o.status === 201) redeemed.push(code);
    } else if (redeemed.length > 0) {
      await rec.send('replay', `${svc.url}/v1/redeem`, { method: 'POST', key, body: { code: pick(redeemed), user_id: user('r') } });
    } else {
      await sleep(5);
    }
  });
  let h = 0;
  const limited = loops(1, () => stop() || h >= w.hammerCodes.length, async () => {
    const o = await rec.send('limited', `${svc.url}/v1/redeem`, { method: 'POST', key, body: { code: w.hammerCodes[h], user_id: w.hammerUser } });
    if (o.status === 201) h++;
    else await sleep(20);
  });
  await Promise.all([many, limited]);
}

export interface WorkloadCounts {
  grants: number;
  grantUsersOverLimit: number;
  stockUsed: number;
  redemptions: number;
  distinctCodes: number;
  maxUses: number;
  codeGrants: number;
  limitedAdmitted: number;
}

/** What the database holds after the load: the truth the answers are compared with. */
export async function countWorkload(svc: SystemService, w: Workload): Promise<WorkloadCounts> {
  const one = async (text: string, values: unknown[]) => (await svc.sql.query(text, values)).rows[0] as Record<string, number>;
  const tenant = w.tenant.tenantId;
  const overLimit = await one(
    `select count(*)::int as n from (select user_id from reward_grant where tenant_id = $1 and reward_id = $2 group by user_id having count(*) > $3) g`,
    [tenant, w.grantRewardId, w.perUserGrants],
  );
  const grantRows = await one(`select count(*)::int as n from reward_grant where tenant_id = $1 and reward_id = $2`, [tenant, w.grantRewardId]);
  const redemptions = await one(`select count(*)::int as n, count(distinct code)::int as codes from redeem_code_redemption where tenant_id = $1 and batch_id = $2`, [tenant, w.batchId]);
  const uses = await one(`select coalesce(max(uses), 0)::int as n from redeem_code where tenant_id = $1 and batch_id = $2`, [tenant, w.batchId]);
  const codeGrants = await one(`select count(*)::int as n from reward_grant where tenant_id = $1 and reward_id = $2`, [tenant, w.codeRewardId]);
  const limited = await one(`select count(*)::int as n from redeem_code_redemption where tenant_id = $1 and batch_id = $2 and user_id = $3`, [tenant, w.batchId, w.hammerUser]);
  const reward = await w.tenant.call('GET', `/v1/rewards/${w.grantRewardId}`);
  return {
    grants: grantRows.n!,
    grantUsersOverLimit: overLimit.n!,
    stockUsed: reward.body.stock.used as number,
    redemptions: redemptions.n!,
    distinctCodes: redemptions.codes!,
    maxUses: uses.n!,
    codeGrants: codeGrants.n!,
    limitedAdmitted: limited.n!,
  };
}

/** How many answers of `kind` had `status` (any status when omitted). */
export const count = (outcomes: readonly Outcome[], kind: string, status?: number) =>
  outcomes.filter((o) => o.kind === kind && (status === undefined || o.status === status)).length;
