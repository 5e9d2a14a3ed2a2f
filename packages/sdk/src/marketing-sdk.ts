import type { JsonBody, JsonOk, Query } from './api-types.js';
import { defaultDeviceStorage, type DeviceStorage, loadDeviceId, type SdkEnv } from './device.js';
import { MarketingError, parseResponse } from './errors.js';
import { type RetryOptions, sendWithRetry } from './retry.js';
import { fetchTransport, type FetchLike, lowerCaseHeaders, type Transport, type TransportResponse } from './transport.js';
import { userIdOfToken } from './token.js';
import { type WxLike, wxTransport } from './wx.js';

/**
 * Where `redeemCode` posts: the product document's unified entry, `POST /api/redeem` with
 * `{code, userId}` and the x-product-code / x-device-id headers.
 */
export const REDEEM_PATH = '/api/redeem';

export interface MarketingSDKOptions {
  /** The app (product line) this client is, e.g. 'PC_MAIN'; sent as X-Product-Code. */
  productCode: string;
  /** The platform: 'web' (browser), 'app' (native app / Node), 'mini' (WeChat mini-program). */
  env: SdkEnv;
  /** The app's publishable key (pk_...), safe to ship in a page or an app. */
  publishableKey: string;
  /**
   * The signed-in user's token (a JWT your backend signs); called before every call. After a
   * 401 user_token_expired it is called once more with `{refresh: true}`: answer a new token
   * (not a cached one) and the call is sent again.
   */
  getUserToken: (context: { refresh: boolean }) => string | Promise<string>;
  /** The service, e.g. https://marketing.example.com */
  baseUrl: string;
  /** This device's id; by default generated once and kept in the env's storage. */
  deviceId?: string;
  /** Where the generated device id is kept (default: localStorage on web, wx storage in mini). */
  storage?: DeviceStorage;
  /** Sends requests (default: wx.request in 'mini', fetch elsewhere). */
  transport?: Transport;
  /** The fetch to use for the default transport. */
  fetch?: FetchLike;
  /** The mini-program's `wx` (default: the global one). */
  wx?: WxLike;
  retry?: RetryOptions;
}

export type RedeemResult = JsonOk<'/api/redeem', 'post'>;
type RedeemBody = JsonBody<'/api/redeem', 'post'>;
export type EligibilityResult = JsonOk<'/v1/reward-grants/check', 'post'>;
export type CouponList = JsonOk<'/v1/coupons', 'get'>;
export type Coupon = JsonOk<'/v1/coupons/templates/{coupon_template_id}/claim', 'post'>;
export type UserTasks = JsonOk<'/v1/users/{user_id}/tasks', 'get'>;
export type UserBalances = JsonOk<'/v1/users/{user_id}/balances', 'get'>;
type EligibilityBody = JsonBody<'/v1/reward-grants/check', 'post'>;
type CouponQuery = Query<'/v1/coupons', 'get'>;

/**
 * The end user's client, the same on every platform (the document's 多端复用方案): it acts for
 * the user of `getUserToken()` with the app's publishable key; every call carries X-Product-Code,
 * X-Device-Id and X-Publishable-Key, and writes carry one Idempotency-Key across their retries.
 * Refusals throw MarketingError.
 */
export class MarketingSDK {
  readonly productCode: string;
  readonly env: SdkEnv;
  readonly deviceId: string;
  readonly #options: MarketingSDKOptions;
  readonly #transport: Transport;
  readonly #baseUrl: string;

  constructor(options: MarketingSDKOptions) {
    if (!options.productCode) throw new TypeError('productCode is required');
    if (!options.publishableKey) throw new TypeError('publishableKey is required');
    this.#options = options;
    this.productCode = options.productCode;
    this.env = options.env;
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#transport = options.transport ?? defaultTransport(options);
    this.deviceId = options.deviceId ?? loadDeviceId(options.storage ?? defaultDeviceStorage(options.env, options.wx));
  }

  /**
   * Redeems a code the user typed (dashes, spaces and, where allowed, case do not matter):
   * `{message: '核销成功', redemption, grant}`; refusals throw MarketingError
   * (code_not_found, code_already_redeemed, code_expired, ...).
   */
  async redeemCode(code: string): Promise<RedeemResult> {
    const user = await this.#user();
    const body: RedeemBody = { code, userId: user.userId };
    return this.#call(user, 'POST', REDEEM_PATH, { body });
  }

  /** Would granting this reward to the user succeed? `{eligible, reasons}`, nothing granted. */
  async checkEligibility(input: { rewardId: string; campaignId?: string; quantity?: number }): Promise<EligibilityResult> {
    const user = await this.#user();
    const body: EligibilityBody = {
      reward_id: input.rewardId,
      user_id: user.userId,
      ...(input.campaignId !== undefined ? { campaign_id: input.campaignId } : {}),
      ...(input.quantity !== undefined ? { quantity: input.quantity } : {}),
    };
    return this.#call(user, 'POST', '/v1/reward-grants/check', { body });
  }

  /** The user's coupons, newest first. */
  async coupons(filter: { status?: CouponQuery['status']; page?: number; pageSize?: number } = {}): Promise<CouponList> {
    const user = await this.#user();
    const query: CouponQuery = { user_id: user.userId };
    if (filter.status) query.status = filter.status;
    if (filter.page !== undefined) query.page = filter.page;
    if (filter.pageSize !== undefined) query.page_size = filter.pageSize;
    return this.#call(user, 'GET', '/v1/coupons', { query });
  }

  /** The user claims a coupon of a template. */
  async claimCoupon(templateId: string): Promise<Coupon> {
    const user = await this.#user();
    return this.#call(user, 'POST', `/v1/coupons/templates/${encodeURIComponent(templateId)}/claim`, { body: { user_id: user.userId } });
  }

  /** The user's progress on every task that can progress now. */
  async tasks(): Promise<UserTasks> {
    const user = await this.#user();
    return this.#call(user, 'GET', `/v1/users/${encodeURIComponent(user.userId)}/tasks`, {});
  }

  /** The user's balance of every asset (points, cash balance, subscription days). */
  async balances(): Promise<UserBalances> {
    const user = await this.#user();
    return this.#call(user, 'GET', `/v1/users/${encodeURIComponent(user.userId)}/balances`, {});
  }

  async #user(refresh = false): Promise<{ token: string; userId: string }> {
    const token = await this.#options.getUserToken({ refresh });
    if (!token) throw new MarketingError({ status: 401, code: 'user_token_required', message: 'getUserToken() gave no token: sign the user in first' });
    return { token, userId: userIdOfToken(token) };
  }

  /**
   * Sends one call and parses its answer. A 401 user_token_expired (nothing was done) asks
   * getUserToken({refresh: true}) for a new token once and sends the call again, as a new request.
   */
  async #call<T>(user: { token: string }, method: string, path: string, input: { body?: unknown; query?: object }): Promise<T> {
    const res = await this.#send(user.token, method, path, input);
    if (res.status === 401 && /"user_token_expired"/.test(res.body)) {
      const fresh = await this.#user(true);
      if (fresh.token !== user.token) return parseResponse<T>(await this.#send(fresh.token, method, path, input));
    }
    return parseResponse<T>(res);
  }

  #send(token: string, method: string, path: string, input: { body?: unknown; query?: object }): Promise<TransportResponse> {
    const headers = lowerCaseHeaders({
      accept: 'application/json',
      'x-publishable-key': this.#options.publishableKey,
      authorization: `Bearer ${token}`,
      'x-product-code': this.productCode,
      'x-device-id': this.deviceId,
      ...(input.body !== undefined ? { 'content-type': 'application/json' } : {}),
    });
    return sendWithRetry(
      this.#transport,
      { method, url: `${this.#baseUrl}${path}${queryString(input.query)}`, headers, ...(input.body !== undefined ? { body: JSON.stringify(input.body) } : {}) },
      this.#options.retry,
    );
  }
}

function defaultTransport(options: MarketingSDKOptions): Transport {
  if (options.env === 'mini' && !options.fetch) {
    const wx = options.wx ?? (globalThis as { wx?: WxLike }).wx;
    if (!wx) throw new TypeError("env 'mini' needs the mini-program's wx (or pass `transport`)");
    return wxTransport(wx);
  }
  return fetchTransport(options.fetch);
}

function queryString(query: object | undefined): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}
