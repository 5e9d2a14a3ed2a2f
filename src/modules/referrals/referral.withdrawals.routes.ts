/**
 * Money out of the referral hub: withdrawals of a user's BALANCE (requested by the tenant's
 * backend on the user's behalf, approved or rejected by an admin key) and refunds of paid orders
 * (admin key), with the reward reversal they cause.
 */
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import { invalidRequest } from '../../platform/errors.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import type { ReferralPayments } from './referral.payment.js';
import type { ReferralWithdrawals } from './referral.withdrawals.js';
import {
  ApproveBody,
  DocWithdrawalBody,
  OrderParams,
  Refund,
  RefundBody,
  RejectBody,
  Withdrawal,
  WithdrawalBody,
  WithdrawalList,
  WithdrawalParams,
  WithdrawalQuery,
} from './referral.withdrawals.schemas.js';

const tags = ['referrals'];

export function referralWithdrawalRoutes(app: Api, deps: { withdrawals: ReferralWithdrawals; payments: ReferralPayments; uow: UnitOfWork }): void {
  const { withdrawals, payments, uow } = deps;

  app.post(
    '/v1/referrals/withdrawals',
    { schema: { tags, summary: "Request a withdrawal of a user's BALANCE: the amount is held at once (409 insufficient_balance when short)", body: WithdrawalBody, response: { 201: Withdrawal, ...errors(...authErrors, 409) } } },
    async (request, reply) => uow(request, reply, 201, (trx) => withdrawals.request(request.actor!, request.body, trx)),
  );
  app.get(
    '/v1/referrals/withdrawals',
    { schema: { tags, summary: 'Withdrawals, newest first (by user, by status)', querystring: WithdrawalQuery, response: { 200: WithdrawalList, ...errors(...authErrors) } } },
    async (request) => withdrawals.list(request.actor!, request.query),
  );
  app.get(
    '/v1/referrals/withdrawals/:withdrawal_id',
    { schema: { tags, summary: 'One withdrawal', params: WithdrawalParams, response: { 200: Withdrawal, ...errors(...authErrors, 404) } } },
    async (request) => withdrawals.get(request.actor!, request.params.withdrawal_id),
  );
  app.post(
    '/v1/referrals/withdrawals/:withdrawal_id/approve',
    { config: { role: 'admin' }, schema: { tags, summary: 'Paid out by hand: pending -> approved (409 withdrawal_already_decided)', params: WithdrawalParams, body: ApproveBody, response: { 200: Withdrawal, ...errors(...authErrors, 404, 409) } } },
    async (request, reply) => uow(request, reply, 200, (trx) => withdrawals.approve(request.actor!, request.params.withdrawal_id, request.body?.note, trx)),
  );
  app.post(
    '/v1/referrals/withdrawals/:withdrawal_id/reject',
    { config: { role: 'admin' }, schema: { tags, summary: 'pending -> rejected; the amount goes back to the BALANCE (409 withdrawal_already_decided)', params: WithdrawalParams, body: RejectBody, response: { 200: Withdrawal, ...errors(...authErrors, 404, 409) } } },
    async (request, reply) => uow(request, reply, 200, (trx) => withdrawals.reject(request.actor!, request.params.withdrawal_id, request.body.reason, trx)),
  );
  // The product document's path (提现), with a tenant key like the document's reward paths.
  app.post(
    '/api/v1/rewards/withdraw',
    { config: { auth: 'tenant' }, schema: { tags, summary: 'Request a withdrawal (提现): the same as POST /v1/referrals/withdrawals; the user as user_id or userId', body: DocWithdrawalBody, response: { 201: Withdrawal, ...errors(...authErrors, 409) } } },
    async (request, reply) => {
      const { user_id: userId, userId: alias, ...rest } = request.body;
      const user = userId ?? alias;
      if (user === undefined) throw invalidRequest('user_id', 'is required');
      if (userId !== undefined && alias !== undefined && userId !== alias) throw invalidRequest('userId', 'must equal user_id when both are given');
      return uow(request, reply, 201, (trx) => withdrawals.request(request.actor!, { ...rest, user_id: user }, trx));
    },
  );
  // Not recorded under Idempotency-Key: the refund is idempotent by its own key (out_refund_no
  // from the order), and the provider is called outside any transaction.
  app.post(
    '/v1/referrals/orders/:order_id/refund',
    { config: { role: 'admin', idempotent: false }, schema: { tags, summary: "Refund a paid order through its provider; its referral rewards are reversed when the provider confirms", params: OrderParams, body: RefundBody, response: { 200: Refund, ...errors(...authErrors, 404, 409, 503) } } },
    async (request) => payments.refund(request.actor!, request.params.order_id, request.body?.reason),
  );
}
