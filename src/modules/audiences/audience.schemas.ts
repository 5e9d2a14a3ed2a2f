import { Type, type Static } from 'typebox';
import { PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';

export const AUDIENCE_TYPES = ['TAG', 'SEGMENT', 'LIST'] as const;
export const AudienceTypeSchema = Type.Enum(AUDIENCE_TYPES, {
  type: 'string',
  description: 'TAG: tag sets; SEGMENT: a rule tree over attributes, tags and dates; LIST: static user ids',
});

const JsonObject = Type.Record(Type.String(), Type.Unknown());
const Rule = Type.Union([JsonObject, Type.Null()], {
  description:
    'TAG: {"tags_any"?, "tags_all"?, "tags_none"?}. SEGMENT: {"and": [...]}, {"or": [...]}, {"not": {...}} or {"field", "op", "value"}. LIST: none.',
});

export const CreateAudienceBody = Type.Object(
  {
    tenant_id: Type.Optional(Type.String({ maxLength: 64, description: 'Optional; must equal the key\'s tenant' })),
    audience_name: Type.String({ minLength: 1, maxLength: 200 }),
    audience_type: AudienceTypeSchema,
    product_code: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'One of the tenant\'s apps; or send X-Product-Code' })),
    description: Type.Optional(Type.Union([Type.String({ maxLength: 4000 }), Type.Null()])),
    rule: Type.Optional(Rule),
  },
  { additionalProperties: false },
);
export type CreateAudienceInput = Static<typeof CreateAudienceBody>;

export const UpdateAudienceBody = Type.Object(
  {
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
    audience_name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    audience_type: Type.Optional(AudienceTypeSchema),
    product_code: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    description: Type.Optional(Type.Union([Type.String({ maxLength: 4000 }), Type.Null()])),
    rule: Type.Optional(Rule),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateAudienceInput = Static<typeof UpdateAudienceBody>;

export const Audience = Type.Object({
  audience_id: Type.String(),
  tenant_id: Type.String(),
  product_code: Type.String(),
  audience_name: Type.String(),
  audience_type: AudienceTypeSchema,
  description: Type.Union([Type.String(), Type.Null()]),
  rule: Type.Union([JsonObject, Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp,
  version: Type.Integer(),
});
export type AudienceView = Static<typeof Audience>;

export const AudienceList = Type.Object({ audiences: Type.Array(Audience), pagination: Pagination });
export const AudienceListQuery = Type.Object(
  {
    ...PageQuery,
    audience_type: Type.Optional(AudienceTypeSchema),
    product_code: Type.Optional(Type.String({ maxLength: 64 })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Case-insensitive substring of audience_name' })),
    tenant_id: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type AudienceListInput = Static<typeof AudienceListQuery>;

export const AudienceParams = Type.Object({ audience_id: Type.String({ minLength: 1, maxLength: 64 }) });
// No NUL: PostgreSQL text cannot hold it, so it would fail the statement rather than the one id.
export const USER_ID_MAX = 128;
export const UserIdText = Type.String({ minLength: 1, maxLength: USER_ID_MAX, pattern: '^[^\\u0000]*$', description: '1-128 characters, no NUL' });

export const MemberQuery = Type.Object({ user_id: UserIdText }, { additionalProperties: false });
export const Membership = Type.Object({
  audience_id: Type.String(),
  user_id: Type.String(),
  member: Type.Boolean(),
  reasons: Type.Array(Type.String(), { description: 'The conditions that decided the answer' }),
});

export const MAX_LIST_BATCH = 10_000;
export const MemberIdsBody = Type.Object(
  { user_ids: Type.Array(UserIdText, { minItems: 1, maxItems: MAX_LIST_BATCH }) },
  { additionalProperties: false },
);
export const MembersAdded = Type.Object({ audience_id: Type.String(), added: Type.Integer(), already_present: Type.Integer() });
export const UploadRowError = Type.Object({
  row: Type.Integer({ description: 'Line of the file (1 = the first line; a CSV header is line 1)' }),
  code: Type.String({ description: 'missing_user_id, invalid_user_id, wrong_field_count, invalid_csv, invalid_json or invalid_row' }),
  message: Type.String(),
});
export type UploadRowErrorType = Static<typeof UploadRowError>;
export const MembersUploadReport = Type.Object({
  audience_id: Type.String(),
  format: Type.String({ description: 'csv or ndjson' }),
  rows: Type.Integer({ description: 'Data rows read (rows = added + already_members + failed)' }),
  added: Type.Integer({ description: 'Ids that joined the list' }),
  already_members: Type.Integer({ description: 'Valid rows whose id was in the list already, including repeats within the file' }),
  failed: Type.Integer(),
  errors: Type.Array(UploadRowError, { description: 'Per failed row, in file order; the first 1,000' }),
  errors_truncated: Type.Boolean(),
});
export type MembersUploadReportType = Static<typeof MembersUploadReport>;
export const MembersRemoved = Type.Object({ audience_id: Type.String(), removed: Type.Integer() });

export const AudienceCount = Type.Object({ audience_id: Type.String(), count: Type.Integer(), evaluated_at: Timestamp });

export const PreviewQuery = Type.Object(
  {
    page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 20 })),
    after: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'The next_after of the previous page' })),
  },
  { additionalProperties: false },
);
export const PreviewCustomer = Type.Object({
  user_id: Type.String(),
  tags: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'null: a LIST member without a profile' }),
  attributes: Type.Union([JsonObject, Type.Null()]),
});
export const AudiencePreview = Type.Object({
  audience_id: Type.String(),
  customers: Type.Array(PreviewCustomer),
  next_after: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `after` for the next page; null on the last' }),
});

export const RulePreviewBody = Type.Object(
  {
    audience_type: Type.Enum(['TAG', 'SEGMENT'] as const, { type: 'string', description: 'The type the rule is for (LIST audiences have no rule)' }),
    rule: Rule,
    page_size: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, default: 10, description: 'How many matching users to list (0: the count only)' })),
  },
  { additionalProperties: false },
);
export type RulePreviewInput = Static<typeof RulePreviewBody>;
export const RulePreview = Type.Object({
  count: Type.Integer({ description: 'How many users the rule matches now' }),
  customers: Type.Array(PreviewCustomer, { description: 'The first matching users, in user_id order' }),
  evaluated_at: Timestamp,
});
