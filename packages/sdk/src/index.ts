/**
 * @marketing-hub/sdk: the typed client of marketing-hub.
 * - `MarketingSDK`: the end user's client (web, app, WeChat mini-program) with a publishable key
 *   and the user's token: redeemCode, checkEligibility, coupons, claimCoupon, tasks, balances.
 * - `createMarketingClient`: the whole API for a server with a secret key, typed from the
 *   service's OpenAPI document (openapi-fetch), and `unwrap` for data-or-throw.
 */
export { MarketingSDK, REDEEM_PATH, type MarketingSDKOptions, type RedeemResult, type EligibilityResult, type CouponList, type Coupon, type UserTasks, type UserBalances } from './marketing-sdk.js';
export { createMarketingClient, retryingFetch, unwrap, type MarketingClient, type MarketingClientOptions } from './server-client.js';
export { MarketingError, isMarketingError, errorFromBody, type MarketingErrorCode } from './errors.js';
export { ERROR_CODES, type ErrorCode } from './generated/codes.js';
export { sendWithRetry, retryAfterMs, type RetryOptions } from './retry.js';
export { fetchTransport, type FetchLike, type Transport, type TransportRequest, type TransportResponse } from './transport.js';
export { wxTransport, WxRequestError, type WxLike, type WxRequestOptions } from './wx.js';
export { DEVICE_ID_KEY, defaultDeviceStorage, loadDeviceId, type DeviceStorage, type SdkEnv } from './device.js';
export { userIdOfToken } from './token.js';
export type { paths, components, operations } from './generated/openapi.js';
export type { JsonBody, JsonOk, Query } from './api-types.js';
