import { AppError, localizerOf, invalidRequest, notFound } from '../../platform/errors.js';

/**
 * The coupons module's error codes and messages, one factory per refusal. `code` is the contract
 * with clients: never change an existing one. Messages follow Accept-Language (zh-CN or en, see
 * `localizeCouponError`); the code does not.
 */
export const couponErrors = {
  templateNotFound: (id: string) => notFound('coupon_template', id),
  couponNotFound: (id: string) => notFound('coupon', id),
  invalid: (field: string, message: string) => invalidRequest(field, message),

  /** 409: a template's terms cannot change once a coupon of it was claimed (disable it and make another). */
  templateInUse: (id: string, claimed: number) =>
    new AppError('conflict', 'coupon_template_in_use', `Coupon template ${id} has ${claimed} claimed coupons; its terms can no longer change`, { template_id: id, claimed_count: claimed }),

  /** 409: the template is disabled or past its valid_until: no new coupons. */
  templateNotClaimable: (id: string, why: 'disabled' | 'ended') =>
    new AppError('conflict', 'coupon_template_not_claimable', `Coupon template ${id} is ${why === 'disabled' ? 'disabled' : 'no longer valid'}`, { template_id: id, why }),

  /** 409: claim_policy refuses this user (admin_only, or not in the audience). */
  claimNotAllowed: (id: string, policy: string) =>
    new AppError('conflict', 'coupon_claim_not_allowed', `Coupon template ${id} cannot be claimed by this user (claim_policy ${policy})`, { template_id: id, claim_policy: policy }),

  /** 409: the template's usage_limit (total coupons) is reached. */
  usageLimitReached: (id: string, limit: number | null) =>
    new AppError('conflict', 'coupon_usage_limit_reached', `Coupon template ${id} has no coupons left`, { template_id: id, usage_limit: limit }),

  /** 409: this user already holds per_user_limit coupons of the template. */
  perUserLimitReached: (id: string, limit: number | null) =>
    new AppError('conflict', 'coupon_per_user_limit_reached', `This user already claimed coupon template ${id} ${limit ?? ''} times`.replace('  ', ' '), { template_id: id, per_user_limit: limit }),

  /** 409: the coupon is held by another order. */
  locked: (id: string) => new AppError('conflict', 'coupon_locked', `Coupon ${id} is locked by another order`, { coupon_id: id }),

  /** 400: the coupon is past its validity (the product document's message in Chinese). */
  expired: (id: string) => new AppError('invalid', 'coupon_expired', `Coupon ${id} has expired`, { coupon_id: id }),

  /** 409: the coupon is used, voided or otherwise not in a state for this call. */
  notAvailable: (id: string, status: string) =>
    new AppError('conflict', 'coupon_not_available', `Coupon ${id} is ${status}`, { coupon_id: id, status }),

  /** 422: the coupon does not apply to this cart (reason as in the availability answer). */
  notUsable: (id: string, reason: string, details: Record<string, unknown>) =>
    new AppError('unprocessable', 'coupon_not_usable', `Coupon ${id} cannot be used on this order: ${reason}`, { coupon_id: id, reason, ...details }),

  /** 409: the coupon belongs to another user. */
  ownerMismatch: (id: string) => new AppError('conflict', 'coupon_owner_mismatch', `Coupon ${id} belongs to another user`, { coupon_id: id }),

  /** 409: commit / release / refund named an order that does not hold the coupon. */
  orderMismatch: (id: string, status: string) =>
    new AppError('conflict', 'coupon_order_mismatch', `Coupon ${id} is not ${status} by this order`, { coupon_id: id, status }),

  /** 409: the lock's TTL passed before the commit: lock again. */
  lockExpired: (id: string) => new AppError('conflict', 'coupon_lock_expired', `The lock on coupon ${id} expired before the commit`, { coupon_id: id }),

  /** 400: claim_policy audience names no audience of the tenant. */
  unknownAudience: (audienceId: string) =>
    new AppError('invalid', 'unknown_audience', `No audience ${audienceId} in this tenant`, { field: 'audience_id' }),
};

const zh: Record<string, string> = {
  coupon_template_not_found: '优惠券模板不存在',
  coupon_not_found: '优惠券不存在',
  coupon_template_in_use: '优惠券模板已被领取，不能再修改',
  coupon_template_not_claimable: '优惠券模板已停用或已过期',
  coupon_claim_not_allowed: '您不能领取该优惠券',
  coupon_usage_limit_reached: '优惠券已领完',
  coupon_per_user_limit_reached: '已达到每人领取上限',
  coupon_locked: '优惠券已被其他订单占用',
  coupon_expired: '优惠券已过期',
  coupon_not_available: '优惠券不可用',
  coupon_not_usable: '优惠券不适用于该订单',
  coupon_owner_mismatch: '优惠券不属于该用户',
  coupon_order_mismatch: '优惠券与该订单不符',
  coupon_lock_expired: '优惠券锁定已超时',
  unknown_audience: '人群不存在',
};

/** The same error with its message in Chinese when asked (code and details unchanged). */
export const localizeCouponError = localizerOf(zh);
