import { AppError, localizerOf, invalidRequest, notFound } from '../../platform/errors.js';

/**
 * The promotions module's error codes and messages, one factory per refusal. `code` is the
 * contract with clients: never change an existing one. Messages follow Accept-Language (zh-CN or
 * en, see `localizePromotionError`); the code does not.
 */
export const promotionErrors = {
  notFound: (id: string) => notFound('promotion', id),
  invalid: (field: string, message: string) => invalidRequest(field, message),

  /** 400: the promotion is outside its window or time slots (the product document's PromotionNotActiveError). */
  notActive: (id: string, why: 'not_started' | 'ended') =>
    new AppError('invalid', 'promotion_not_active', `Promotion ${id} has not started or has ended`, { promotion_id: id, reason: why }),

  /** 409: a promotion's terms cannot change once it started (end it and create another). */
  started: (id: string) => new AppError('conflict', 'promotion_started', `Promotion ${id} has started; its terms can no longer change`, { promotion_id: id }),

  /** 409: the promotion already ended. */
  alreadyEnded: (id: string) => new AppError('conflict', 'promotion_ended', `Promotion ${id} has already ended`, { promotion_id: id }),

  /** 409: the user is not in the promotion's audience. */
  notInAudience: (id: string) => new AppError('conflict', 'promotion_not_in_audience', `This user cannot take part in promotion ${id}`, { promotion_id: id }),

  /** 422: the item is not one the promotion holds stock of. */
  itemNotInPromotion: (id: string, itemId: string) =>
    new AppError('unprocessable', 'promotion_item_not_found', `Item ${itemId} is not sold in promotion ${id}`, { promotion_id: id, item_id: itemId }),

  /** 409: not enough stock left of the item. */
  soldOut: (id: string, itemId: string) => new AppError('conflict', 'promotion_sold_out', `Item ${itemId} of promotion ${id} is sold out`, { promotion_id: id, item_id: itemId }),

  /** 409: the user would take more than per_user_limit units of the item. */
  perUserLimitReached: (id: string, itemId: string, limit: number) =>
    new AppError('conflict', 'promotion_per_user_limit_reached', `This user may take at most ${limit} of item ${itemId} in promotion ${id}`, {
      promotion_id: id,
      item_id: itemId,
      per_user_limit: limit,
    }),

  /** 409: the order id already holds a different reservation of this promotion. */
  orderMismatch: (id: string, orderId: string) =>
    new AppError('conflict', 'promotion_order_mismatch', `Order ${orderId} already holds a different reservation of promotion ${id}`, { promotion_id: id, order_id: orderId }),

  /** 404: no reservation of the promotion (null: of any promotion) for this order. */
  reservationNotFound: (id: string | null, orderId: string) =>
    new AppError('not_found', 'promotion_reservation_not_found', id === null ? `No promotion reservation for order ${orderId}` : `No reservation of promotion ${id} for order ${orderId}`, {
      promotion_id: id,
      order_id: orderId,
    }),

  /** 409: commit of a released reservation, release of a committed one, refund of one not committed. */
  reservationState: (id: string, orderId: string, status: string) =>
    new AppError('conflict', 'promotion_reservation_state', `The reservation of order ${orderId} in promotion ${id} is ${status}`, { promotion_id: id, order_id: orderId, status }),

  /** 409: commit of a reservation whose TTL passed (the sweep releases it; reserve again). */
  reservationExpired: (id: string, orderId: string) =>
    new AppError('conflict', 'promotion_reservation_expired', `The reservation of order ${orderId} in promotion ${id} has expired`, { promotion_id: id, order_id: orderId }),

  /** 409: the promotion changed while the reservation was being made (try again). */
  changed: (id: string) => new AppError('conflict', 'promotion_changed', `Promotion ${id} changed while reserving; try again`, { promotion_id: id }),

  /** 400: audience_id names no audience of the tenant. */
  unknownAudience: (audienceId: string) => new AppError('invalid', 'unknown_audience', `No audience ${audienceId} in this tenant`, { field: 'audience_id' }),
};

const zh: Record<string, string> = {
  promotion_not_found: '活动不存在',
  promotion_not_active: '活动未开始或已结束',
  promotion_started: '活动已开始，不能再修改',
  promotion_ended: '活动已结束',
  promotion_not_in_audience: '您不能参与该活动',
  promotion_item_not_found: '该商品不在活动中',
  promotion_sold_out: '活动商品已售罄',
  promotion_per_user_limit_reached: '已达到每人限购数量',
  promotion_order_mismatch: '该订单已占用活动库存',
  promotion_reservation_not_found: '该订单没有占用活动库存',
  promotion_reservation_state: '活动库存占用状态不符',
  promotion_reservation_expired: '活动库存占用已过期',
  promotion_changed: '活动已变更，请重试',
  unknown_audience: '人群不存在',
};

/** The messages of the eligibility reasons, for the answer's `message` field. */
export const reasonMessages: Record<string, { en: string; zh: string }> = {
  not_started: { en: 'The promotion has not started or has ended', zh: '活动未开始或已结束' },
  ended: { en: 'The promotion has not started or has ended', zh: '活动未开始或已结束' },
  not_in_audience: { en: 'This user cannot take part in the promotion', zh: '您不能参与该活动' },
  out_of_scope: { en: 'The item is not part of the promotion', zh: '该商品不参与活动' },
  sold_out: { en: 'The promotion is sold out', zh: '活动商品已售罄' },
  per_user_limit_reached: { en: 'The per-user limit is reached', zh: '已达到每人限购数量' },
};

/** The same error with its message in Chinese when asked (code and details unchanged). */
export const localizePromotionError = localizerOf(zh);
