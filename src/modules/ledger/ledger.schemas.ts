import { Type, type Static } from 'typebox';
import { PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';

export const LEDGER_ASSETS = ['POINTS', 'BALANCE', 'SUBSCRIPTION_DAYS'] as const;
export type LedgerAsset = (typeof LEDGER_ASSETS)[number];

export const LEDGER_ENTRY_TYPES = ['GRANT', 'REVOKE', 'SPEND', 'EXPIRE', 'ADJUST'] as const;
export type LedgerEntryType = (typeof LEDGER_ENTRY_TYPES)[number];

/** Assets a user can spend through the debit route. */
export const SPENDABLE_ASSETS = ['POINTS', 'BALANCE'] as const;

/**
 * The largest amount of one entry: 10^12 points, minor currency units (10 billion in a currency
 * with cents) or days. Keeps every sum far inside the integers JavaScript numbers hold exactly.
 */
export const MAX_ENTRY_AMOUNT = 1_000_000_000_000;

// Ids that end up in URLs, logs and the database: no control characters (PostgreSQL text cannot
// hold NUL, and a newline in an id is always a mistake).
const ID_PATTERN = '^[^\\u0000-\\u001f\\u007f]+$';
// Free text may have newlines, never NUL.
const TEXT_PATTERN = '^[^\\u0000]*$';

export const UserId = Type.String({ minLength: 1, maxLength: 128, pattern: ID_PATTERN, description: 'Your id of the user' });

export const LedgerAssetSchema = Type.Enum(LEDGER_ASSETS, {
  type: 'string',
  description: 'POINTS, BALANCE (money in integer minor units, e.g. cents) or SUBSCRIPTION_DAYS',
});
export const LedgerEntryTypeSchema = Type.Enum(LEDGER_ENTRY_TYPES, { type: 'string' });

const ReferenceId = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: ID_PATTERN,
  description: 'Your id of this operation: a repeat with the same reference_id returns the first entry (200)',
});

const TenantIdField = Type.Optional(Type.String({ maxLength: 64, description: "Optional; must equal the key's tenant" }));

export const UserParams = Type.Object({ user_id: UserId });

export const LedgerEntry = Type.Object({
  entry_id: Type.String(),
  user_id: Type.String(),
  asset: LedgerAssetSchema,
  amount: Type.Integer({ description: 'Signed: credits positive, debits negative' }),
  balance_after: Type.Integer({ description: 'Balance of the account right after this entry' }),
  entry_type: LedgerEntryTypeSchema,
  cause_type: Type.String({ description: "What caused the entry: 'debit', 'adjust', 'reward_grant', ..." }),
  cause_id: Type.String(),
  reverses_entry_id: Type.Union([Type.String(), Type.Null()], { description: 'The entry a REVOKE reverses' }),
  memo: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
});

export const Balances = Type.Object({
  user_id: Type.String(),
  balances: Type.Array(Type.Object({ asset: LedgerAssetSchema, balance: Type.Integer() }), {
    description: 'Every asset, 0 where the user has no entries yet',
  }),
});

export const LedgerList = Type.Object({ entries: Type.Array(LedgerEntry), pagination: Pagination });

export const LedgerListQuery = Type.Object(
  {
    ...PageQuery,
    asset: Type.Optional(LedgerAssetSchema),
    entry_type: Type.Optional(LedgerEntryTypeSchema),
    tenant_id: TenantIdField,
  },
  { additionalProperties: false },
);
export type LedgerListInput = Static<typeof LedgerListQuery>;

export const DebitBody = Type.Object(
  {
    tenant_id: TenantIdField,
    asset: Type.Enum(SPENDABLE_ASSETS, { type: 'string', description: 'POINTS or BALANCE' }),
    amount: Type.Integer({ minimum: 1, maximum: MAX_ENTRY_AMOUNT, description: 'How much to take, a positive integer' }),
    reference_id: Type.Optional(ReferenceId),
    memo: Type.Optional(Type.String({ maxLength: 500, pattern: TEXT_PATTERN })),
  },
  { additionalProperties: false },
);
export type DebitInput = Static<typeof DebitBody>;

export const AdjustBody = Type.Object(
  {
    tenant_id: TenantIdField,
    asset: LedgerAssetSchema,
    amount: Type.Integer({
      minimum: -MAX_ENTRY_AMOUNT,
      maximum: MAX_ENTRY_AMOUNT,
      description: 'Signed, not 0: positive credits, negative debits (never below a zero balance)',
    }),
    reason: Type.String({ minLength: 1, maxLength: 500, pattern: TEXT_PATTERN, description: 'Why; kept as the memo' }),
    reference_id: Type.Optional(ReferenceId),
  },
  { additionalProperties: false },
);
export type AdjustInput = Static<typeof AdjustBody>;
