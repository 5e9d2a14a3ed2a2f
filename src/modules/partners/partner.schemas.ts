import { Type, type Static } from 'typebox';
import { Campaign, CreateCampaignBody } from '../campaigns/index.js';
import { Batch, CreateBatchBody } from '../redeem-codes/index.js';
import { CodeQuota } from '../tenants/index.js';

export const CreatePartnerCampaignBody = Type.Object(
  {
    campaign: CreateCampaignBody,
    redeem_codes: CreateBatchBody,
  },
  { additionalProperties: false, description: 'The campaign (as POST /v1/campaigns) and its batch of codes (as POST /v1/campaigns/{campaign_id}/redeem-codes)' },
);
export type CreatePartnerCampaignInput = Static<typeof CreatePartnerCampaignBody>;

export const PartnerCampaign = Type.Object({
  campaign: Campaign,
  batch: Batch,
  quota: Type.Union([CodeQuota, Type.Null()], { description: "The tenant's code quota after this batch; null when it has none" }),
});
export type PartnerCampaignView = Static<typeof PartnerCampaign>;
