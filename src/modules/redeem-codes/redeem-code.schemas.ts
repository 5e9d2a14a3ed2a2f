import { ClientIpField } from '../../platform/client-ip.js';
import { Type, type Static } from 'typebox';
import { NullableTimestamp, PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';
import { CODE_TYPES, MAX_LENGTH, MIN_LENGTH } from './redeem-code.rules.js';
import { BATCH_STATUSES } from './redeem-code.tables.js';

const Id = (description?: string) => Type.String({ minLength: 1, maxLength: 128, ...(description ? { description } : {}) });
const TenantId = Type.Optional(Type.String({ maxLength: 64 }));
const Strings = (description: string) => Type.Union([Type.Array(Type.String()), Type.Null()], { description });

/** Largest extra_data, as JSON text (batches and codes). */
export const EXTRA_DATA_MAX_BYTES = 4096;
export const ExtraData = Type.Record(Type.String(), Type.Unknown(), { description: `Your own JSON object, kept and shown with the batch or code and in the CSV export (at most ${EXTRA_DATA_MAX_BYTES} bytes as JSON)` });
/** The document's code types: RANDOM_ALPHANUM is this service's ALPHANUM. */
export const DOCUMENT_CODE_TYPES = ['RANDOM_NUM', 'RANDOM_ALPHANUM', 'ALPHANUM', 'UUID'] as const;
export const REWARD_RULE_TYPES = ['COUPON', 'REWARD'] as const;
export const RewardRuleSchema = Type.Object(
  {
    type: Type.Enum(REWARD_RULE_TYPES, { type: 'string', description: 'COUPON: a coupon template is claimed for the user; REWARD: a reward is granted' }),
    id: Type.String({ minLength: 1, maxLength: 128, description: 'COUPON: the coupon template id; REWARD: the reward id' }),
    condition: Type.Optional(
      Type.Union([
        Type.Object({ userTag: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'The user must carry this tag (customers module)' })) }, { additionalProperties: false }),
        Type.Null(),
      ]),
    ),
  },
  { additionalProperties: false },
);
const RewardRules = (description: string) => Type.Array(RewardRuleSchema, { minItems: 1, maxItems: 20, description });
const ValidDays = (description: string) => Type.Integer({ minimum: 1, maximum: 3650, description });
const RuleId = (description: string) => Type.String({ minLength: 1, maxLength: 64, description });
const Products = (description: string) => Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 100, description });

export const CreateBatchBody = Type.Object(
  {
    tenant_id: TenantId,
    count: Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'Up to 10,000 are made at once (201); more by a background job (202)' }),
    reward_id: Type.Optional(Id('The reward each redemption grants; a reward of this tenant. Required unless reward_rules (rewardRules) decide the grants')),
    code_type: Type.Optional(Type.Enum(CODE_TYPES, { type: 'string', description: 'Required, as code_type or codeType' })),
    length: Type.Optional(Type.Integer({ minimum: MIN_LENGTH, maximum: MAX_LENGTH, description: 'Random characters (default 12; UUID: always 32 hex digits)' })),
    prefix: Type.Optional(Type.String({ maxLength: 16, description: 'Letters and digits put before every code' })),
    exclude_chars: Type.Optional(Type.String({ maxLength: 62, description: 'Characters never used; default the look-alikes 0 O 1 I L (and l o for ALPHANUM_MIXED); "" for none' })),
    check_char: Type.Optional(Type.Boolean({ description: 'Append a Luhn mod N check character, so a mistyped code is refused without a look-up' })),
    group_size: Type.Optional(Type.Integer({ minimum: 2, maximum: 16, description: 'Show codes in dash-separated groups of this size (XXXX-XXXX); input is accepted with or without dashes' })),
    expires_at: Type.Optional(Type.String({ format: 'date-time' })),
    valid_days: Type.Optional(ValidDays('The codes expire this many days after the batch is made (sets expires_at; not with expires_at)')),
    max_uses: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: 'Redemptions per code in all (default 1); each user redeems a code at most once' })),
    applicable_products: Type.Optional(Products('Product codes that may redeem; default all')),
    rule_id: Type.Optional(RuleId('Your id of this code rule (the document\'s ruleId), kept and shown')),
    reward_rules: Type.Optional(RewardRules('What a redemption grants, by the user\'s tags; no matching rule: 422 no_reward_rule_matched')),
    one_per_user: Type.Optional(Type.Boolean({ description: 'Hand-outs (assign-next) give a user at most one code of this batch: a repeat answers the same code' })),
    extra_data: Type.Optional(ExtraData),
    // The product document's spelling (CodeGenerateRule and its rule-engine JSON): each is the
    // same setting as its snake_case twin; giving both spellings of one setting is 400 field_spelled_twice.
    ruleId: Type.Optional(RuleId('= rule_id')),
    codeType: Type.Optional(Type.Enum(DOCUMENT_CODE_TYPES, { type: 'string', description: '= code_type; RANDOM_ALPHANUM and ALPHANUM are ALPHANUM' })),
    excludeChars: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 62 }), { maxItems: 62, description: '= exclude_chars, as a list: every character of every entry is left out' })),
    validDays: Type.Optional(ValidDays('= valid_days')),
    useLimit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: '= max_uses' })),
    applicableProducts: Type.Optional(Products('= applicable_products')),
    rewardRules: Type.Optional(RewardRules('= reward_rules')),
  },
  { additionalProperties: false },
);
export type CreateBatchInput = Static<typeof CreateBatchBody>;

export const Batch = Type.Object({
  batch_id: Type.String(),
  tenant_id: Type.String(),
  campaign_id: Type.String(),
  reward_id: Type.Union([Type.String(), Type.Null()], { description: 'null: reward_rules decide the grants' }),
  product_code: Type.String(),
  code_type: Type.String(),
  length: Type.Integer(),
  prefix: Type.String(),
  alphabet: Type.String(),
  check_char: Type.Boolean(),
  group_size: Type.Union([Type.Integer(), Type.Null()]),
  expires_at: NullableTimestamp,
  valid_days: Type.Union([Type.Integer(), Type.Null()], { description: 'expires_at was the batch\'s creation plus these days' }),
  max_uses: Type.Integer(),
  applicable_products: Strings('null = every product'),
  rule_id: Type.Union([Type.String(), Type.Null()]),
  reward_rules: Type.Union([Type.Array(RewardRuleSchema), Type.Null()]),
  one_per_user: Type.Boolean(),
  extra_data: Type.Union([ExtraData, Type.Null()]),
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

export const BatchListQuery = Type.Object(
  {
    ...PageQuery,
    campaign_id: Type.Optional(Id()),
    status: Type.Optional(Type.Enum(BATCH_STATUSES, { type: 'string' })),
    tenant_id: TenantId,
  },
  { additionalProperties: false },
);
export type BatchListInput = Static<typeof BatchListQuery>;
export const BatchList = Type.Object({ batches: Type.Array(Batch), pagination: Pagination });

export const CampaignParams = Type.Object({ campaign_id: Type.String({ minLength: 1, maxLength: 64 }) });
export const BatchParams = Type.Object({ batch_id: Type.String({ minLength: 1, maxLength: 64 }) });
export const CodeParams = Type.Object({ code: Type.String({ minLength: 1, maxLength: 200 }) });

export const CODE_STATUSES = ['ACTIVE', 'REDEEMED', 'VOIDED', 'EXPIRED'] as const;

export const RedeemCode = Type.Object({
  code: Type.String({ description: 'Display form' }),
  code_id: Type.String({ description: '<batch_id>.<seq>' }),
  batch_id: Type.String(),
  campaign_id: Type.String(),
  reward_id: Type.Union([Type.String(), Type.Null()], { description: 'null: the batch\'s reward_rules decide the grants' }),
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
  extra_data: Type.Union([ExtraData, Type.Null()]),
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

export const AssignBody = Type.Object({ user_id: Id('Your id of the user'), extra_data: Type.Optional(ExtraData), tenant_id: TenantId }, { additionalProperties: false });
export type AssignInput = Static<typeof AssignBody>;
export const AssignNextResult = Type.Object({
  redeem_code: RedeemCode,
  reused: Type.Boolean({ description: 'true: a one_per_user batch had given this user this code already (nothing changed)' }),
});
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
  reward_id: Type.Union([Type.String(), Type.Null()], { description: 'null: a batch with reward_rules (see granted)' }),
  user_id: Type.String(),
  grant_id: Type.Union([Type.String(), Type.Null()]),
  product_code: Type.Union([Type.String(), Type.Null()]),
  client_ip: Type.Union([Type.String(), Type.Null()]),
  device_id: Type.Union([Type.String(), Type.Null()], { description: 'X-Device-Id of the redeeming request' }),
  created_at: Timestamp,
});
export type RedemptionView = Static<typeof Redemption>;

// The grant as the grant flow answers it (GET /v1/reward-grants/{grant_id} documents every field);
// restated loosely here so this module depends on the grant service, not on its schema file.
const GrantOfRedemption = Type.Object(
  { grant_id: Type.String(), reward_id: Type.String(), user_id: Type.String(), status: Type.String(), source: Type.Union([Type.String(), Type.Null()]), source_id: Type.Union([Type.String(), Type.Null()]) },
  { additionalProperties: true },
);
/** What one matched reward rule made: a grant (REWARD) or a coupon (COUPON). */
export const RuleOutcome = Type.Object({
  type: Type.Enum(REWARD_RULE_TYPES, { type: 'string' }),
  id: Type.String(),
  grant_id: Type.Optional(Type.String()),
  coupon_id: Type.Optional(Type.String()),
});
export type RuleOutcomeView = Static<typeof RuleOutcome>;
export const RedeemResult = Type.Object({
  redemption: Redemption,
  grant: Type.Union([GrantOfRedemption, Type.Null()], { description: 'The reward granted; null for a batch with reward_rules (see granted)' }),
  granted: Type.Optional(Type.Array(RuleOutcome, { description: 'A batch with reward_rules: what each matching rule made, in rule order' })),
});
/** The document's redemption answer (核销成功): the same redemption, with the document's message. */
export const DocumentRedeemResult = Type.Object({
  message: Type.Literal('核销成功'),
  redemption: Redemption,
  grant: Type.Union([GrantOfRedemption, Type.Null()]),
  granted: Type.Optional(Type.Array(RuleOutcome)),
});
export const DocumentRedeemBody = Type.Object(
  {
    code: Type.String({ minLength: 1, maxLength: 200, description: 'As the user typed it' }),
    userId: Id('Your id of the user'),
  },
  { additionalProperties: false },
);
export const DeviceIdField = Type.String({ minLength: 1, maxLength: 128, description: 'The device redeeming; kept with the redemption' });
export const RedeemHeaders = Type.Object({ 'x-product-code': Type.Optional(Type.String({ maxLength: 64 })), 'x-device-id': Type.Optional(DeviceIdField) });
export const AssignNextBody = Type.Object(
  { user_id: Id('Your id of the user'), extra_data: Type.Optional(ExtraData), tenant_id: TenantId },
  { additionalProperties: false },
);
export type AssignNextInput = Static<typeof AssignNextBody>;
export type RedeemResultView = Static<typeof RedeemResult>;

export const RedemptionListQuery = Type.Object(
  {
    ...PageQuery,
    user_id: Type.Optional(Id()),
    code: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    batch_id: Type.Optional(Id()),
    campaign_id: Type.Optional(Id()),
    product_code: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    device_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Redeemed from this device (X-Device-Id)' })),
    created_from: Type.Optional(Type.String({ format: 'date-time' })),
    created_to: Type.Optional(Type.String({ format: 'date-time' })),
    tenant_id: TenantId,
  },
  { additionalProperties: false },
);
export type RedemptionListInput = Static<typeof RedemptionListQuery>;
export const RedemptionList = Type.Object({ redemptions: Type.Array(Redemption), pagination: Pagination });
