import { Type, type Static } from 'typebox';
import { NullableTimestamp, PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';
import { CAMPAIGN_STATUSES } from './campaign.status.js';

export const CAMPAIGN_TYPES = [
  'PROMOTION',
  'OUTREACH',
  'REFERRAL',
  'TASK',
  'REDEEM_CODE',
  'COUPON',
  'FLASH_SALE',
  'GROUP_BUY',
  'CUSTOM',
] as const;
export type CampaignType = (typeof CAMPAIGN_TYPES)[number];

export const CampaignTypeSchema = Type.Enum(CAMPAIGN_TYPES, { type: 'string', description: 'Kind of campaign' });
export const CampaignStatusSchema = Type.Enum(CAMPAIGN_STATUSES, {
  type: 'string',
  description: 'DRAFT until published; SCHEDULED / ACTIVE / ENDED follow the time window',
});

const JsonObject = Type.Record(Type.String(), Type.Unknown());

const editable = {
  campaign_name: Type.String({ minLength: 1, maxLength: 200 }),
  campaign_type: CampaignTypeSchema,
  product_code: Type.String({ minLength: 1, maxLength: 64, description: 'One of the tenant\'s apps; or send X-Product-Code' }),
  description: Type.Union([Type.String({ maxLength: 4000 }), Type.Null()]),
  start_time: NullableTimestamp,
  end_time: NullableTimestamp,
  audience_id: Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()], {
    description: 'An audience of the tenant (any product), else 400 unknown_audience; null: everyone',
  }),
  form_fields: Type.Union([JsonObject, Type.Null()], {
    description: 'JSON Schema (type: object) of the landing-page form; at most 64 KiB',
  }),
  metadata: Type.Union([JsonObject, Type.Null()], { description: 'Free-form JSON object; at most 16 KiB' }),
};

export const CreateCampaignBody = Type.Object(
  {
    tenant_id: Type.Optional(Type.String({ maxLength: 64, description: 'Optional; must equal the key\'s tenant' })),
    campaign_name: editable.campaign_name,
    campaign_type: editable.campaign_type,
    product_code: Type.Optional(editable.product_code),
    description: Type.Optional(editable.description),
    start_time: Type.Optional(editable.start_time),
    end_time: Type.Optional(editable.end_time),
    audience_id: Type.Optional(editable.audience_id),
    form_fields: Type.Optional(editable.form_fields),
    metadata: Type.Optional(editable.metadata),
  },
  { additionalProperties: false },
);
export type CreateCampaignInput = Static<typeof CreateCampaignBody>;

/** Any subset of the create fields (at least one); PUT changes only what it names. */
export const UpdateCampaignBody = Type.Partial(CreateCampaignBody, { additionalProperties: false, minProperties: 1 });
export type UpdateCampaignInput = Static<typeof UpdateCampaignBody>;

export const Campaign = Type.Object({
  campaign_id: Type.String(),
  tenant_id: Type.String(),
  product_code: Type.String(),
  campaign_name: Type.String(),
  campaign_type: CampaignTypeSchema,
  description: Type.Union([Type.String(), Type.Null()]),
  start_time: NullableTimestamp,
  end_time: NullableTimestamp,
  audience_id: Type.Union([Type.String(), Type.Null()]),
  form_fields: Type.Union([JsonObject, Type.Null()]),
  metadata: JsonObject,
  status: CampaignStatusSchema,
  published_at: NullableTimestamp,
  paused_at: NullableTimestamp,
  archived_at: NullableTimestamp,
  created_at: Timestamp,
  updated_at: Timestamp,
  version: Type.Integer({ description: 'Goes up by one on every change' }),
  created_by: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'The console operator (operator_id) who created it; null when an API key did' })),
  updated_by: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'The console operator who last changed it; changes by API keys are in the audit log' })),
});
export type CampaignView = Static<typeof Campaign>;

export const CampaignList = Type.Object({ campaigns: Type.Array(Campaign), pagination: Pagination });

export const CampaignListQuery = Type.Object(
  {
    ...PageQuery,
    status: Type.Optional(CampaignStatusSchema),
    campaign_type: Type.Optional(CampaignTypeSchema),
    product_code: Type.Optional(Type.String({ maxLength: 64 })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Case-insensitive substring of campaign_name' })),
    start_from: Type.Optional(Type.String({ format: 'date-time', description: 'start_time >= this' })),
    start_to: Type.Optional(Type.String({ format: 'date-time', description: 'start_time < this' })),
    end_from: Type.Optional(Type.String({ format: 'date-time', description: 'end_time >= this' })),
    end_to: Type.Optional(Type.String({ format: 'date-time', description: 'end_time < this' })),
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type CampaignListInput = Static<typeof CampaignListQuery>;

export const CampaignParams = Type.Object({ campaign_id: Type.String({ minLength: 1, maxLength: 64 }) });
