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
