import { AppError, notFound } from '../../platform/errors.js';

/**
 * WeChat sign-in refusals. WeChat's own errcode and errmsg go in `details` (`wechat_errcode`,
 * `wechat_errmsg`); the `code` is ours and stable.
 */
export const wechatErrors = {
  appNotFound: (appId: string) => notFound('wechat_app', appId),
  /** 400: the request names no app and the tenant has none, or several. */
  appRequired: (count: number) =>
    new AppError('invalid', 'wechat_app_required', count === 0 ? 'No WeChat app is configured for this tenant (PUT /v1/wechat/apps/{app_id})' : 'This tenant has several WeChat apps: name one in app_id', { field: 'app_id', configured: count }),
  /** 400: the login code (or phone code) is invalid, expired or already used (WeChat 40029, 40163). */
  codeInvalid: (field: 'code' | 'phone_code', errcode: number, errmsg: string) =>
    new AppError('invalid', 'wechat_code_invalid', `WeChat refused the ${field}: invalid, expired or already used`, { field, wechat_errcode: errcode, wechat_errmsg: errmsg }),
  /** 429: WeChat's frequency limit for this app (45011). */
  rateLimited: (errcode: number, errmsg: string) =>
    new AppError('rate_limited', 'wechat_rate_limited', 'WeChat limits how often this app may sign users in; try again in a minute', { wechat_errcode: errcode, wechat_errmsg: errmsg, retry_after_seconds: 60 }),
  /** 503: WeChat could not be reached, timed out, answered garbage, or reported itself busy (-1). */
  unavailable: (why: string, errcode?: number) =>
    new AppError('unavailable', 'wechat_unavailable', `WeChat is not available: ${why}`, { ...(errcode !== undefined ? { wechat_errcode: errcode } : {}), retry_after_seconds: 5 }),
  /** 422: WeChat refused the app's credentials (wrong AppID or AppSecret: 40013, 40125, 40164 IP not whitelisted ...). */
  appRejected: (errcode: number, errmsg: string) =>
    new AppError('unprocessable', 'wechat_app_rejected', "WeChat refused this app's AppID / AppSecret (or this server's IP); check PUT /v1/wechat/apps/{app_id}", { wechat_errcode: errcode, wechat_errmsg: errmsg }),
  /** 422: any other WeChat error, passed on. */
  failed: (errcode: number, errmsg: string) =>
    new AppError('unprocessable', 'wechat_error', `WeChat answered error ${errcode}`, { wechat_errcode: errcode, wechat_errmsg: errmsg }),
};
