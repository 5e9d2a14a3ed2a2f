/** The API's enumerations, as the generated types spell them. */
import type { paths } from './api';

type CampaignList = paths['/v1/campaigns']['get']['responses'][200]['content']['application/json'];
export type Campaign = CampaignList['campaigns'][number];
export type CampaignStatus = Campaign['status'];
export type CampaignType = Campaign['campaign_type'];
type RewardList = paths['/v1/rewards']['get']['responses'][200]['content']['application/json'];
export type Reward = RewardList['rewards'][number];
export type RewardType = Reward['reward_type'];

export const CAMPAIGN_STATUSES: CampaignStatus[] = ['DRAFT', 'SCHEDULED', 'ACTIVE', 'PAUSED', 'ENDED', 'ARCHIVED'];
export const CAMPAIGN_TYPES: CampaignType[] = ['PROMOTION', 'OUTREACH', 'REFERRAL', 'TASK', 'REDEEM_CODE', 'COUPON', 'FLASH_SALE', 'GROUP_BUY', 'CUSTOM'];
export const REWARD_TYPES: RewardType[] = ['POINTS', 'COUPON', 'BALANCE', 'REDEEM_CODE', 'SUBSCRIPTION', 'PHYSICAL', 'CUSTOM'];
export const CODE_TYPES = ['ALPHANUM', 'RANDOM_NUM', 'ALPHANUM_MIXED', 'UUID'] as const;
export const CODE_STATUSES = ['ACTIVE', 'REDEEMED', 'VOIDED', 'EXPIRED'] as const;

const STATUS_TAG: Record<CampaignStatus, 'default' | 'info' | 'success' | 'warning' | 'error'> = {
  DRAFT: 'default',
  SCHEDULED: 'info',
  ACTIVE: 'success',
  PAUSED: 'warning',
  ENDED: 'default',
  ARCHIVED: 'error',
};
export const statusTag = (status: CampaignStatus) => STATUS_TAG[status];
