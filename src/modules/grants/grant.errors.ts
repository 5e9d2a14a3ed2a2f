import { AppError, type ErrorDetails } from '../../platform/errors.js';
import { sharedErrors } from '../../platform/shared-errors.js';
import type { DeliveryStatus, GrantStatus } from './grant.tables.js';

/** A machine-readable reason why a grant would be (or was) refused. */
export interface Refusal {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

/**
 * The reasons a grant is refused, as the eligibility check lists them and (through
 * `grantErrors.fromRefusal`) as a grant answers them. inventory_exhausted is also answered by the
 * grant statement with another message: see `grantErrors` below.
 */
export const grantRefusals = {
  rewardNotStarted: (validFrom: Date): Refusal => ({
    code: 'reward_not_started',
    message: `Reward is valid from ${validFrom.toISOString()}`,
    details: { valid_from: validFrom.toISOString() },
  }),

  rewardExpired: (validUntil: Date): Refusal => ({
    code: 'reward_expired',
    message: `Reward was valid until ${validUntil.toISOString()}`,
    details: { valid_until: validUntil.toISOString() },
  }),

  audienceCheckUnavailable: (audienceId: string): Refusal => ({
    code: 'audience_check_unavailable',
    message: 'The campaign has an audience, and no audience check is configured',
    details: { audience_id: audienceId },
  }),

  audienceMissing: (campaignId: string, audienceId: string): Refusal => ({
    code: 'audience_missing',
    message: `Campaign ${campaignId} names audience ${audienceId}, which does not exist; point the campaign at an existing audience`,
    details: { campaign_id: campaignId, audience_id: audienceId },
  }),

  notInAudience: (audienceId: string, reasons: string[]): Refusal => ({
    code: 'not_in_audience',
    message: "The user is not in the campaign's audience",
    details: { audience_id: audienceId, reasons },
  }),

  /** Eligibility check only: the same request would get its earlier grant back. */
  sourceAlreadyGranted: (grantId: string): Refusal => ({
    code: 'source_already_granted',
    message: 'This cause already granted this reward; a grant call returns that grant',
    details: { grant_id: grantId },
  }),

  /** Eligibility check's wording of source_already_used (a grant names the source: `grantErrors.sourceAlreadyUsed`). */
  sourceAlreadyUsed: (grantId: string): Refusal => ({
    code: 'source_already_used',
    message: 'This cause already granted this reward to another request',
    details: { grant_id: grantId },
  }),

  /**
   * per_user_limit_reached, wherever it is found: one request asking more than the limit (before
   * any counter), the eligibility check's read of the counter, and the grant statement's counter
   * (also under a race, sql/mh_grant_set.sql). One message and one details shape for all three.
   */
  perUserLimitReached: (perUserLimit: number, period: string, quantity: number): Refusal => ({
    code: 'per_user_limit_reached',
    message: `Limit of ${perUserLimit} per ${period.toLowerCase()} reached (asked for ${quantity})`,
    details: { per_user_limit: perUserLimit, period, quantity },
  }),

  /**
   * min_interval_not_elapsed, wherever it is found: the eligibility check's read of the last grant
   * time and the grant statement's stamp (which answers how long to wait).
   */
  minIntervalNotElapsed: (minIntervalSeconds: number, retryAfterSeconds: number): Refusal => ({
    code: 'min_interval_not_elapsed',
    message: `Next grant possible in ${retryAfterSeconds} s (at most one every ${minIntervalSeconds} s)`,
    details: { min_interval_seconds: minIntervalSeconds, retry_after_seconds: retryAfterSeconds },
  }),

  /** A COUPON reward names a coupon template, and this service was given no coupon issuer (a wiring fault). */
  couponIssueUnavailable: (templateId: string): Refusal => ({
    code: 'coupon_issue_unavailable',
    message: 'The reward issues wallet coupons, and no coupon issuer is configured',
    details: { coupon_template_id: templateId },
  }),

  /** inventory_exhausted as the eligibility check finds it (the one wording of platform/shared-errors.ts). */
  inventoryExhausted: (rewardId: string, available: number): Refusal => {
    const e = sharedErrors.inventoryExhausted(rewardId, available);
    return { code: e.code, message: e.message, details: e.details ?? {} };
  },
};

/**
 * The grants module's error codes and messages, one factory per refusal. `code` is the contract
 * with clients: never change an existing one.
 */
export const grantErrors = {
  /** 409 for a refusal of `grantRefusals`. */
  fromRefusal: (r: Refusal) => new AppError('conflict', r.code, r.message, r.details),

  /** 409: the request names another campaign than the reward's own. */
  campaignMismatch: (rewardId: string, campaignId: string) =>
    new AppError('conflict', 'campaign_mismatch', `Reward ${rewardId} belongs to campaign ${campaignId}`, {
      campaign_id: campaignId,
    }),

  /** 409: the cause (source, source_id) already granted this reward to another request. */
  sourceAlreadyUsed: (source: string, sourceId: string, grantId: string) =>
    new AppError('conflict', 'source_already_used', `${source} ${sourceId} already granted this reward to another request`, {
      grant_id: grantId,
    }),

  /** 400: source and source_id are sent together or not at all; `field` names the missing one. */
  sourcePairIncomplete: (field: 'source' | 'source_id') =>
    new AppError('invalid', 'invalid_request', 'source and source_id go together', { field }),

  /** 409: the reward or its campaign kept changing under the grant (after 3 attempts). */
  concurrentUpdate: () => new AppError('conflict', 'concurrent_update', 'The reward or its campaign changed while granting; retry', {}),

  /** 409 inventory_exhausted from the grant statement and the sold-out gate (platform/shared-errors.ts). */
  inventoryExhausted: (rewardId: string, available = 0) => sharedErrors.inventoryExhausted(rewardId, available),

  /** 409 per_user_limit_reached (see grantRefusals.perUserLimitReached). */
  perUserLimitReached: (perUserLimit: number, period: string, quantity: number) =>
    grantErrors.fromRefusal(grantRefusals.perUserLimitReached(perUserLimit, period, quantity)),

  /** 409 min_interval_not_elapsed (see grantRefusals.minIntervalNotElapsed). */
  minIntervalNotElapsed: (minIntervalSeconds: number, retryAfterSeconds: number) =>
    grantErrors.fromRefusal(grantRefusals.minIntervalNotElapsed(minIntervalSeconds, retryAfterSeconds)),

  /** 409 for any other refusal code of the grant statement: the code as words, its details as sent. */
  otherRefusal: (code: string, details: ErrorDetails) => new AppError('conflict', code, code.replaceAll('_', ' '), details),

  /** 409: USED / REVOKED from a status that does not allow it. */
  invalidTransition: (status: GrantStatus, requested: GrantStatus, allowedFrom: readonly GrantStatus[]) =>
    new AppError('conflict', 'invalid_grant_transition', `Cannot mark a ${status} grant ${requested}`, {
      status,
      requested,
      allowed_from: allowedFrom,
    }),

  /** 409: only WEBHOOK grants have a delivery to retry. */
  deliveryNotApplicable: () => new AppError('conflict', 'delivery_not_applicable', 'Only WEBHOOK grants are delivered', {}),

  /** 409: only a FAILED delivery can be retried. */
  deliveryNotFailed: (deliveryStatus: DeliveryStatus) =>
    new AppError('conflict', 'delivery_not_failed', `Delivery is ${deliveryStatus}; only FAILED deliveries can be retried`, {
      delivery_status: deliveryStatus,
    }),
};
