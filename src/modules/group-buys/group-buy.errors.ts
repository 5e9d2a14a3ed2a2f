import { AppError, notFound } from '../../platform/errors.js';

/**
 * The group-buy module's error codes, one factory per refusal. `code` is the contract with
 * clients: never change an existing one. Messages are English here; the routes answer zh-CN ones
 * (see group-buy.messages.ts) when the caller's Accept-Language asks for them.
 */
export const groupBuyErrors = {
  /** 404: no activity of the tenant with this id. */
  activityNotFound: (activityId: string) => notFound('activity', activityId),

  /** 404: no group of the tenant with this id. */
  groupNotFound: (groupId: string) => notFound('group', groupId),

  /** 400: the activity has not started or has ended (the document's PromotionNotActiveError). */
  activityNotActive: (activityId: string) =>
    new AppError('invalid', 'activity_not_active', 'The activity has not started or has ended', { activity_id: activityId }),

  /** 409: the group has all its members. */
  groupFull: (groupId: string) => new AppError('conflict', 'group_full', 'The group is full', { group_id: groupId }),

  /** 409: the group is no longer open (it expired, failed or already succeeded). */
  groupClosed: (groupId: string, status: string) =>
    new AppError('conflict', 'group_closed', `The group is ${status === 'open' ? 'expired' : status}`, { group_id: groupId, status }),

  /** 409: the user is already a member of this group. */
  alreadyJoined: (groupId: string, userId: string) =>
    new AppError('conflict', 'already_joined', 'The user has already joined this group', { group_id: groupId, user_id: userId }),

  /** 409: the user has joined as many groups of the activity as it allows. */
  perUserLimitReached: (activityId: string, userId: string, limit: number) =>
    new AppError('conflict', 'per_user_limit_reached', `The user has joined ${limit} group(s) of this activity, the most it allows`, {
      activity_id: activityId,
      user_id: userId,
      per_user_limit: limit,
    }),

  /** 400: group_size above the configured maximum (group_buys.max_group_size). */
  groupSizeTooLarge: (size: number, max: number) =>
    new AppError('invalid', 'group_size_too_large', `group_size ${size} is above the maximum of ${max}`, { field: 'group_size', group_size: size, max_group_size: max }),

  /** 400: end_time not after start_time. */
  invalidTimes: () => new AppError('invalid', 'invalid_time_range', 'end_time must be after start_time', { field: 'end_time' }),

  /** 400: a webhook_url without a webhook_secret, or the other way round. */
  webhookIncomplete: () => new AppError('invalid', 'webhook_incomplete', 'webhook_url and webhook_secret go together', { field: 'webhook_secret' }),

  /** 409: an activity can change only before it starts. */
  activityStarted: (activityId: string) =>
    new AppError('conflict', 'activity_started', 'The activity has started; it can no longer change', { activity_id: activityId }),

  /** 409: the activity has already ended. */
  activityEnded: (activityId: string) => new AppError('conflict', 'activity_ended', 'The activity has already ended', { activity_id: activityId }),
};

/** zh-CN messages by code, for callers whose Accept-Language prefers Chinese (the code stays the same). */
export const groupBuyMessagesZh: Record<string, string> = {
  activity_not_found: '拼团活动不存在',
  group_not_found: '拼团不存在',
  activity_not_active: '活动未开始或已结束',
  group_full: '拼团人数已满',
  group_closed: '拼团已结束',
  already_joined: '您已参加该拼团',
  per_user_limit_reached: '已达到该活动的参团次数上限',
  group_size_too_large: '成团人数超过上限',
  invalid_time_range: '结束时间必须晚于开始时间',
  webhook_incomplete: 'webhook_url 与 webhook_secret 须同时提供',
  activity_started: '活动已开始，不能修改',
  activity_ended: '活动已结束',
};
