import type { Transaction } from 'kysely';
import type { Counter, Histogram } from 'prom-client';
import type { Database, Executor } from '../../db/client.js';
import type { DB } from '../../db/schema.js';
import type { TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import type { JobQueue } from '../../platform/jobs.js';
import type { SoldOutGate } from '../../platform/sold-out-gate.js';
import { createSnapshotCache, type SnapshotCache } from '../../platform/snapshot-cache.js';
import type { CampaignRow, CampaignService } from '../campaigns/index.js';
import type { LedgerService } from '../ledger/index.js';
import type { RewardRow, RewardService } from '../rewards/index.js';
import type { AudienceCheck } from './grant.eligibility.js';
import type { Refusal } from './grant.errors.js';
import type * as repo from './grant.repo.js';
import type { GrantView } from './grant.schemas.js';
import type { GrantBatcher } from './grant.statement.js';

/** How a caller may run a grant's statement. */
export interface GrantOptions {
  /**
   * Runs the decided grant in the caller's own statement instead of the grants' runner: a caller
   * whose work must commit or fail with the grant (a redemption: redeem-codes/sql/mh_redeem_batch.sql
   * calls the grant function). Given the grant function's parameter in the caller's executor, it
   * answers what the grant function answers; an error it throws is the grant's error.
   */
  statement?: GrantStatementRunner;
}

/** See GrantOptions.statement. */
export type GrantStatementRunner = (exec: Executor, parameter: Record<string, unknown>) => Promise<Record<string, unknown>>;

/**
 * `created`: false when the same cause already granted (the earlier grant is returned).
 * `answer`: the statement's whole answer for a grant made now, with what the caller's statement added.
 */
export interface GrantOutcome {
  grant: GrantView;
  created: boolean;
  answer?: Record<string, unknown>;
}

/** The queue webhook deliveries of grants go through (see grant.delivery.ts). */
export const DELIVERY_QUEUE = 'reward.delivery';
export const LEDGER_CAUSE = 'reward_grant';

export interface GrantMetrics {
  granted: Counter<'reward_type' | 'result'>;
  generation: Histogram<'reward_type'>;
  batchSize: Histogram;
  batchFailed: Counter;
  distribution: Histogram<'distributor'>;
}

/** A wallet coupon a grant issued, as the grant's payload shows it. */
export interface IssuedCoupon {
  coupon_id: string;
  coupon_code: string;
  template_id: string;
  valid_from: string | null;
  valid_until: string | null;
}

/** Wallet coupons for grants (the coupons module's coupon.grant.ts; see grant.coupon.ts). */
export interface CouponIssuer {
  /**
   * `quantity` coupons of the template for the user, each recorded against (grant_id, unit), in
   * `trx`. Throws an AppError to refuse (the caller rolls back what it wrote).
   */
  issue(trx: Transaction<DB>, grant: { tenantId: string; grantId: string; templateId: string; userId: string; quantity: number }): Promise<IssuedCoupon[]>;
  /**
   * The eligibility check's read of what issue would refuse (template missing, disabled or ended,
   * usage_limit or the template's per_user_limit reached), or null. A read, not a hold: the issue
   * itself decides under its conditional statements.
   */
  check(exec: Executor, grant: { tenantId: string; templateId: string; userId: string; quantity: number }): Promise<Refusal | null>;
  /** The grant's coupons that are still available become voided; used or locked ones stay. */
  voidOfGrant(exec: Executor, tenantId: string, grantId: string): Promise<{ coupon_id: string; voided: boolean }[]>;
}

/** What createGrantService is given. */
export interface GrantDeps {
  db: Database;
  clock: Clock;
  rewards: RewardService;
  campaigns: CampaignService;
  ledger: LedgerService;
  jobs: JobQueue;
  gate: SoldOutGate;
  metrics: GrantMetrics;
  /** How long a reward or campaign read for a grant is reused (0: read every time). */
  snapshotTtlMs?: number;
  /** Group commit for grants that are their own transaction; null: one statement each. */
  batcher?: GrantBatcher | null;
  /** Membership of a campaign's audience (the audiences module): outside it, not_in_audience. */
  audiences?: AudienceCheck;
  /** Wallet coupons of COUPON rewards that name a coupon template; absent: such grants are refused (coupon_issue_unavailable). */
  coupons?: CouponIssuer;
}

/**
 * What the grant service's named functions share: its dependencies and the snapshot caches.
 * Made once per service (createGrantContext), never per grant.
 */
export interface GrantContext {
  readonly db: Database;
  readonly clock: Clock;
  readonly rewards: RewardService;
  readonly campaigns: CampaignService;
  readonly ledger: LedgerService;
  readonly jobs: JobQueue;
  readonly gate: SoldOutGate;
  readonly metrics: GrantMetrics;
  readonly batcher: GrantBatcher | null | undefined;
  readonly audiences: AudienceCheck | undefined;
  readonly coupons: CouponIssuer | undefined;
  readonly rewardCache: SnapshotCache<RewardRow>;
  readonly campaignCache: SnapshotCache<CampaignRow>;
}

export function createGrantContext(deps: GrantDeps): GrantContext {
  const snapshotTtlMs = deps.snapshotTtlMs ?? 5_000;
  return {
    db: deps.db,
    clock: deps.clock,
    rewards: deps.rewards,
    campaigns: deps.campaigns,
    ledger: deps.ledger,
    jobs: deps.jobs,
    gate: deps.gate,
    metrics: deps.metrics,
    batcher: deps.batcher,
    audiences: deps.audiences,
    coupons: deps.coupons,
    // Rewards and campaigns a grant decides on, kept briefly (see snapshot-cache.ts): the grant
    // statement verifies their versions, and any refusal decided on a cached row is decided again
    // on a fresh read, so a cached row can cost a round trip but never change an answer.
    rewardCache: createSnapshotCache<RewardRow>({ ttlMs: snapshotTtlMs }),
    campaignCache: createSnapshotCache<CampaignRow>({ ttlMs: snapshotTtlMs }),
  };
}

export const visibility = (a: TenantActor): repo.Visibility => ({ tenantId: a.tenantId, productCodes: a.productCodes });
export const gateKey = (tenantId: string, rewardId: string) => `${tenantId}\u0000${rewardId}`;
