import { AppError, localizerOf, invalidRequest, notFound } from '../../platform/errors.js';

/**
 * The checkout module's error codes and messages. `code` is the contract with clients; messages
 * follow Accept-Language (zh-CN or en) through `localizeCheckoutError`, the code does not.
 */
export const checkoutErrors = {
  invalid: (field: string, message: string) => invalidRequest(field, message),
  orderNotFound: (orderId: string) => notFound('order', orderId),

  /** 422: coupon codes the user does not hold (a code of another user is unknown too). */
  unknownCoupons: (codes: string[]) => new AppError('unprocessable', 'unknown_coupon_code', `No coupon ${codes.join(', ')} in this user's wallet`, { codes }),

  /** 409: the price changed since the quote the client shows (an offer ended, stock ran out, a coupon was used). */
  quoteChanged: (details: Record<string, unknown>) =>
    new AppError('conflict', 'quote_changed', 'The price of this cart changed since the quote; quote again and show the new price', details),

  /** 409: the order id was checked out with a different cart, user or coupons. */
  orderMismatch: (orderId: string) => new AppError('conflict', 'order_mismatch', `Order ${orderId} was checked out with a different request`, { order_id: orderId }),

  /** 409: commit, release or refund of an order in another state. */
  orderState: (orderId: string, status: string, wanted: string) =>
    new AppError('conflict', 'order_state', `Order ${orderId} is ${status}; it must be ${wanted}`, { order_id: orderId, status, wanted }),
};

const zh: Record<string, string> = {
  order_not_found: '订单不存在',
  unknown_coupon_code: '优惠券不存在',
  quote_changed: '价格已变化，请重新计算',
  order_mismatch: '该订单号已用于其他请求',
  order_state: '订单状态不符',
};

/** Messages of the reasons an offer is not applied, for the quote's not_applied[].message. */
export const reasonMessages: Record<string, { en: string; zh: string }> = {
  out_of_scope: { en: 'No item of the cart is covered', zh: '购物车中没有适用的商品' },
  below_threshold: { en: 'The threshold is not reached', zh: '未达到活动门槛' },
  below_min_amount: { en: 'The minimum amount is not reached', zh: '未达到使用门槛' },
  sold_out: { en: 'Sold out', zh: '已售罄' },
  not_in_audience: { en: 'This user cannot take part', zh: '您不能参与该活动' },
  not_stackable_with: { en: 'Cannot be combined with a better offer', zh: '不能与更优惠的活动或优惠券同时使用' },
  worse_combination: { en: 'The best combination does not include it', zh: '最优组合不包含此优惠' },
  not_yet_valid: { en: 'Not valid yet', zh: '优惠券尚未生效' },
  expired: { en: 'Expired', zh: '优惠券已过期' },
  not_available: { en: 'Not available (used, locked or voided)', zh: '优惠券不可用' },
  usage_limit_reached: { en: 'The usage limit is reached', zh: '已达到使用次数上限' },
};

export function reasonMessage(reason: string, chinese: boolean): string {
  const m = reasonMessages[reason];
  return m ? (chinese ? m.zh : m.en) : reason;
}

/** The same error with its message in Chinese when asked (code and details unchanged). */
export const localizeCheckoutError = localizerOf(zh);
