import { ClientIpField } from '../../platform/client-ip.js';
import { Type, type Static } from 'typebox';
import { NullableTimestamp, PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';
import { CODE_TYPES, MAX_LENGTH, MIN_LENGTH } from './redeem-code.rules.js';
import { BATCH_STATUSES } from './redeem-code.tables.js';

const Id = (description?: string) => Type.String({ minLength: 1, maxLength: 128, ...(description ? { description } : {}) });
const TenantId = Type.Optional(Type.String({ maxLength: 64 }));
const Strings = (description: string) => Type.Union([Type.Array(Type.String()), Type.Null()], { description });

export const CreateBatchBody = Type.Object(
  {
    tenant_id: TenantId,
    count: Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'Up to 10,000 are made at once (201); more by a background job (202)' }),
    reward_id: Id('The reward each redemption grants; a reward of this tenant'),
    code_type: Type.Enum(CODE_TYPES, { type: 'string' }),
    length: Type.Optional(Type.Integer({ minimum: MIN_LENGTH, maximum: MAX_LENGTH, description: 'Random characters (default 12; UUID: always 32 hex digits)' })),
    prefix: Type.Optional(Type.String({ maxLength: 16, description: 'Letters and digits put before every code' })),
    exclude_chars: Type.Optional(Type.String({ maxLength: 62, description: 'Characters never used; default the look-alikes 0 O 1 I L (and l o for ALPHANUM_MIXED); "" for none' })),
    check_char: Type.Optional(Type.Boolean({ description: 'Append a Luhn mod N check character, so a mistyped code is refused without a look-up' })),
    group_size: Type.Optional(Type.Integer({ minimum: 2, maximum: 16, description: 'Show codes in dash-separated groups of this size (XXXX-XXXX); input is accepted with or without dashes' })),
    expires_at: Type.Optional(Type.String({ format: 'date-time' })),
    max_uses: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000, default: 1, description: 'Redemptions per code in all; each user redeems a code at most once' })),
    applicable_products: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 100, description: 'Product codes that may redeem; default all' })),
  },
  { additionalProperties: false },
);
export type CreateBatchInput = Static<typeof CreateBatchBody>;

export const Batch = Type.Object({
  batch_id: Type.String(),
  tenant_id: Type.String(),
  campaign_id: Type.String(),
  reward_id: Type.String(),
  product_code: Type.String(),
  code_type: Type.String(),
  length: Type.Integer(),
  prefix: Type.String(),
  alphabet: Type.String(),
  check_char: Type.Boolean(),
  group_size: Type.Union([Type.Integer(), Type.Null()]),
  expires_at: NullableTimestamp,
  max_uses: Type.Integer(),
  applicable_products: Strings('null = every product'),
  status: Type.Enum(BATCH_STATUSES, { type: 'string' }),
  total: Type.Integer(),
  generated: Type.Integer(),
  entropy_bits: Type.Number(),
  voided_at: NullableTimestamp,
  created_at: Timestamp,
  updated_at: Timestamp,
  codes: Type.Optional(Type.Array(Type.String(), { description: 'The codes (display form), for batches made at once' })),
});
export type BatchView = Static<typeof Batch>;

export const CampaignParams = Type.Object({ campaign_id: Type.String({ minLength: 1, maxLength: 64 }) });
export const BatchParams = Type.Object({ batch_id: Type.String({ minLength: 1, maxLength: 64 }) });
export const CodeParams = Type.Object({ code: Type.String({ minLength: 1, maxLength: 200 }) });

export const CODE_STATUSES = ['ACTIVE', 'REDEEMED', 'VOIDED', 'EXPIRED'] as const;

export const RedeemCode = Type.Object({
  code: Type.String({ description: 'Display form' }),
  code_id: Type.String({ description: '<batch_id>.<seq>' }),
  batch_id: Type.String(),
  campaign_id: Type.String(),
  reward_id: Type.String(),
  product_code: Type.String(),
  status: Type.Enum(CODE_STATUSES, { type: 'string' }),
  uses: Type.Integer(),
  max_uses: Type.Integer(),
  assigned_user_id: Type.Union([Type.String(), Type.Null()]),
  assigned_at: NullableTimestamp,
  expires_at: NullableTimestamp,
  applicable_products: Strings('null = every product'),
  last_redeemed_at: NullableTimestamp,
  voided_at: NullableTimestamp,
});
export type RedeemCodeView = Static<typeof RedeemCode>;

export const CodeListQuery = Type.Object(
  {
    ...PageQuery,
    campaign_id: Type.Optional(Id()),
    batch_id: Type.Optional(Id()),
    status: Type.Optional(Type.Enum(CODE_STATUSES, { type: 'string' })),
    user_id: Type.Optional(Id('Assigned to, or redeemed by, this user')),
    tenant_id: TenantId,
  },
  { additionalProperties: false },
);
export type CodeListInput = Static<typeof CodeListQuery>;
export const CodeList = Type.Object({ redeem_codes: Type.Array(RedeemCode), pagination: Pagination });

export const ExportQuery = Type.Object({ batch_id: Id(), tenant_id: TenantId }, { additionalProperties: false });

export const AssignBody = Type.Object({ user_id: Id('Your id of the user'), tenant_id: TenantId }, { additionalProperties: false });
export const EmptyBody = Type.Union([Type.Object({ tenant_id: TenantId }, { additionalProperties: false }), Type.Null()]);

export const RedeemBody = Type.Object(
  {
    tenant_id: TenantId,
    code: Type.String({ minLength: 1, maxLength: 200, description: 'As the user typed it: dashes, spaces and (where the code type allows) case do not matter' }),
    user_id: Id('Your id of the user'),
    product_code: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'The product redeeming (or X-Product-Code)' })),
    client_ip: Type.Optional(ClientIpField),
  },
  { additionalProperties: false },
);
export type RedeemInput = Static<typeof RedeemBody>;

export const Redemption = Type.Object({
  redemption_id: Type.String(),
  code: Type.String(),
  code_id: Type.String(),
  batch_id: Type.String(),
  campaign_id: Type.String(),
  reward_id: Type.String(),
  user_id: Type.String(),
  grant_id: Type.String(),
  product_code: Type.Union([Type.String(), Type.Null()]),
  client_ip: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
});
export type RedemptionView = Static<typeof Redemption>;

// The grant as the grant flow answers it (GET /v1/reward-grants/{grant_id} documents every field);
// restated loosely here so this module depends on the grant service, not on its schema file.
const GrantOfRedemption = Type.Object(
  { grant_id: Type.String(), reward_id: Type.String(), user_id: Type.String(), status: Type.String(), source: Type.Union([Type.String(), Type.Null()]), source_id: Type.Union([Type.String(), Type.Null()]) },
  { additionalProperties: true },
);
export const RedeemResult = Type.Object({ redemption: Redemption, grant: GrantOfRedemption });
export type RedeemResultView = Static<typeof RedeemResult>;

export const RedemptionListQuery = Type.Object(
  {
    ...PageQuery,
    user_id: Type.Optional(Id()),
    code: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    batch_id: Type.Optional(Id()),
    campaign_id: Type.Optional(Id()),
    product_code: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    created_from: Type.Optional(Type.String({ format: 'date-time' })),
    created_to: Type.Optional(Type.String({ format: 'date-time' })),
    tenant_id: TenantId,
  },
  { additionalProperties: false },
);
export type RedemptionListInput = Static<typeof RedemptionListQuery>;
export const RedemptionList = Type.Object({ redemptions: Type.Array(Redemption), pagination: Pagination });
