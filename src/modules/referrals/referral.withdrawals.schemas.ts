import { type Static, Type } from 'typebox';
import { NullableTimestamp, PageQuery, Pagination, Timestamp } from '../../platform/http/common.schemas.js';
import { UserId } from './referral.schemas.js';

/** Withdrawals of a user's BALANCE and refunds of referral orders: bodies and answers. */

const Text = (maxLength: number, description: string) => Type.String({ minLength: 1, maxLength, pattern: '^[^\\u0000]+$', description });

export const WithdrawalBody = Type.Object(
  {
    user_id: UserId,
    amount: Type.Integer({ minimum: 1, maximum: 100_000_000_00, description: 'Fen to pay out of the BALANCE (held from the request on)' }),
    account: Type.Optional(Text(500, 'Where to pay out (free text: a bank account, a WeChat id...)')),
  },
  { additionalProperties: false },
);
export type WithdrawalInput = Static<typeof WithdrawalBody>;

/** The document's path (`POST /api/v1/rewards/withdraw`) names the user `userId` or `user_id`. */
export const DocWithdrawalBody = Type.Object(
  {
    user_id: Type.Optional(UserId),
    userId: Type.Optional(UserId),
    amount: WithdrawalBody.properties.amount,
    account: WithdrawalBody.properties.account,
  },
  { additionalProperties: false },
);

export const ApproveBody = Type.Object({ note: Type.Optional(Text(1000, 'For the record: how it was paid out')) }, { additionalProperties: false });
export const RejectBody = Type.Object({ reason: Text(1000, 'Why (shown to the operator; the amount goes back to the balance)') }, { additionalProperties: false });

export const WithdrawalParams = Type.Object({ withdrawal_id: Type.String({ minLength: 1, maxLength: 64 }) });
export const WithdrawalStatusSchema = Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected')]);
export const WithdrawalQuery = Type.Object({ user_id: Type.Optional(UserId), status: Type.Optional(WithdrawalStatusSchema), ...PageQuery });
export type WithdrawalListInput = Static<typeof WithdrawalQuery>;

export const Withdrawal = Type.Object({
  withdrawal_id: Type.String(),
  user_id: Type.String(),
  amount: Type.Integer(),
  currency: Type.String(),
  account: Type.Union([Type.String(), Type.Null()]),
  status: WithdrawalStatusSchema,
  note: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  decided_at: NullableTimestamp,
});
export type WithdrawalView = Static<typeof Withdrawal>;
export const WithdrawalList = Type.Object({ withdrawals: Type.Array(Withdrawal), pagination: Pagination });

export const OrderParams = Type.Object({ order_id: Type.String({ minLength: 1, maxLength: 64 }) });
export const RefundBody = Type.Object({ reason: Type.Optional(Text(1000, 'For the record')) }, { additionalProperties: false });

export const Refund = Type.Object({
  order_id: Type.String(),
  out_refund_no: Type.String(),
  refund_id: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.Literal('requested'), Type.Literal('succeeded')]),
  amount: Type.Integer(),
  currency: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]),
  order_status: Type.String(),
  requested_at: Timestamp,
  settled_at: NullableTimestamp,
});
export type RefundView = Static<typeof Refund>;
