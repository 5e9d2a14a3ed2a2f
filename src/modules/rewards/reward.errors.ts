import { AppError } from '../../platform/errors.js';
import { sharedErrors } from '../../platform/shared-errors.js';

/**
 * The rewards module's error codes and messages, one factory per refusal. `code` is the contract
 * with clients: never change an existing one. Plain field and config checks use `invalidRequest`.
 */
export const rewardErrors = {
  /** 400: product_code names no app of the tenant (foreign key; the code is unknown only if the row did not set it). */
  unknownProductCode: (productCode: string | null | undefined) => sharedErrors.unknownProductCode(productCode == null ? [] : [productCode]),

  /** 400: campaign_id names no campaign of the tenant. */
  unknownCampaign: (campaignId: string) =>
    new AppError('invalid', 'unknown_campaign', `No campaign ${campaignId} in this tenant`, { field: 'campaign_id' }),

  /** 400: the campaign belongs to another product than the reward. */
  campaignProductMismatch: (campaignId: string, campaignProductCode: string) =>
    new AppError('invalid', 'campaign_product_mismatch', `Campaign ${campaignId} belongs to product ${campaignProductCode}`, {
      field: 'campaign_id',
      campaign_product_code: campaignProductCode,
    }),

  /** 400: EMAIL and SMS distribution are not available yet. */
  distributorUnavailable: (kind: string) =>
    new AppError('invalid', 'distributor_unavailable', `${kind} distribution arrives with the outreach module; use AUTO or WEBHOOK`, {
      field: 'config.distributor.type',
    }),

  /** 400: config.generator.coupon_template_id names no coupon template of the tenant. */
  unknownCouponTemplate: (templateId: string) =>
    new AppError('invalid', 'unknown_coupon_template', `No coupon template ${templateId} in this tenant`, {
      field: 'config.generator.coupon_template_id',
      coupon_template_id: templateId,
    }),
};
