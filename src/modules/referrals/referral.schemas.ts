import { type Static, Type } from 'typebox';
import { NullableTimestamp, Pagination, Timestamp } from '../../platform/http/common.schemas.js';

const ID_PATTERN = '^[^\\u0000-\\u001f\\u007f]+$';
/** Ids of the tenant's users (`u_id`, the referrer) and channels (`c_id`). */
export const UserId = Type.String({ minLength: 1, maxLength: 128, pattern: ID_PATTERN, description: 'Your id of the user' });
const ChannelId = Type.String({ minLength: 1, maxLength: 128, pattern: ID_PATTERN, description: 'The channel (c_id) the visitor came from' });
const Money = (description: string) => Type.Integer({ minimum: 1, maximum: 100_000_000_00, description });
const Percent = (description: string) => Type.Number({ exclusiveMinimum: 0, maximum: 100, multipleOf: 0.01, description });

export const CampaignParams = Type.Object({ campaign_id: Type.String({ minLength: 1, maxLength: 64 }) });
/** The document's `:id` paths. */
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const UserParams = Type.Object({ userId: UserId });

export const RewardRule = Type.Union(
  [
    Type.Object({ type: Type.Literal('fixed'), amount: Type.Integer({ minimum: 0, maximum: 100_000_000_00, description: 'Fen per paid order' }) }, { additionalProperties: false }),
    Type.Object(
      {
        type: Type.Literal('percent'),
        percent: Percent('Percent of the order amount (two decimals at most), rounded down to the fen'),
        cap: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 100_000_000_00 }), Type.Null()], { description: 'At most this many fen per order' })),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'The referrer earns a fixed amount per paid order, or a percentage of its amount with an optional cap' },
);
export type RewardRuleType = Static<typeof RewardRule>;

export const PaymentSettings = Type.Object(
  {
    amount: Money('The price of a sign-up, in fen'),
    currency: Type.Literal('CNY', { default: 'CNY' }),
    provider: Type.Union([Type.Literal('sandbox'), Type.Literal('wechat_pay')]),
  },
  { additionalProperties: false },
);

export const ReferralSettingsBody = Type.Object(
  {
    image_url: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 2048, pattern: '^(https?://|/)[^\\s]*$' }), Type.Null()], { description: 'The main image (http(s) URL or a path on this service)' })),
    reward_rule: RewardRule,
    payment: PaymentSettings,
    status: Type.Optional(Type.Union([Type.Literal('enabled'), Type.Literal('disabled')], { default: 'enabled' })),
    second_level: Type.Optional(Type.Union([Type.Object({ percent: Percent('Percent of the order amount for the referrer of the referrer') }, { additionalProperties: false }), Type.Null()], { description: 'Off (null) by default' })),
    wechat_app_id: Type.Optional(Type.Union([Type.String({ minLength: 18, maxLength: 18, pattern: '^wx[0-9a-f]{16}$' }), Type.Null()], { description: "The WeChat AppID the page signs in with (one of /v1/wechat/apps); null: the tenant's only app" })),
  },
  { additionalProperties: false },
);
export type ReferralSettingsInput = Static<typeof ReferralSettingsBody>;

export const ReferralSettings = Type.Object({
  campaign_id: Type.String(),
  image_url: Type.Union([Type.String(), Type.Null()]),
  reward_rule: Type.Object({ type: Type.String(), amount: Type.Optional(Type.Integer()), percent: Type.Optional(Type.Number()), cap: Type.Optional(Type.Union([Type.Integer(), Type.Null()])) }),
  payment: Type.Object({ amount: Type.Integer(), currency: Type.String(), provider: Type.String() }),
  status: Type.String(),
  second_level: Type.Union([Type.Object({ percent: Type.Number() }), Type.Null()]),
  wechat_app_id: Type.Union([Type.String(), Type.Null()]),
  page_url: Type.String({ description: 'The landing page of the campaign' }),
  created_at: Timestamp,
  updated_at: Timestamp,
  version: Type.Integer(),
});
export type ReferralSettingsView = Static<typeof ReferralSettings>;

export const PublicForm = Type.Object({
  campaign_id: Type.String(),
  title: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  image_url: Type.Union([Type.String(), Type.Null()]),
  wechat_app_id: Type.Union([Type.String(), Type.Null()], { description: 'The WeChat AppID for the OAuth redirect inside WeChat (null: none named)' }),
  form_fields: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  amount: Type.Integer(),
  currency: Type.String(),
  start_time: NullableTimestamp,
  end_time: NullableTimestamp,
});
export type PublicFormView = Static<typeof PublicForm>;

export const ViewBody = Type.Object({ c_id: Type.Optional(ChannelId), u_id: Type.Optional(UserId) }, { additionalProperties: false });

export const OrderBody = Type.Object(
  {
    campaign_id: Type.String({ minLength: 1, maxLength: 64 }),
    phone: Type.String({ minLength: 1, maxLength: 20, description: 'A mainland China mobile number (11 digits, +86 allowed)' }),
    form_data: Type.Record(Type.String(), Type.Unknown(), { description: 'Checked against the campaign form (JSON Schema)' }),
    c_id: Type.Optional(ChannelId),
    u_id: Type.Optional(UserId),
  },
  { additionalProperties: false },
);
export type OrderInput = Static<typeof OrderBody>;

export const PublicOrder = Type.Object({
  order_id: Type.String(),
  campaign_id: Type.String(),
  status: Type.String(),
  pay_status: Type.String(),
  amount: Type.Integer(),
  currency: Type.String(),
  /** Shown on the page after payment: the order's sign-up code. */
  success_code: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  paid_at: NullableTimestamp,
});
export type PublicOrderView = Static<typeof PublicOrder>;

export const PayBody = Type.Object(
  {
    scene: Type.Optional(Type.Union([Type.Literal('jsapi'), Type.Literal('h5'), Type.Literal('native')], { default: 'h5' })),
    payer_openid: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: ID_PATTERN })),
  },
  { additionalProperties: false },
);
export type PayInput = Static<typeof PayBody>;

export const PayStart = Type.Object({
  order_id: Type.String(),
  provider: Type.String(),
  out_trade_no: Type.String(),
  prepay_id: Type.Optional(Type.String()),
  h5_url: Type.Optional(Type.String()),
  code_url: Type.Optional(Type.String()),
  jsapi_params: Type.Optional(Type.Record(Type.String(), Type.String())),
  sandbox_pay_url: Type.Optional(Type.String()),
});

export const Funnel = Type.Object({
  campaign_id: Type.String(),
  views: Type.Integer(),
  orders: Type.Integer(),
  paid: Type.Integer(),
  by_channel: Type.Array(Type.Object({ c_id: Type.Union([Type.String(), Type.Null()]), views: Type.Integer(), orders: Type.Integer(), paid: Type.Integer() })),
});
export type FunnelView = Static<typeof Funnel>;

export const ScopeQuery = Type.Object({ campaign_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) });

export const RewardBalance = Type.Object({ user_id: Type.String(), balance: Type.Integer(), total_reward: Type.Integer(), currency: Type.String() });
export type RewardBalanceView = Static<typeof RewardBalance>;

export const RewardRecord = Type.Object({
  reward_id: Type.String(),
  order_id: Type.String(),
  campaign_id: Type.String(),
  user_id: Type.String(),
  level: Type.Integer(),
  amount: Type.Integer(),
  status: Type.String(),
  settled_at: NullableTimestamp,
  created_at: Timestamp,
});
export type RewardRecordView = Static<typeof RewardRecord>;
export const RewardList = Type.Object({ rewards: Type.Array(RewardRecord), pagination: Pagination });
