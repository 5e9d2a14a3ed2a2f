import { Type, type Static } from 'typebox';
import { NullableTimestamp, PageQuery, Pagination, Slug, Timestamp } from '../../platform/http/common.schemas.js';

export const TenantIdParam = Type.Object({ tenant_id: Type.String({ maxLength: 64 }) });

export const CreateTenantBody = Type.Object(
  {
    tenant_id: Slug('Your id for the tenant: letters, digits, _ . -', 64),
    name: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
);
export type CreateTenantInput = Static<typeof CreateTenantBody>;

export const Tenant = Type.Object({
  tenant_id: Type.String(),
  name: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type TenantView = Static<typeof Tenant>;

export const TenantList = Type.Object({ tenants: Type.Array(Tenant), pagination: Pagination });
export const TenantListQuery = Type.Object(PageQuery, { additionalProperties: false });

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
