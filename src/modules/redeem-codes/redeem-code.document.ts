/**
 * The product document's spelling of a code rule (CodeGenerateRule and its rule-engine JSON:
 * ruleId, codeType, length, prefix, excludeChars, validDays, useLimit, applicableProducts,
 * rewardRules) read into the one batch input the service works on, and the reward rules' match
 * at redemption. Pure: no I/O.
 */
import type { Executor } from '../../db/client.js';
import { invalidRequest } from '../../platform/errors.js';
import { redeemCodeErrors } from './redeem-code.errors.js';
import type { CodeType } from './redeem-code.rules.js';
import { EXTRA_DATA_MAX_BYTES, type CreateBatchInput } from './redeem-code.schemas.js';
import type { RewardRule } from './redeem-code.tables.js';

/** A batch request after both spellings are read: one value per setting. */
export interface BatchSettingsInput {
  count: number;
  reward_id: string | null;
  code_type: CodeType;
  length?: number | undefined;
  prefix?: string | undefined;
  exclude_chars?: string | undefined;
  check_char?: boolean | undefined;
  group_size?: number | undefined;
  expires_at?: string | undefined;
  valid_days: number | null;
  max_uses: number;
  applicable_products: string[] | null;
  rule_id: string | null;
  reward_rules: RewardRule[] | null;
  one_per_user: boolean;
  extra_data: Record<string, unknown> | null;
}

/** snake_case setting -> the document's camelCase spelling of it. */
const TWINS = [
  ['rule_id', 'ruleId'],
  ['code_type', 'codeType'],
  ['exclude_chars', 'excludeChars'],
  ['valid_days', 'validDays'],
  ['max_uses', 'useLimit'],
  ['applicable_products', 'applicableProducts'],
  ['reward_rules', 'rewardRules'],
] as const;

const DOCUMENT_TYPE: Record<string, CodeType> = { RANDOM_NUM: 'RANDOM_NUM', RANDOM_ALPHANUM: 'ALPHANUM', ALPHANUM: 'ALPHANUM', UUID: 'UUID' };

/**
 * One value per setting from either spelling; both spellings of one setting (or an expiry given
 * as expires_at and as days) is 400. code_type is required in one spelling; reward_id unless
 * reward rules decide the grants.
 */
export function readBatchInput(input: CreateBatchInput): BatchSettingsInput {
  const given = input as Record<string, unknown>;
  for (const [snake, camel] of TWINS) {
    if (given[snake] !== undefined && given[camel] !== undefined) throw redeemCodeErrors.fieldSpelledTwice(snake, camel);
  }
  const validDays = input.valid_days ?? input.validDays ?? null;
  if (validDays !== null && input.expires_at !== undefined) throw redeemCodeErrors.fieldSpelledTwice('expires_at', input.valid_days !== undefined ? 'valid_days' : 'validDays');
  const codeType = input.code_type ?? (input.codeType ? DOCUMENT_TYPE[input.codeType] : undefined);
  if (!codeType) throw invalidRequest('code_type', 'is required (code_type or codeType)');
  const rules = input.reward_rules ?? input.rewardRules ?? null;
  if (!rules && !input.reward_id) throw invalidRequest('reward_id', 'is required unless reward_rules (rewardRules) decide the grants');
  if (rules && input.reward_id) throw invalidRequest('reward_id', 'a batch grants either its reward_id or its reward_rules, not both');
  const exclude = input.exclude_chars ?? (input.excludeChars ? [...new Set(input.excludeChars.join(''))].join('') : undefined);
  const products = input.applicable_products ?? input.applicableProducts;
  return {
    count: input.count,
    reward_id: input.reward_id ?? null,
    code_type: codeType,
    length: input.length,
    prefix: input.prefix,
    exclude_chars: exclude,
    check_char: input.check_char,
    group_size: input.group_size,
    expires_at: input.expires_at,
    valid_days: validDays,
    max_uses: input.max_uses ?? input.useLimit ?? 1,
    applicable_products: products ? [...new Set(products)] : null,
    rule_id: input.rule_id ?? input.ruleId ?? null,
    reward_rules: rules ? rules.map((r) => ({ type: r.type, id: r.id, ...(r.condition ? { condition: r.condition } : {}) })) : null,
    one_per_user: input.one_per_user ?? false,
    extra_data: checkExtraData(input.extra_data),
  };
}

/** The JSON text of extra_data, or 400 extra_data_too_large. */
export function checkExtraData(value: Record<string, unknown> | undefined | null): Record<string, unknown> | null {
  if (value === undefined || value === null) return null;
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > EXTRA_DATA_MAX_BYTES) throw redeemCodeErrors.extraDataTooLarge(bytes, EXTRA_DATA_MAX_BYTES);
  return value;
}

/** The rules whose condition the user meets, in rule order (no condition: everyone). */
export function matchingRules(rules: readonly RewardRule[], userTags: readonly string[]): RewardRule[] {
  const tags = new Set(userTags);
  return rules.filter((r) => !r.condition?.userTag || tags.has(r.condition.userTag));
}

/**
 * What reward rules need of other modules, handed in by the composition root (app/services.ts):
 * the user's tags (customers), coupon templates and their claim (coupons). Absent: a batch with
 * a COUPON rule or a tag condition cannot be made (400) and never exists.
 */
export interface RewardRulePorts {
  userTags(tenantId: string, userId: string, exec: Executor): Promise<readonly string[]>;
  couponTemplateExists(tenantId: string, templateId: string, exec: Executor): Promise<boolean>;
  /** Claims one coupon of the template for the user in `exec` (its limits apply; a refusal throws). */
  claimCoupon(tenantId: string, templateId: string, userId: string, exec: Executor): Promise<{ coupon_id: string }>;
}
