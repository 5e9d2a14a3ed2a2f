import { Type, type Static } from 'typebox';
import { PageQuery, Pagination, Slug, Timestamp } from '../../platform/http/common.schemas.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './password.js';

const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@]+@[^\\s@]+$', description: 'Sign-in e-mail (case-insensitive, unique per tenant)' });
const Password = (description: string) => Type.String({ minLength: MIN_PASSWORD_LENGTH, maxLength: MAX_PASSWORD_LENGTH, description });
const OperatorRoleField = Type.Union([Type.Literal('admin'), Type.Literal('operator'), Type.Literal('viewer')], {
  description: 'admin = API role admin, operator = service, viewer = readonly',
});
const OperatorId = Type.String({ minLength: 1, maxLength: 64, pattern: '^opr_[0-9A-Za-z]+$' });
const TenantIdField = Slug('Tenant of the operator', 64);

export const Operator = Type.Object({
  operator_id: Type.String(),
  tenant_id: Type.Union([Type.String(), Type.Null()], { description: 'null for a platform operator (master scope)' }),
  email: Type.String(),
  name: Type.String(),
  role: OperatorRoleField,
  disabled: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type OperatorView = Static<typeof Operator>;

export const CreateOperatorBody = Type.Object(
  {
    email: Email,
    password: Password(`At least ${MIN_PASSWORD_LENGTH} characters; never answered or logged`),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    role: Type.Optional(OperatorRoleField),
    tenant_id: Type.Optional(Type.Union([TenantIdField, Type.Null()], { description: "A tenant caller's own (default); the master scope names any, or null for a platform operator" })),
  },
  { additionalProperties: false },
);
export type CreateOperatorInput = Static<typeof CreateOperatorBody>;

export const UpdateOperatorBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    role: Type.Optional(OperatorRoleField),
    disabled: Type.Optional(Type.Boolean({ description: 'true ends every session of the operator' })),
    password: Type.Optional(Password('A new password (reset by an admin); ends every session of the operator')),
  },
  { additionalProperties: false },
);
export type UpdateOperatorInput = Static<typeof UpdateOperatorBody>;

export const OperatorParams = Type.Object({ operator_id: OperatorId });

export const OperatorListQuery = Type.Object(
  {
    ...PageQuery,
    tenant_id: Type.Optional(TenantIdField),
    platform: Type.Optional(Type.Boolean({ description: 'Master scope: only platform operators' })),
  },
  { additionalProperties: false },
);
export type OperatorListQueryType = Static<typeof OperatorListQuery>;

export const OperatorList = Type.Object({ operators: Type.Array(Operator), pagination: Pagination });

export const SignInBody = Type.Object(
  {
    email: Email,
    password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }),
    tenant_id: Type.Optional(Type.Union([TenantIdField, Type.Null()], { description: 'The tenant of the account; omitted or null = a platform operator' })),
  },
  { additionalProperties: false },
);
export type SignInInput = Static<typeof SignInBody>;

export const Session = Type.Object({ operator: Operator, csrf_token: Type.String() });
export type SessionView = Static<typeof Session>;

export const SignedOut = Type.Object({ signed_out: Type.Boolean() });

export const PasswordChangeBody = Type.Object(
  {
    current_password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }),
    new_password: Password(`At least ${MIN_PASSWORD_LENGTH} characters`),
  },
  { additionalProperties: false },
);
export type PasswordChangeInput = Static<typeof PasswordChangeBody>;

const AuditEventField = Type.Union([Type.Literal('sign_in'), Type.Literal('sign_in_failed'), Type.Literal('locked_out'), Type.Literal('sign_out')]);

export const AuditEntry = Type.Object({
  audit_id: Type.String(),
  tenant_id: Type.Union([Type.String(), Type.Null()]),
  actor_kind: Type.Union([Type.Literal('operator'), Type.Literal('api_key'), Type.Literal('master'), Type.Literal('anonymous')], {
    description: 'anonymous: a failed sign-in of an unknown e-mail',
  }),
  operator_id: Type.Union([Type.String(), Type.Null()]),
  key_id: Type.Union([Type.String(), Type.Null()]),
  method: Type.String(),
  route: Type.String({ description: 'The route pattern, e.g. /v1/campaigns/:campaign_id' }),
  entity_id: Type.Union([Type.String(), Type.Null()]),
  status: Type.Integer(),
  request_id: Type.String(),
  at: Timestamp,
  event: Type.Union([AuditEventField, Type.Null()], { description: 'A console sign-in event; null for an API request' }),
  details: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], { description: 'Of a sign-in event: email, ip' }),
});
export type AuditEntryView = Static<typeof AuditEntry>;

export const AuditQuery = Type.Object(
  {
    ...PageQuery,
    tenant_id: Type.Optional(TenantIdField),
    operator_id: Type.Optional(OperatorId),
    key_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    route: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'Exact route pattern' })),
    method: Type.Optional(Type.Union([Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('PATCH'), Type.Literal('DELETE')])),
    entity_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The changed thing (exact id)' })),
    actor_kind: Type.Optional(Type.Union([Type.Literal('operator'), Type.Literal('api_key'), Type.Literal('master'), Type.Literal('anonymous')])),
    event: Type.Optional(Type.Union([AuditEventField, Type.Literal('any')], { description: "A sign-in event; 'any': every sign-in event" })),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    until: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
export type AuditQueryType = Static<typeof AuditQuery>;

export const AuditList = Type.Object({ entries: Type.Array(AuditEntry), pagination: Pagination });

