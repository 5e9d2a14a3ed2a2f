import { Type, type Static } from 'typebox';
import { NullableTimestamp, PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';
import { REWARD_TYPES } from './reward.tables.js';

export const RewardTypeSchema = Type.Enum(REWARD_TYPES, { type: 'string' });

const ConfigInput = Type.Object(
  {
    generator: Type.Record(Type.String(), Type.Unknown(), { description: 'What one unit is; schema depends on reward_type' }),
    validator: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'per_user_limit, period, min_interval_seconds' })),
    distributor: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: '{type: AUTO} (default) or {type: WEBHOOK, url, secret}' })),
  },
  { description: 'Generator (what one unit is) / Validator (who may get it, how often) / Distributor (how it is delivered)' },
);

export const CreateRewardBody = Type.Object(
  {
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
    reward_name: Type.String({ minLength: 1, maxLength: 200 }),
    reward_type: RewardTypeSchema,
    product_code: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    campaign_id: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()])),
    total_stock: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000_000_000 }), Type.Null()], { description: 'null = unlimited' })),
    valid_from: Type.Optional(NullableTimestamp),
    valid_until: Type.Optional(NullableTimestamp),
    config: ConfigInput,
  },
  { additionalProperties: false },
);
export type CreateRewardInput = Static<typeof CreateRewardBody>;

export const UpdateRewardBody = Type.Partial(
  Type.Object({
    tenant_id: Type.String({ maxLength: 64 }),
    reward_name: Type.String({ minLength: 1, maxLength: 200 }),
    total_stock: Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000_000_000 }), Type.Null()]),
    valid_from: NullableTimestamp,
    valid_until: NullableTimestamp,
    config: ConfigInput,
  }),
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateRewardInput = Static<typeof UpdateRewardBody>;

export const Stock = Type.Object({
  total: Type.Union([Type.Integer(), Type.Null()]),
  reserved: Type.Integer(),
  used: Type.Integer(),
  available: Type.Union([Type.Integer(), Type.Null()]),
});

export const Reward = Type.Object({
  reward_id: Type.String(),
  tenant_id: Type.String(),
  product_code: Type.String(),
  campaign_id: Type.Union([Type.String(), Type.Null()]),
  reward_name: Type.String(),
  reward_type: RewardTypeSchema,
  total_stock: Type.Union([Type.Integer(), Type.Null()]),
  valid_from: NullableTimestamp,
  valid_until: NullableTimestamp,
  config: Type.Object({
    generator: Type.Record(Type.String(), Type.Unknown()),
    validator: Type.Record(Type.String(), Type.Unknown()),
    distributor: Type.Record(Type.String(), Type.Unknown()),
  }),
  stock: Stock,
  created_at: Timestamp,
  updated_at: Timestamp,
  version: Type.Integer(),
  created_by: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'The console operator (operator_id) who created it; null when an API key did' })),
  updated_by: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'The console operator who last changed it; changes by API keys are in the audit log' })),
});
export type RewardView = Static<typeof Reward>;

export const RewardList = Type.Object({ rewards: Type.Array(Reward), pagination: Pagination });
export const RewardListQuery = Type.Object(
  {
    ...PageQuery,
    reward_type: Type.Optional(RewardTypeSchema),
    campaign_id: Type.Optional(Type.String({ maxLength: 64 })),
    product_code: Type.Optional(Type.String({ maxLength: 64 })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type RewardListInput = Static<typeof RewardListQuery>;
export const RewardParams = Type.Object({ reward_id: Type.String({ minLength: 1, maxLength: 64 }) });
