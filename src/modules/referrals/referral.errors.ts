import { AppError } from '../../platform/errors.js';

/**
 * The referral module's error codes and messages, one factory per refusal. `code` is the contract
 * with clients: never change an existing one. Plain field checks use `invalidRequest`.
 */
export const referralErrors = {
  /** 404: the campaign has no referral settings (or belongs to another tenant). */
  settingsNotFound: (campaignId: string) =>
    new AppError('not_found', 'referral_settings_not_found', `Campaign ${campaignId} has no referral settings`, { campaign_id: campaignId }),

  /** 404 on the keyless routes: unknown, another tenant's, unpublished, ended or disabled all look the same. */
  pageNotFound: (campaignId: string) =>
    new AppError('not_found', 'campaign_not_found', `campaign ${campaignId} not found`, { campaign_id: campaignId }),

  /** 404 on the document's campaign paths: unknown, another tenant's, without referral settings, or deleted. */
  hubCampaignNotFound: (campaignId: string) =>
    new AppError('not_found', 'campaign_not_found', `campaign ${campaignId} not found`, { campaign_id: campaignId }),

  /** 400: a reward rate that rounds to less than one basis point. */
  rewardRateTooSmall: (rate: number) =>
    new AppError('invalid', 'invalid_reward_rule', `reward_rule: ${rate} rounds to 0; the smallest rate is 0.0001`, { field: 'reward_rule' }),

  /** 404 on the keyless routes: an order the caller cannot see. */
  orderNotFound: (orderId: string) => new AppError('not_found', 'order_not_found', `order ${orderId} not found`, { order_id: orderId }),

  /** 409: the phone already signed up for this campaign; details.order_id is the first order. */
  alreadyRegistered: (orderId: string, status: string) =>
    new AppError('conflict', 'already_registered', 'This phone number has already signed up for this campaign', { order_id: orderId, status }),

  /** 400: u_id is the signing-up user (their phone). */
  selfReferral: () => new AppError('invalid', 'self_referral', 'A user cannot refer themselves (u_id is the phone signing up)', { field: 'u_id' }),

  /** 400: the form data does not match the campaign's form schema. */
  formInvalid: (errors: { path: string; message: string }[]) =>
    new AppError('invalid', 'form_invalid', `form_data: ${errors[0]?.path ?? '/'} ${errors[0]?.message ?? 'is invalid'}`, { field: 'form_data', errors }),

  /** 409: payment started for an order that is no longer pending. */
  orderNotPayable: (orderId: string, status: string) =>
    new AppError('conflict', 'order_not_payable', `Order ${orderId} is ${status}`, { order_id: orderId, status }),

  /** 503: the campaign's payment provider is not configured in this service. */
  providerUnavailable: (provider: string) =>
    new AppError('unavailable', 'payment_provider_unavailable', `The ${provider} payment provider is not configured`, { provider }),

  /** 422: the paid amount differs from the order (the order is flagged). */
  amountMismatch: (orderId: string, expected: number, paid: number) =>
    new AppError('unprocessable', 'payment_amount_mismatch', `Order ${orderId} costs ${expected}; ${paid} was paid`, { order_id: orderId, expected, paid }),

  /** 409: a trade_no that already paid another order. */
  tradeNoReused: (tradeNo: string) => new AppError('conflict', 'trade_no_reused', `trade_no ${tradeNo} already paid another order`, { trade_no: tradeNo }),

  /** 400: a keyless rewards query without a campaign to scope it. */
  campaignRequired: () => new AppError('invalid', 'invalid_request', 'campaign_id: is required on the keyless rewards routes', { field: 'campaign_id' }),

  /** 404: a withdrawal the key's tenant does not have. */
  withdrawalNotFound: (id: string) => new AppError('not_found', 'withdrawal_not_found', `withdrawal ${id} not found`, { withdrawal_id: id }),

  /** 409: approving or rejecting a withdrawal that is no longer pending. */
  withdrawalDecided: (id: string, status: string) =>
    new AppError('conflict', 'withdrawal_already_decided', `Withdrawal ${id} is already ${status}`, { withdrawal_id: id, status }),

  /** 409: a refund of an order that was never paid (pending or cancelled). */
  orderNotRefundable: (orderId: string, status: string) =>
    new AppError('conflict', 'order_not_refundable', `Order ${orderId} is ${status}; only a paid order is refunded`, { order_id: orderId, status }),
};
