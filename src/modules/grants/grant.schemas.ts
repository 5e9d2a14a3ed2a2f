import { Type, type Static } from 'typebox';
import { NullableTimestamp, PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';
import { GRANT_STATUSES } from './grant.tables.js';

const Id = (description?: string) => Type.String({ minLength: 1, maxLength: 128, ...(description ? { description } : {}) });

export const GrantBody = Type.Object(
  {
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
    reward_id: Id(),
    user_id: Id('Your id of the user'),
    campaign_id: Type.Optional(Id('Needed only when the reward has no campaign of its own')),
    quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1 })),
    source: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'What caused the grant: task_completion, order, redeem_code ...' })),
    source_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Id of the cause: one grant per (source, source_id, reward)' })),
  },
  { additionalProperties: false },
);
export type GrantInput = Static<typeof GrantBody>;

export const GrantStatusSchema = Type.Enum(GRANT_STATUSES, { type: 'string' });

export const Grant = Type.Object({
  grant_id: Type.String(),
  tenant_id: Type.String(),
  reward_id: Type.String(),
  reward_type: Type.String(),
  product_code: Type.String(),
  campaign_id: Type.Union([Type.String(), Type.Null()]),
  user_id: Type.String(),
  quantity: Type.Integer(),
  source: Type.Union([Type.String(), Type.Null()]),
  source_id: Type.Union([Type.String(), Type.Null()]),
  status: GrantStatusSchema,
  distributor: Type.String(),
  payload: Type.Record(Type.String(), Type.Unknown(), { description: 'What was generated: points, coupons, codes ...' }),
  delivery: Type.Object({
    status: Type.String({ description: 'NOT_REQUIRED (AUTO), PENDING, DELIVERED, FAILED' }),
    attempts: Type.Integer(),
    last_error: Type.Union([Type.String(), Type.Null()]),
    delivered_at: NullableTimestamp,
  }),
  used_at: NullableTimestamp,
  revoked_at: NullableTimestamp,
  revoke_reason: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type GrantView = Static<typeof Grant>;

export const GrantList = Type.Object({ grants: Type.Array(Grant), pagination: Pagination });
export const GrantListQuery = Type.Object(
  {
    ...PageQuery,
    reward_id: Type.Optional(Id()),
    campaign_id: Type.Optional(Id()),
    user_id: Type.Optional(Id()),
    status: Type.Optional(GrantStatusSchema),
    created_from: Type.Optional(Type.String({ format: 'date-time' })),
    created_to: Type.Optional(Type.String({ format: 'date-time' })),
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type GrantListInput = Static<typeof GrantListQuery>;
export const GrantParams = Type.Object({ grant_id: Type.String({ minLength: 1, maxLength: 64 }) });

export const StatusBody = Type.Object(
  {
    status: Type.Enum(['USED', 'REVOKED'] as const, { type: 'string', description: 'USED (from DELIVERED) or REVOKED' }),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type StatusInput = Static<typeof StatusBody>;

export const Reason = Type.Object({
  code: Type.String(),
  message: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
});
export const Eligibility = Type.Object({ eligible: Type.Boolean(), reasons: Type.Array(Reason) });
export type EligibilityView = Static<typeof Eligibility>;

/** One grant of a batch: a GrantBody without tenant_id (the batch's own tenant_id, if any, says it once). */
const BatchGrantItem = Type.Object(
  Object.fromEntries(Object.entries(GrantBody.properties).filter(([k]) => k !== 'tenant_id')) as Omit<typeof GrantBody.properties, 'tenant_id'>,
  { additionalProperties: false },
);

export const BatchGrantBody = Type.Object(
  {
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
    grants: Type.Array(BatchGrantItem, { minItems: 1, maxItems: 100, description: 'Up to 100 grants, each as POST /v1/reward-grants takes it' }),
  },
  { additionalProperties: false },
);
export type BatchGrantInput = Static<typeof BatchGrantBody>;

export const BatchGrantItemResult = Type.Object({
  index: Type.Integer({ description: 'The item\'s place in `grants`' }),
  status: Type.Union([Type.Literal('granted'), Type.Literal('replayed'), Type.Literal('refused'), Type.Literal('error')], {
    description: 'granted; replayed (the same source and source_id granted before: that grant); refused (a rule said no: error.code); error (the item is wrong: unknown reward, incomplete source pair ...)',
  }),
  grant: Type.Union([Grant, Type.Null()]),
  error: Type.Union([
    Type.Object({ code: Type.String(), message: Type.String(), status: Type.Integer({ description: 'The status this item would have had alone' }), details: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]) }),
    Type.Null(),
  ]),
});
export type BatchGrantItemView = Static<typeof BatchGrantItemResult>;

export const BatchGrantResult = Type.Object({
  results: Type.Array(BatchGrantItemResult),
  summary: Type.Object({ granted: Type.Integer(), replayed: Type.Integer(), refused: Type.Integer(), error: Type.Integer() }),
});
export type BatchGrantResultView = Static<typeof BatchGrantResult>;
