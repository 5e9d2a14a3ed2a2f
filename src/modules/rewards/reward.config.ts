import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { Type, type Static, type TSchema } from 'typebox';
import { invalidRequest } from '../../platform/errors.js';
import { rewardErrors } from './reward.errors.js';
import type { RewardType } from './reward.tables.js';

/**
 * A reward's `config`: `generator` (what one unit is), `validator` (who may get it and
 * how often) and `distributor` (how it reaches the user). Each part is checked against the
 * schema of the reward's type when the reward is saved, so a wrong config is a 400 naming the
 * field then, never a failure at grant time.
 */
const Int = (min: number, max: number, description?: string) =>
  Type.Integer({ minimum: min, maximum: max, ...(description ? { description } : {}) });
const Obj = <T extends Record<string, TSchema>>(props: T) => Type.Object(props, { additionalProperties: false });

export const CODE_TYPES = ['RANDOM_NUM', 'ALPHANUM', 'ALPHANUM_MIXED', 'UUID'] as const;
export const COUPON_KINDS = ['AMOUNT', 'PERCENT', 'SHIPPING', 'GIFT'] as const;

export const generatorSchemas = {
  POINTS: Obj({ points: Int(1, 1_000_000_000, 'Points per unit') }),
  BALANCE: Obj({
    amount: Int(1, 1_000_000_000_000, 'Money per unit, in minor units (fen, cents)'),
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217, default CNY' })),
  }),
  COUPON: Obj({
    coupon_template_id: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: "A coupon template of the tenant: each unit granted puts one of its coupons in the user's wallet" }),
    ),
    discount_type: Type.Optional(Type.Enum(COUPON_KINDS, { type: 'string', description: 'Required without coupon_template_id' })),
    amount_off: Type.Optional(Int(1, 1_000_000_000_000, 'AMOUNT: minor units off')),
    percent_off: Type.Optional(Int(1, 100, 'PERCENT: percent off')),
    max_discount: Type.Optional(Int(1, 1_000_000_000_000, 'PERCENT: cap in minor units')),
    min_order_amount: Type.Optional(Int(0, 1_000_000_000_000, 'Order minimum in minor units')),
    gift_sku: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    valid_days: Type.Optional(Int(1, 3650, 'Days the coupon stays usable after the grant')),
    terms: Type.Optional(Type.String({ maxLength: 2000 })),
  }),
  REDEEM_CODE: Obj({
    code_type: Type.Enum(CODE_TYPES, { type: 'string' }),
    length: Type.Optional(Int(4, 64)),
    prefix: Type.Optional(Type.String({ maxLength: 16, pattern: '^[A-Za-z0-9_-]*$' })),
    exclude_chars: Type.Optional(Type.String({ maxLength: 64 })),
  }),
  SUBSCRIPTION: Obj({ days: Int(1, 36_500, 'Membership days per unit'), plan: Type.Optional(Type.String({ maxLength: 128 })) }),
  PHYSICAL: Obj({
    sku: Type.String({ minLength: 1, maxLength: 128 }),
    item_name: Type.Optional(Type.String({ maxLength: 200 })),
    payload: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  }),
  CUSTOM: Obj({ payload: Type.Record(Type.String(), Type.Unknown()) }),
} satisfies Record<RewardType, TSchema>;

export const PERIODS = ['DAY', 'WEEK', 'MONTH', 'CAMPAIGN', 'LIFETIME'] as const;
export type Period = (typeof PERIODS)[number];

export const ValidatorSchema = Obj({
  per_user_limit: Type.Optional(Int(1, 1_000_000, 'Most units one user may get per period')),
  period: Type.Optional(Type.Enum(PERIODS, { type: 'string', description: 'Window of per_user_limit (UTC days); default LIFETIME' })),
  min_interval_seconds: Type.Optional(Int(1, 31_536_000, 'Least time between two grants to one user')),
  audience_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Reserved for audiences' })),
});
export type ValidatorConfig = Static<typeof ValidatorSchema>;

export const SECRET_MASK = '********';

export const DistributorSchema = Type.Union([
  Obj({ type: Type.Literal('AUTO') }),
  Obj({
    type: Type.Literal('WEBHOOK'),
    url: Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048 }),
    secret: Type.String({ minLength: 16, maxLength: 256, description: `HMAC key; shown as ${SECRET_MASK}` }),
    timeout_ms: Type.Optional(Int(1000, 30_000)),
  }),
  Obj({ type: Type.Literal('EMAIL'), template_id: Type.Optional(Type.String({ maxLength: 64 })) }),
  Obj({ type: Type.Literal('SMS'), template_id: Type.Optional(Type.String({ maxLength: 64 })) }),
]);
export type DistributorConfig = Static<typeof DistributorSchema>;

export interface RewardConfig {
  generator: Record<string, unknown>;
  validator: ValidatorConfig;
  distributor: DistributorConfig;
}

const ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: false });
(addFormats as unknown as (a: Ajv) => void)(ajv);
const generatorValidators = Object.fromEntries(
  Object.entries(generatorSchemas).map(([type, schema]) => [type, ajv.compile(schema)]),
) as Record<RewardType, ReturnType<typeof ajv.compile>>;
const validatorValidator = ajv.compile(ValidatorSchema);
const distributorValidators = {
  AUTO: ajv.compile(DistributorSchema.anyOf[0]),
  WEBHOOK: ajv.compile(DistributorSchema.anyOf[1]),
  EMAIL: ajv.compile(DistributorSchema.anyOf[2]),
  SMS: ajv.compile(DistributorSchema.anyOf[3]),
};

function fail(base: string, errors: ErrorObject[] | null | undefined): never {
  const list = (errors ?? []).map((e) => {
    const extra = e.keyword === 'additionalProperties' ? (e.params as { additionalProperty: string }).additionalProperty : e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty : '';
    const field = [base, ...e.instancePath.split('/').filter(Boolean), ...(extra ? [extra] : [])].join('.');
    const message = e.keyword === 'additionalProperties' ? 'is not a known field' : e.keyword === 'required' ? 'is required' : (e.message ?? 'is invalid');
    return { field, message };
  });
  const first = list[0] ?? { field: base, message: 'is invalid' };
  throw invalidRequest(first.field, first.message, { errors: list });
}

/** Checks a whole config for `type`, fills defaults, and returns it normalised. */
export function parseRewardConfig(type: RewardType, raw: unknown, previous?: RewardConfig): RewardConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalidRequest('config', 'must be an object');
  const { generator, validator = {}, distributor = { type: 'AUTO' }, ...rest } = raw as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown) throw invalidRequest(`config.${unknown}`, 'is not a known field (generator, validator, distributor)');
  if (generator === undefined) throw invalidRequest('config.generator', 'is required');

  if (!generatorValidators[type](generator)) fail('config.generator', generatorValidators[type].errors);
  checkGeneratorRules(type, generator as Record<string, unknown>);
  if (!validatorValidator(validator)) fail('config.validator', validatorValidator.errors);

  const kind = (distributor as { type?: unknown })?.type;
  if (typeof kind !== 'string' || !(kind in distributorValidators)) {
    throw invalidRequest('config.distributor.type', 'must be one of AUTO, WEBHOOK, EMAIL, SMS');
  }
  const d = { ...(distributor as Record<string, unknown>) };
  // A client that read the reward back and sends the masked secret means "keep the secret".
  if (kind === 'WEBHOOK' && d.secret === SECRET_MASK && previous?.distributor.type === 'WEBHOOK') {
    d.secret = previous.distributor.secret;
  }
  const check = distributorValidators[kind as keyof typeof distributorValidators];
  if (!check(d)) fail('config.distributor', check.errors);
  if (kind === 'EMAIL' || kind === 'SMS') {
    throw rewardErrors.distributorUnavailable(kind);
  }
  return {
    generator: generator as Record<string, unknown>,
    validator: validator as ValidatorConfig,
    distributor: d as DistributorConfig,
  };
}

/** What a COUPON reward with a coupon template takes from the template instead of its generator. */
const TEMPLATE_TERMS = ['discount_type', 'amount_off', 'percent_off', 'max_discount', 'min_order_amount', 'gift_sku', 'valid_days'] as const;

/**
 * Rules a JSON Schema cannot say neatly: which coupon fields each discount type needs, and that a
 * coupon template brings its own terms (a generator that repeated them could contradict it).
 */
function checkGeneratorRules(type: RewardType, g: Record<string, unknown>): void {
  if (type === 'COUPON' && g.coupon_template_id !== undefined) {
    const repeated = TEMPLATE_TERMS.find((f) => g[f] !== undefined);
    if (repeated) throw invalidRequest(`config.generator.${repeated}`, 'comes from the coupon template; give coupon_template_id (and terms) only');
  } else if (type === 'COUPON') {
    if (g.discount_type === undefined) throw invalidRequest('config.generator.discount_type', 'is required (or give coupon_template_id)');
    const needs: Record<string, string | undefined> = { AMOUNT: 'amount_off', PERCENT: 'percent_off', GIFT: 'gift_sku', SHIPPING: undefined };
    const field = needs[String(g.discount_type)];
    if (field && g[field] === undefined) throw invalidRequest(`config.generator.${field}`, `is required when discount_type is ${String(g.discount_type)}`);
  }
  if (type === 'REDEEM_CODE' && g.code_type === 'UUID' && (g.length !== undefined || g.prefix !== undefined)) {
    throw invalidRequest('config.generator.code_type', 'UUID codes take neither length nor prefix');
  }
}

/** The config as the API shows it: the webhook secret masked. */
export function publicConfig(config: RewardConfig): RewardConfig {
  if (config.distributor.type !== 'WEBHOOK') return config;
  return { ...config, distributor: { ...config.distributor, secret: SECRET_MASK } };
}

/** The coupon template a COUPON reward issues wallet coupons of, or null (generated codes only, or another type). */
export function couponTemplateOf(rewardType: string, config: RewardConfig): string | null {
  if (rewardType !== 'COUPON') return null;
  const id = config.generator.coupon_template_id;
  return typeof id === 'string' ? id : null;
}
