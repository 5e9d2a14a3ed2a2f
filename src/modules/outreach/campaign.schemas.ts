import { Type, type Static } from 'typebox';
import { PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';
import { Channel, TemplateContent, TemplateDefaults } from './template.schemas.js';

export const CAMPAIGN_STATUSES = ['draft', 'scheduled', 'active', 'paused', 'completed', 'archived'] as const;
export type OutreachCampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

const Id = (description: string) => Type.String({ minLength: 1, maxLength: 64, description });

export const FrequencyCap = Type.Object(
  {
    count: Type.Integer({ minimum: 1, maximum: 1000, description: 'At most this many messages per customer per channel' }),
    period: Type.Union([Type.Literal('hour'), Type.Literal('day'), Type.Literal('week')], { description: 'per fixed hour, UTC day or ISO week' }),
  },
  { additionalProperties: false },
);
const ClockTime = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM, 24-hour clock' });
export const QuietHours = Type.Object(
  { start: ClockTime, end: ClockTime },
  { additionalProperties: false, description: "No sends from start to end in the customer's time zone (attributes.time_zone, else the tenant's)" },
);

export const Variant = Type.Object(
  {
    key: Type.String({ pattern: '^[A-Za-z0-9_-]{1,16}$' }),
    percent: Type.Integer({ minimum: 1, maximum: 100 }),
    content: Type.Optional(TemplateContent),
    template_id: Type.Optional(Id('A template of the campaign channel')),
  },
  { additionalProperties: false },
);
export const AbWinner = Type.Object(
  {
    metric: Type.Union([Type.Literal('open_rate'), Type.Literal('click_rate'), Type.Literal('conversion_rate'), Type.Literal('delivery_rate')]),
    test_hours: Type.Number({ exclusiveMinimum: 0, maximum: 720, description: 'How long the test cells run before the winner goes to the rest' }),
  },
  { additionalProperties: false },
);
export const Schedule = Type.Object(
  {
    cron: Type.String({ minLength: 1, maxLength: 120, description: 'Five or six field cron expression; each match starts a new run' }),
    time_zone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone of the expression (default UTC)' })),
  },
  { additionalProperties: false },
);

const campaignFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  target_tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50, description: 'Customers with any of these tags' })),
  target_segment_id: Type.Optional(Type.Union([Id('An audience id (TAG, SEGMENT or LIST)'), Type.Null()])),
  template_id: Type.Optional(Type.Union([Id('A message template of the same channel'), Type.Null()])),
  content: Type.Optional(Type.Union([TemplateContent, Type.Null()])),
  defaults: Type.Optional(TemplateDefaults),
  link_url: Type.Optional(Type.Union([Type.String({ format: 'uri', maxLength: 2000, description: 'Where [链接] leads, through the click tracker' }), Type.Null()])),
  variants: Type.Optional(Type.Union([Type.Array(Variant, { minItems: 2, maxItems: 5 }), Type.Null()])),
  ab_winner: Type.Optional(Type.Union([AbWinner, Type.Null()])),
  provider_id: Type.Optional(Type.Union([Id('A provider of the channel (default: the tenant default for the channel)'), Type.Null()])),
  reward_id: Type.Optional(Type.Union([Id('A reward granted once per delivered message'), Type.Null()])),
  goal_event_type: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64, description: 'Task event type that counts as a conversion' }), Type.Null()])),
  conversion_window_hours: Type.Optional(Type.Integer({ minimum: 1, maximum: 8760 })),
  frequency_cap: Type.Optional(Type.Union([FrequencyCap, Type.Null()])),
  quiet_hours: Type.Optional(Type.Union([QuietHours, Type.Null()])),
  transactional: Type.Optional(Type.Boolean({ description: 'Bypasses frequency caps and quiet hours (never opt-outs)' })),
  start_time: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
  end_time: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
  schedule: Type.Optional(Type.Union([Schedule, Type.Null()])),
};

export const CreateCampaignBody = Type.Object({ ...campaignFields, channel: Channel }, { additionalProperties: false });
export type CreateCampaignInput = Static<typeof CreateCampaignBody>;

export const UpdateCampaignBody = Type.Object(
  { ...campaignFields, name: Type.Optional(campaignFields.name) },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateCampaignInput = Static<typeof UpdateCampaignBody>;

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const Campaign = Type.Object({
  campaign_id: Type.String(),
  tenant_id: Type.String(),
  name: Type.String(),
  channel: Type.String(),
  status: Type.String(),
  target_tags: Type.Array(Type.String()),
  target_segment_id: Nullable(Type.String()),
  template_id: Nullable(Type.String()),
  content: Type.Unknown(),
  defaults: Type.Unknown(),
  link_url: Nullable(Type.String()),
  variants: Type.Unknown(),
  ab_winner: Type.Unknown(),
  provider_id: Nullable(Type.String()),
  reward_id: Nullable(Type.String()),
  goal_event_type: Nullable(Type.String()),
  conversion_window_hours: Type.Integer(),
  frequency_cap: Type.Unknown(),
  quiet_hours: Type.Unknown(),
  transactional: Type.Boolean(),
  start_time: Nullable(Timestamp),
  end_time: Nullable(Timestamp),
  schedule: Type.Unknown(),
  next_run_at: Nullable(Timestamp),
  actual_start_time: Nullable(Timestamp),
  actual_end_time: Nullable(Timestamp),
  created_by: Type.String(),
  updated_by: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type CampaignView = Static<typeof Campaign>;

export const CampaignParams = Type.Object({ campaign_id: Id('Outreach campaign id') });
export const CampaignListQuery = Type.Object(
  {
    ...PageQuery,
    status: Type.Optional(Type.Union(CAMPAIGN_STATUSES.map((s) => Type.Literal(s)))),
    channel: Type.Optional(Channel),
    name: Type.Optional(Type.String({ maxLength: 200, description: 'Part of the name' })),
  },
  { additionalProperties: false },
);
export type CampaignListInput = Static<typeof CampaignListQuery>;
export const CampaignList = Type.Object({ campaigns: Type.Array(Campaign), pagination: Pagination });
