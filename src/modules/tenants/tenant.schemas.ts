import { Type, type Static } from 'typebox';
import { NullableTimestamp, PageQuery, Pagination, Slug, Timestamp } from '../../platform/http/common.schemas.js';
import { TENANT_TYPES } from './tenant.tables.js';

export const TenantTypeSchema = Type.Enum(TENANT_TYPES, {
  type: 'string',
  description: 'PLATFORM (default): a tenant of the platform; CHANNEL: a channel partner, which may also create a campaign with its codes in one request (POST /v1/partner/campaigns)',
});

export const TenantIdParam = Type.Object({ tenant_id: Type.String({ maxLength: 64 }) });

export const CreateTenantBody = Type.Object(
  {
    tenant_id: Slug('Your id for the tenant: letters, digits, _ . -', 64),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    tenant_type: Type.Optional(TenantTypeSchema),
  },
  { additionalProperties: false },
);
export type CreateTenantInput = Static<typeof CreateTenantBody>;

export const UpdateTenantBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    tenant_type: Type.Optional(TenantTypeSchema),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateTenantInput = Static<typeof UpdateTenantBody>;

export const Tenant = Type.Object({
  tenant_id: Type.String(),
  name: Type.String(),
  tenant_type: TenantTypeSchema,
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type TenantView = Static<typeof Tenant>;

export const TenantList = Type.Object({ tenants: Type.Array(Tenant), pagination: Pagination });
export const TenantListQuery = Type.Object(
  {
    ...PageQuery,
    tenant_type: Type.Optional(TenantTypeSchema),
    search: Type.Optional(Type.String({ maxLength: 100, description: 'The tenant id or name contains it (case-insensitive)' })),
  },
  { additionalProperties: false },
);

const Limit = (description: string) => Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000_000_000 }), Type.Null()], { description });

export const SetCodeQuotaBody = Type.Object(
  {
    daily_limit: Limit('Codes per local day (in time_zone); null = no daily limit'),
    total_limit: Limit('Codes in all; null = no total limit'),
    time_zone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA zone the day is counted in (default Asia/Shanghai)' })),
  },
  { additionalProperties: false },
);
export type SetCodeQuotaInput = Static<typeof SetCodeQuotaBody>;

const Count = Type.Union([Type.Integer(), Type.Null()]);
export const CodeQuota = Type.Object({
  tenant_id: Type.String(),
  daily_limit: Count,
  total_limit: Count,
  time_zone: Type.String(),
  day: Type.String({ description: 'Today in time_zone (YYYY-MM-DD)' }),
  used_today: Type.Integer(),
  used_total: Type.Integer({ description: 'Codes of every batch ever created, voided batches included' }),
  remaining_today: Count,
  remaining_total: Count,
  resets_at: Timestamp,
  updated_at: Timestamp,
});
export type CodeQuotaView = Static<typeof CodeQuota>;

export const ApiKeyRoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('service'), Type.Literal('readonly')], {
  description: 'admin: everything in the tenant, keys and apps included; service: read and write business data; readonly: GET only',
});

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    role: ApiKeyRoleSchema,
    product_codes: Type.Optional(
      Type.Array(Slug('product_code of one of the tenant\'s apps', 64), { minItems: 1, maxItems: 100, uniqueItems: true }),
    ),
  },
  { additionalProperties: false },
);
export type CreateApiKeyInput = Static<typeof CreateApiKeyBody>;

export const ApiKey = Type.Object({
  key_id: Type.String(),
  tenant_id: Type.String(),
  name: Type.String(),
  role: ApiKeyRoleSchema,
  prefix: Type.String({ description: 'The visible start of the key, to recognise it in lists' }),
  product_codes: Type.Union([Type.Array(Type.String()), Type.Null()]),
  created_at: Timestamp,
  last_used_at: NullableTimestamp,
  revoked_at: NullableTimestamp,
});
export type ApiKeyView = Static<typeof ApiKey>;

export const CreatedApiKey = Type.Intersect([
  ApiKey,
  Type.Object({
    key: Type.Optional(
      Type.String({
        description:
          'The secret. Shown once: only its hash is stored. Absent when an Idempotency-Key retry replays this answer; if the secret was lost, revoke the key and create another.',
      }),
    ),
  }),
]);
export type CreatedApiKeyView = Static<typeof CreatedApiKey>;

export const ApiKeyList = Type.Object({ api_keys: Type.Array(ApiKey), pagination: Pagination });
export const ApiKeyListQuery = Type.Object(
  { ...PageQuery, include_revoked: Type.Optional(Type.Boolean({ default: false })) },
  { additionalProperties: false },
);
export const ApiKeyParams = Type.Object({ tenant_id: Type.String({ maxLength: 64 }), key_id: Type.String({ maxLength: 64 }) });
