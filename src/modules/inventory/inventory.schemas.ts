import { Type, type Static } from 'typebox';
import { NullableTimestamp, PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';

export const ReserveBody = Type.Object(
  {
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
    reward_id: Type.String({ minLength: 1, maxLength: 64 }),
    quantity: Type.Integer({ minimum: 1, maximum: 1000 }),
    user_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    ttl_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400, default: 900, description: 'Hold time; default 15 min' })),
  },
  { additionalProperties: false },
);
export type ReserveInput = Static<typeof ReserveBody>;

const ReservationStatus = Type.Enum(['RESERVED', 'CONFIRMED', 'CANCELLED', 'EXPIRED'] as const, { type: 'string' });

export const Reservation = Type.Object({
  reservation_id: Type.String(),
  tenant_id: Type.String(),
  reward_id: Type.String(),
  user_id: Type.Union([Type.String(), Type.Null()]),
  quantity: Type.Integer(),
  status: ReservationStatus,
  expires_at: Timestamp,
  confirmed_at: NullableTimestamp,
  released_at: NullableTimestamp,
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type ReservationView = Static<typeof Reservation>;

export const ReservationList = Type.Object({ reservations: Type.Array(Reservation), pagination: Pagination });
export const ReservationListQuery = Type.Object(
  {
    ...PageQuery,
    reward_id: Type.Optional(Type.String({ maxLength: 64 })),
    user_id: Type.Optional(Type.String({ maxLength: 128 })),
    status: Type.Optional(ReservationStatus),
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type ReservationListInput = Static<typeof ReservationListQuery>;
export const ReservationParams = Type.Object({ reservation_id: Type.String({ minLength: 1, maxLength: 64 }) });
