import { AppError } from '../../platform/errors.js';
import { sharedErrors } from '../../platform/shared-errors.js';
import type { CampaignAction, CampaignStatus } from './campaign.status.js';

/**
 * The campaigns module's error codes and messages, one factory per refusal. `code` is the
 * contract with clients: never change an existing one. Plain field checks use `invalidRequest`.
 */
export const campaignErrors = {
  /** 409: an ARCHIVED or ENDED campaign takes no changes. */
  notEditable: (status: CampaignStatus) =>
    new AppError('conflict', 'campaign_not_editable', `A campaign that is ${status} cannot be changed`, { status }),

  /** 409: product_code changes only while the campaign is DRAFT. */
  productCodeLocked: (status: CampaignStatus) =>
    new AppError('conflict', 'campaign_field_locked', 'product_code can only change while the campaign is DRAFT', {
      field: 'product_code',
      status,
    }),

  /** 409: publishing a DRAFT whose end_time is over. */
  windowPassed: (endTime: string | null) =>
    new AppError('conflict', 'campaign_window_passed', 'end_time has passed; move it before publishing', {
      end_time: endTime,
    }),

  /** 409: the lifecycle action is not allowed from the campaign's status now. */
  invalidTransition: (action: CampaignAction, status: CampaignStatus, allowedFrom: readonly CampaignStatus[]) =>
    new AppError('conflict', 'invalid_campaign_transition', `Cannot ${action} a campaign that is ${status}`, {
      action,
      status,
      allowed_from: allowedFrom,
    }),

  /** 409: only DRAFT or ARCHIVED campaigns can be deleted. */
  notDeletable: (status: CampaignStatus) =>
    new AppError('conflict', 'campaign_not_deletable', 'Only DRAFT or ARCHIVED campaigns can be deleted; archive it first', {
      status,
    }),

  /** 409: the campaign is not ACTIVE now (grants, redemptions and task events need it ACTIVE). */
  notActive: (campaignId: string, status: CampaignStatus) =>
    new AppError('conflict', 'campaign_not_active', `Campaign ${campaignId} is ${status}, not ACTIVE`, {
      campaign_id: campaignId,
      status,
    }),

  /** 400: audience_id names no audience of the tenant (foreign key). */
  unknownAudience: (audienceId: string | null | undefined) =>
    new AppError('invalid', 'unknown_audience', `No audience ${audienceId} in this tenant`, { field: 'audience_id', audience_id: audienceId }),

  /** 400: product_code names no app of the tenant (foreign key; the code is unknown only if the row did not set it). */
  unknownProductCode: (productCode: string | null | undefined) => sharedErrors.unknownProductCode(productCode == null ? [] : [productCode]),
};
