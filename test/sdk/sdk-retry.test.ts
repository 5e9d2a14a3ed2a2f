/**
 * The SDK's retry policy, errors, device ids and tokens against scripted transports (no server):
 * which answers are retried, how long it waits, and that every retry of a write carries the same
 * Idempotency-Key.
 */
import { describe, expect, it } from 'vitest';
import {
  DEVICE_ID_KEY,
  defaultDeviceStorage,
  createMarketingClient,
  ERROR_CODES,
  isMarketingError,
  MarketingError,
  MarketingSDK,
  retryAfterMs,
  sendWithRetry,
  type Transport,
  type TransportRequest,
  type TransportResponse,
  unwrap,
  userIdOfToken,
  type WxLike,
} from '../../packages/sdk/src/index.js';
import { parseResponse } from '../../packages/sdk/src/errors.js';

const json = (status: number, body: unknown, headers: Record<string, string> = {}): TransportResponse => ({ status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const refusal = (status: number, code: string, headers: Record<string, string> = {}) => json(status, { error: { code, message: code, details: { x: 1 } }, requestId: 'req-1' }, headers);

/** A transport answering from a script (a function throws = a network error); records the requests. */
function scripted(...answers: (TransportResponse | Error)[]) {
  const seen: TransportRequest[] = [];
  const transport: Transport = async (request) => {
    seen.push(request);
    const next = answers.shift();
    if (!next) throw new Error('script exhausted');
    if (next instanceof Error) throw next;
    return next;
  };
  return { transport, seen };
}

function recordSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

const post = (headers: Record<string, string> = {}): TransportRequest => ({ method: 'POST', url: 'http://svc/v1/redeem', headers, body: '{}' });

/** An unsigned JWT with this payload (the SDK reads `sub`, the service verifies). */
const token = (payload: Record<string, unknown>) => `e30.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;

describe('sendWithRetry', () => {
  it('retries network errors, 5xx and 429 with ONE Idempotency-Key, honouring Retry-After', async () => {
    const { transport, seen } = scripted(new Error('ECONNRESET'), json(503, {}), refusal(429, 'rate_limited', { 'retry-after': '2' }), json(201, { ok: true }));
    const { waits, sleep } = recordSleep();
    const res = await sendWithRetry(transport, post(), { retries: 3, sleep, baseDelayMs: 100 });
    expect(res.status).toBe(201);
    expect(seen).toHaveLength(4);
    const keys = new Set(seen.map((r) => r.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(waits[2]).toBe(2000); // Retry-After: 2
    expect(waits[0]).toBeGreaterThanOrEqual(50); // backoff: half of 100 at least
    expect(waits[1]).toBeGreaterThanOrEqual(100); // then half of 200 at least
  });

  it('keeps a caller-given Idempotency-Key; a new call gets a new key', async () => {
    const a = scripted(json(500, {}), json(201, {}));
    await sendWithRetry(a.transport, post({ 'idempotency-key': 'mine-1' }), { sleep: async () => {} });
    expect(a.seen.map((r) => r.headers['idempotency-key'])).toEqual(['mine-1', 'mine-1']);
    const b = scripted(json(201, {}), json(201, {}));
    await sendWithRetry(b.transport, post(), {});
    await sendWithRetry(b.transport, post(), {});
    expect(b.seen[0]!.headers['idempotency-key']).not.toBe(b.seen[1]!.headers['idempotency-key']);
  });

  it('never retries a 4xx other than 429 (and 409 request_in_progress)', async () => {
    for (const [status, code] of [[400, 'invalid_request'], [401, 'user_token_invalid'], [403, 'user_mismatch'], [404, 'code_not_found'], [409, 'code_already_redeemed'], [422, 'no_reward_rule_matched']] as const) {
      const { transport, seen } = scripted(refusal(status, code), json(201, {}));
      const res = await sendWithRetry(transport, post(), { sleep: async () => {} });
      expect(res.status).toBe(status);
      expect(seen).toHaveLength(1);
    }
    const busy = scripted(refusal(409, 'request_in_progress'), json(201, {}));
    expect((await sendWithRetry(busy.transport, post(), { sleep: async () => {} })).status).toBe(201);
    expect(busy.seen).toHaveLength(2);
  });

  it('stops at the limit: the last answer, or network_error with status 0', async () => {
    const five = scripted(json(502, {}), json(502, {}), json(502, {}), json(502, {}), json(201, {}));
    expect((await sendWithRetry(five.transport, post(), { retries: 3, sleep: async () => {} })).status).toBe(502);
    expect(five.seen).toHaveLength(4);
    const down = scripted(new Error('a'), new Error('b'), new Error('c'));
    const err = await sendWithRetry(down.transport, post(), { retries: 2, sleep: async () => {} }).catch((e: unknown) => e);
    expect(isMarketingError(err, 'network_error')).toBe(true);
    expect((err as MarketingError).status).toBe(0);
    expect(down.seen).toHaveLength(3);
    const off = scripted(json(500, {}));
    expect((await sendWithRetry(off.transport, post(), { retries: 0 })).status).toBe(500);
  });

  it('answers a 429 whose Retry-After is past maxRetryAfterMs instead of waiting', async () => {
    const { transport, seen } = scripted(refusal(429, 'rate_limited', { 'retry-after': '3600' }), json(201, {}));
    expect((await sendWithRetry(transport, post(), { sleep: async () => {} })).status).toBe(429);
    expect(seen).toHaveLength(1);
  });

  it('sends reads without an Idempotency-Key and retries them too', async () => {
    const { transport, seen } = scripted(json(500, {}), json(200, {}));
    await sendWithRetry(transport, { method: 'GET', url: 'http://svc/v1/coupons', headers: {} }, { sleep: async () => {} });
    expect(seen).toHaveLength(2);
    expect(seen[0]!.headers['idempotency-key']).toBeUndefined();
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(undefined)).toBeNull();
    expect(retryAfterMs('soon')).toBeNull();
    const inFive = retryAfterMs(new Date(Date.now() + 5000).toUTCString())!;
    expect(inFive).toBeGreaterThan(3000);
    expect(inFive).toBeLessThanOrEqual(5000);
  });
});

describe('MarketingError', () => {
  it('carries status, code, message, details and the request id; isMarketingError narrows by code', () => {
    const err = (() => {
      try {
        return parseResponse(refusal(409, 'code_already_redeemed'));
      } catch (e) {
        return e;
      }
    })();
    expect(isMarketingError(err)).toBe(true);
    expect(isMarketingError(err, 'code_not_found')).toBe(false);
    if (!isMarketingError(err, 'code_already_redeemed')) throw new Error('not narrowed');
    const code: 'code_already_redeemed' = err.code;
    expect({ status: err.status, code, message: err.message, details: err.details, requestId: err.requestId }).toEqual({
      status: 409,
      code: 'code_already_redeemed',
      message: 'code_already_redeemed',
      details: { x: 1 },
      requestId: 'req-1',
    });
    expect(isMarketingError(new Error('x'))).toBe(false);
  });

  it('a body that is not the error shape is invalid_response', () => {
    expect(() => parseResponse({ status: 502, headers: {}, body: '<html>bad gateway</html>' })).toThrow(expect.objectContaining({ code: 'invalid_response', status: 502 }));
    expect(() => parseResponse({ status: 200, headers: {}, body: 'not json' })).toThrow(expect.objectContaining({ code: 'invalid_response' }));
  });

  it('the generated codes include the redemption and client-access refusals', () => {
    for (const code of ['code_not_found', 'code_already_redeemed', 'code_expired', 'rate_limited', 'per_user_limit_reached', 'campaign_not_found', 'request_in_progress']) {
      expect(ERROR_CODES).toContain(code);
    }
  });
});

describe('device id and user token', () => {
  it("is generated once and kept in the mini-program's storage", () => {
    const store = new Map<string, string>();
    const wx: WxLike = {
      request: () => undefined,
      getStorageSync: (k) => store.get(k) ?? '',
      setStorageSync: (k, v) => void store.set(k, v),
    };
    const options = { productCode: 'MINI_B', env: 'mini' as const, publishableKey: 'pk_x', getUserToken: () => token({ sub: 'u1' }), baseUrl: 'http://svc', wx };
    const first = new MarketingSDK(options);
    const second = new MarketingSDK(options);
    expect(first.deviceId).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.deviceId).toBe(first.deviceId);
    expect(store.get(DEVICE_ID_KEY)).toBe(first.deviceId);
  });

  it('lives in memory in Node (app env) unless given; an explicit deviceId wins', () => {
    expect(defaultDeviceStorage('app')).toBeNull();
    const base = { productCode: 'APP_A', env: 'app' as const, publishableKey: 'pk_x', getUserToken: () => token({ sub: 'u1' }), baseUrl: 'http://svc' };
    expect(new MarketingSDK(base).deviceId).not.toBe(new MarketingSDK(base).deviceId);
    expect(new MarketingSDK({ ...base, deviceId: 'dev-1' }).deviceId).toBe('dev-1');
  });

  it('reads the user id from the token (UTF-8), and refuses a token without sub', () => {
    expect(userIdOfToken(token({ sub: '用户-42', exp: 1 }))).toBe('用户-42');
    expect(() => userIdOfToken('not-a-jwt')).toThrow(expect.objectContaining({ code: 'user_token_invalid' }));
    expect(() => userIdOfToken(token({ exp: 1 }))).toThrow(MarketingError);
  });

  it('sends the headers of the contract on redeemCode: product, device, publishable key, the user token, one Idempotency-Key', async () => {
    const userToken = token({ sub: 'u-9' });
    const { transport, seen } = scripted(json(503, {}), json(201, { redemption: {}, grant: {} }));
    const sdk = new MarketingSDK({ productCode: 'PC_MAIN', env: 'web', publishableKey: 'pk_live', getUserToken: async () => userToken, baseUrl: 'http://svc/', transport, deviceId: 'dev-7', retry: { sleep: async () => {} } });
    await sdk.redeemCode('ABCD-1234');
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({
      method: 'POST',
      url: 'http://svc/api/redeem',
      headers: { 'x-product-code': 'PC_MAIN', 'x-device-id': 'dev-7', 'x-publishable-key': 'pk_live', authorization: `Bearer ${userToken}`, 'content-type': 'application/json' },
    });
    expect(JSON.parse(seen[0]!.body!)).toEqual({ code: 'ABCD-1234', userId: 'u-9' });
    expect(seen[1]!.headers['idempotency-key']).toBe(seen[0]!.headers['idempotency-key']);
  });
});

describe('types from the generated paths', () => {
  it('the compiler refuses an unknown path, a wrong body and a wrong error code (checked by tsc, never run)', () => {
    const typesOnly = async () => {
      const client = createMarketingClient({ baseUrl: 'http://svc', apiKey: 'mhk_x' });
      // @ts-expect-error: no such path
      await client.GET('/v1/no-such-path');
      // @ts-expect-error: user_id is required
      await client.POST('/v1/redeem', { body: { code: 'ABC' } });
      const result = await unwrap(client.POST('/v1/redeem', { body: { code: 'ABC', user_id: 'u1' } }));
      const redemptionId: string = result.redemption.redemption_id;
      // @ts-expect-error: not a code the service answers
      isMarketingError(new Error(), 'no_such_code');
      return redemptionId;
    };
    expect(typeof typesOnly).toBe('function');
  });
});

describe('an expired user token', () => {
  it('is refreshed once through getUserToken({refresh: true}) and the call sent again', async () => {
    const tokens = [token({ sub: 'u1', n: 1 }), token({ sub: 'u1', n: 2 })];
    const asked: boolean[] = [];
    const { transport, seen } = scripted(refusal(401, 'user_token_expired'), json(200, { user_id: 'u1', balances: [] }));
    const sdk = new MarketingSDK({
      productCode: 'APP_A',
      env: 'app',
      publishableKey: 'pk_x',
      baseUrl: 'http://svc',
      transport,
      getUserToken: ({ refresh }) => {
        asked.push(refresh);
        return refresh ? tokens[1]! : tokens[0]!;
      },
    });
    expect(await sdk.balances()).toEqual({ user_id: 'u1', balances: [] });
    expect(asked).toEqual([false, true]);
    expect(seen.map((r) => r.headers.authorization)).toEqual([`Bearer ${tokens[0]}`, `Bearer ${tokens[1]}`]);
  });

  it('is answered as user_token_expired when the refresh gives the same token', async () => {
    const same = token({ sub: 'u1' });
    const { transport, seen } = scripted(refusal(401, 'user_token_expired'), json(200, {}));
    const sdk = new MarketingSDK({ productCode: 'APP_A', env: 'app', publishableKey: 'pk_x', baseUrl: 'http://svc', transport, getUserToken: () => same });
    expect(await sdk.balances().catch((e: unknown) => e)).toMatchObject({ status: 401, code: 'user_token_expired' });
    expect(seen).toHaveLength(1);
  });
});
