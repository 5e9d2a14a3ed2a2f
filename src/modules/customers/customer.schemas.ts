import { Type, type Static } from 'typebox';
import { PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';

export const CHANNELS = ['sms', 'email', 'push'] as const;
export type Channel = (typeof CHANNELS)[number];
export const CONSENT_STATUSES = ['opt_in', 'opt_out'] as const;
export type ConsentStatus = (typeof CONSENT_STATUSES)[number];

export const MAX_TAGS = 256;
export const ATTRIBUTES_MAX_BYTES = 16 * 1024;

export const UserId = Type.String({ minLength: 1, maxLength: 128, description: 'Your id of the user' });
export const Tag = Type.String({ minLength: 1, maxLength: 64, pattern: '^\\S(.*\\S)?$', description: 'A tag: 1-64 characters, no leading or trailing space' });
export const TagList = Type.Array(Tag, { maxItems: MAX_TAGS });
const ConsentStatusSchema = Type.Enum(CONSENT_STATUSES, { type: 'string' });

export const ConsentInput = Type.Object(
  { sms: Type.Optional(ConsentStatusSchema), email: Type.Optional(ConsentStatusSchema), push: Type.Optional(ConsentStatusSchema) },
  { additionalProperties: false, minProperties: 1, description: 'opt_in / opt_out per channel; channels not named keep their state' },
);
export type ConsentInputType = Static<typeof ConsentInput>;

export const PutCustomerBody = Type.Object(
  {
    tags: Type.Optional(Type.Array(Tag, { maxItems: MAX_TAGS, description: 'Replaces the tag set (use POST .../tags to add or remove)' })),
    attributes: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.Unknown(), {
        description: 'Merged into the stored attributes by top-level key; a key set to null is removed; at most 16 KiB',
        // The key schema of a record does not hold the names themselves to it; this does.
        propertyNames: { minLength: 1, maxLength: 64 },
      }),
    ),
    consent: Type.Optional(ConsentInput),
  },
  { additionalProperties: false },
);
export type PutCustomerInput = Static<typeof PutCustomerBody>;

export const TagChangeBody = Type.Object(
  {
    add: Type.Optional(Type.Array(Tag, { maxItems: MAX_TAGS })),
    remove: Type.Optional(Type.Array(Tag, { maxItems: MAX_TAGS })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type TagChangeInput = Static<typeof TagChangeBody>;

const ConsentState = Type.Union([Type.Object({ status: ConsentStatusSchema, updated_at: Timestamp }), Type.Null()]);

export const Customer = Type.Object({
  tenant_id: Type.String(),
  user_id: Type.String(),
  tags: Type.Array(Type.String()),
  attributes: Type.Record(Type.String(), Type.Unknown()),
  consent: Type.Object({ sms: ConsentState, email: ConsentState, push: ConsentState }),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type CustomerView = Static<typeof Customer>;

export const CustomerParams = Type.Object({ user_id: UserId });

export const CustomerListQuery = Type.Object(
  {
    ...PageQuery,
    user_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Profiles whose user_id starts with this' })),
    tag: Type.Optional(Tag),
    phone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'attributes.phone equals this' })),
    email: Type.Optional(Type.String({ minLength: 1, maxLength: 254, description: 'attributes.email equals this' })),
  },
  { additionalProperties: false },
);
export type CustomerListInput = Static<typeof CustomerListQuery>;
export const CustomerList = Type.Object({ customers: Type.Array(Customer), pagination: Pagination });

export const ImportError = Type.Object({
  line: Type.Integer({ description: 'Line of the input (1 = the first line, the CSV header)' }),
  field: Type.Union([Type.String(), Type.Null()]),
  message: Type.String(),
});
export const ImportReport = Type.Object({
  format: Type.String(),
  rows: Type.Integer({ description: 'Data rows read' }),
  imported: Type.Integer({ description: 'Rows stored (created or updated)' }),
  failed: Type.Integer(),
  errors: Type.Array(ImportError, { description: 'Per failed row, in input order; the first 1,000' }),
  errors_truncated: Type.Boolean(),
});
export type ImportReportType = Static<typeof ImportReport>;
export type ImportErrorType = Static<typeof ImportError>;

