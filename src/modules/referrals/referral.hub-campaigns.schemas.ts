import { type Static, Type } from 'typebox';
import { NullableTimestamp, PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';
import { ReferralSettingsBody, RewardRule } from './referral.schemas.js';

/**
 * The product document's campaign paths (`/api/v1/campaigns`): one resource made of a campaign
 * (the campaigns module) and its referral settings, in the document's field names.
 */
const settings = ReferralSettingsBody.properties;

/** The document's reward rule: a rate of the order amount (0.1 = 10%), or the settings' object form. */
export const HubRewardRule = Type.Union(
  [Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'A rate of the order amount (0.1 = 10%), rounded to basis points' }), RewardRule],
  { description: 'A rate (the document\'s `orderAmount * rewardRule`) or {type: fixed|percent, ...}' },
);
export type HubRewardRuleInput = Static<typeof HubRewardRule>;

const HubPayment = Type.Object(
  {
    amount: Type.Integer({ minimum: 1, maximum: 100_000_000_00, description: 'The price of a sign-up, in fen' }),
    currency: Type.Optional(Type.Literal('CNY')),
    provider: Type.Optional(Type.Union([Type.Literal('sandbox'), Type.Literal('wechat_pay')], { description: 'wechat_pay unless given' })),
  },
  { additionalProperties: false },
);
const HubPaymentPatch = Type.Object({ ...HubPayment.properties, amount: Type.Optional(HubPayment.properties.amount) }, { additionalProperties: false });

const FormFields = Type.Record(Type.String(), Type.Unknown(), { description: 'JSON Schema (type: object) of the sign-up form; at most 64 KiB' });
const Name = Type.String({ minLength: 1, maxLength: 200 });
const Description = Type.Union([Type.String({ maxLength: 4000 }), Type.Null()]);
export const HubStatusInput = Type.Union([Type.Literal('active'), Type.Literal('disabled')], { description: 'ended is not settable (it follows end_time)' });

const common = {
  description: Type.Optional(Description),
  image_url: settings.image_url,
  start_time: Type.Optional(NullableTimestamp),
  end_time: Type.Optional(NullableTimestamp),
  status: Type.Optional(HubStatusInput),
  second_level: settings.second_level,
  wechat_app_id: settings.wechat_app_id,
};

export const HubCampaignBody = Type.Object(
  {
    name: Name,
    product_code: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "One of the tenant's apps; or send X-Product-Code" })),
    form_fields: FormFields,
    reward_rule: HubRewardRule,
    payment: HubPayment,
    ...common,
  },
  { additionalProperties: false },
);
export type HubCampaignInput = Static<typeof HubCampaignBody>;

export const HubCampaignPatch = Type.Object(
  { name: Type.Optional(Name), form_fields: Type.Optional(FormFields), reward_rule: Type.Optional(HubRewardRule), payment: Type.Optional(HubPaymentPatch), ...common },
  { additionalProperties: false, minProperties: 1 },
);
export type HubCampaignPatchInput = Static<typeof HubCampaignPatch>;

export const HUB_STATUSES = ['active', 'scheduled', 'ended', 'disabled'] as const;
export type HubStatus = (typeof HUB_STATUSES)[number];

export const HubCampaignQuery = Type.Object({
  ...PageQuery,
  keyword: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Part of the name (case-insensitive)' })),
  status: Type.Optional(Type.Enum(HUB_STATUSES, { type: 'string', description: '进行中 active, scheduled, 已结束 ended, 禁用 disabled' })),
});
export type HubCampaignQueryInput = Static<typeof HubCampaignQuery>;

export const HubCampaign = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  image_url: Type.Union([Type.String(), Type.Null()]),
  form_fields: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  reward_rule: Type.Object({ type: Type.String(), amount: Type.Optional(Type.Integer()), percent: Type.Optional(Type.Number()), cap: Type.Optional(Type.Union([Type.Integer(), Type.Null()])) }),
  reward_rate: Type.Union([Type.Number(), Type.Null()], { description: 'The percent rule as a rate (0.1 = 10%); null for a fixed rule' }),
  payment: Type.Object({ amount: Type.Integer(), currency: Type.String(), provider: Type.String() }),
  second_level: Type.Union([Type.Object({ percent: Type.Number() }), Type.Null()]),
  wechat_app_id: Type.Union([Type.String(), Type.Null()]),
  start_time: NullableTimestamp,
  end_time: NullableTimestamp,
  status: Type.Enum(HUB_STATUSES, { type: 'string' }),
  page_url: Type.String({ description: 'The landing page of the campaign' }),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type HubCampaignView = Static<typeof HubCampaign>;
export const HubCampaignList = Type.Object({ campaigns: Type.Array(HubCampaign), pagination: Pagination });
