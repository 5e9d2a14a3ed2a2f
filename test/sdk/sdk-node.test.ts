/**
 * The SDK against a real `marketing-hub serve` process, from Node: the typed server client (secret
 * key) sets up a tenant, a campaign, a reward and codes and redeems; a redeem whose answer is lost
 * is retried with the same Idempotency-Key and redeems once; the WeChat transport over a wx.request
 * performed with node:http; and MarketingSDK with a publishable key and a user token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMarketingClient,
  isMarketingError,
  MarketingError,
  MarketingSDK,
  unwrap,
  wxTransport,
} from '../../packages/sdk/src/index.js';
import { closedPort } from '../helpers/tcp-proxy.js';
import { headerOf, startDropProxy } from './drop-proxy.js';
import { nodeWx } from './node-wx.js';
import { clientAccess, codeBatch, hasClientAccess, newUserId, type SdkServer, sdkTenant, type SdkTenant, startSdkServer } from './sdk-fixtures.js';

describe('the SDK from Node against the service', () => {
  let base: SdkServer;
  let t: SdkTenant;

  beforeAll(async () => {
    base = await startSdkServer('sdk_node');
    t = await sdkTenant(base);
  }, 120_000);

  afterAll(async () => {
    await base?.stop();
  });

  const points = async (userId: string) => {
    const body = await unwrap(t.service.GET('/v1/users/{user_id}/balances', { params: { path: { user_id: userId } } }));
    return body.balances.find((b) => b.asset === 'POINTS')!.balance;
  };

  it('sets up and redeems with the typed client; a refusal is a MarketingError with its code', async () => {
    const { codes, rewardId } = await codeBatch(t, { count: 3, points: 7 });
    const user = newUserId();
    const result = await unwrap(t.service.POST('/v1/redeem', { body: { code: codes[0]!, user_id: user } }));
    expect(result.redemption).toMatchObject({ code: codes[0], user_id: user, reward_id: rewardId });
    expect(await points(user)).toBe(7);

    const again = await unwrap(t.service.POST('/v1/redeem', { body: { code: codes[0]!, user_id: newUserId() } })).catch((e: unknown) => e);
    expect(isMarketingError(again, 'code_already_redeemed')).toBe(true);
    expect(again).toMatchObject({ status: 409, code: 'code_already_redeemed' });
    const missing = await unwrap(t.service.POST('/v1/redeem', { body: { code: 'NOSUCHCODE12', user_id: user } })).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(MarketingError);
    expect((missing as MarketingError).code).toMatch(/^code_(not_found|mistyped)$/);

    const wrongKey = createMarketingClient({ baseUrl: base.url, apiKey: 'mh_nope' });
    const denied = await unwrap(wrongKey.GET('/v1/campaigns')).catch((e: unknown) => e);
    expect(denied).toMatchObject({ status: 401 });
  });

  it('a redeem whose answer is lost is retried with the same Idempotency-Key: one redemption, the retry gets the first answer', async () => {
    const { codes } = await codeBatch(t, { count: 1, points: 5 });
    const proxy = await startDropProxy(new URL(base.url), 1);
    try {
      const viaProxy = createMarketingClient({ baseUrl: proxy.url, apiKey: t.serviceKey, retry: { baseDelayMs: 50 } });
      const user = newUserId();
      const { data, response } = await viaProxy.POST('/v1/redeem', { body: { code: codes[0]!, user_id: user } });
      expect(response.status).toBe(201);
      expect(proxy.dropped).toBe(1);
      expect(proxy.requests).toHaveLength(2);
      const keys = proxy.requests.map((head) => headerOf(head, 'idempotency-key'));
      expect(keys[0]).toBeTruthy();
      expect(keys[1]).toBe(keys[0]);
      expect(response.headers.get('idempotent-replayed')).toBe('true');

      const listed = await unwrap(t.service.GET('/v1/redemptions', { params: { query: { code: codes[0]! } } }));
      expect(listed.redemptions).toHaveLength(1);
      expect(listed.redemptions[0]!.redemption_id).toBe(data!.redemption.redemption_id);
      expect(await points(user)).toBe(5);
    } finally {
      await proxy.close();
    }
  });

  it('talks through the WeChat transport (wx.request performed with node:http)', async () => {
    const { codes } = await codeBatch(t, { count: 1, points: 3 });
    const wx = nodeWx();
    const viaWx = createMarketingClient({ baseUrl: base.url, apiKey: t.serviceKey, transport: wxTransport(wx) });
    const user = newUserId();
    const result = await unwrap(viaWx.POST('/v1/redeem', { body: { code: codes[0]!, user_id: user } }));
    expect(result.redemption.user_id).toBe(user);
    const refused = await unwrap(viaWx.POST('/v1/redeem', { body: { code: codes[0]!, user_id: user } })).catch((e: unknown) => e);
    expect(isMarketingError(refused, 'code_already_redeemed')).toBe(true);
    expect(wx.calls[0]).toMatchObject({ method: 'POST', responseType: 'text', header: expect.objectContaining({ 'idempotency-key': expect.any(String) }) });
    expect(typeof wx.calls[0]!.data).toBe('string');

    // No answer at all (nothing listens): wx's fail() is a network error, retried, then network_error.
    const down = nodeWx();
    const nowhere = createMarketingClient({ baseUrl: `http://127.0.0.1:${await closedPort()}`, apiKey: t.serviceKey, transport: wxTransport(down), retry: { retries: 2, baseDelayMs: 10 } });
    const err = await nowhere.GET('/v1/campaigns').catch((e: unknown) => e);
    expect(isMarketingError(err, 'network_error')).toBe(true);
    expect(down.calls).toHaveLength(3);
  });

  describe('MarketingSDK (publishable key and user token)', () => {
    let access: Awaited<ReturnType<typeof clientAccess>>;
    let ready = false;

    beforeAll(async () => {
      ready = await hasClientAccess(base);
      if (ready) access = await clientAccess(base, t, ['http://localhost:1']);
    });

    const sdkFor = (userId: string, extra: Partial<ConstructorParameters<typeof MarketingSDK>[0]> = {}) =>
      new MarketingSDK({
        productCode: t.productCode,
        env: 'app',
        publishableKey: access.publishableKey,
        getUserToken: () => access.userToken(userId),
        baseUrl: base.url,
        ...extra,
      });

    it('redeemCode, balances, tasks, eligibility, coupons and a claim, for the token\'s user', async (ctx) => {
      if (!ready) ctx.skip();
      const { codes, rewardId } = await codeBatch(t, { count: 2, points: 11 });
      const user = newUserId();
      const sdk = sdkFor(user);
      const redeemed = await sdk.redeemCode(codes[0]!);
      expect(redeemed.redemption).toMatchObject({ user_id: user });
      const balances = await sdk.balances();
      expect(balances.balances.find((b) => b.asset === 'POINTS')!.balance).toBe(11);
      expect((await sdk.tasks()).user_id).toBe(user);
      const eligibility = await sdk.checkEligibility({ rewardId });
      expect(typeof eligibility.eligible).toBe('boolean');

      const template = await unwrap(t.admin.POST('/v1/coupons/templates', { body: { name: 'SDK 5 off', coupon_type: 'discount', value: 500, per_user_limit: 1 } }));
      const coupon = await sdk.claimCoupon(template.template_id);
      expect(coupon.user_id).toBe(user);
      expect((await sdk.coupons()).coupons.map((c) => c.coupon_id)).toEqual([coupon.coupon_id]);

      const twice = await sdk.redeemCode(codes[0]!).catch((e: unknown) => e);
      expect(isMarketingError(twice, 'code_already_redeemed')).toBe(true);
    });

    it('a lost answer of redeemCode is retried once with the same key: one redemption', async (ctx) => {
      if (!ready) ctx.skip();
      const { codes } = await codeBatch(t, { count: 1, points: 4 });
      const proxy = await startDropProxy(new URL(base.url), 1);
      try {
        const user = newUserId();
        const sdk = sdkFor(user, { baseUrl: proxy.url, retry: { baseDelayMs: 50 } });
        const result = await sdk.redeemCode(codes[0]!);
        expect(proxy.dropped).toBe(1);
        expect(proxy.requests.map((h) => headerOf(h, 'idempotency-key'))).toEqual([expect.any(String), headerOf(proxy.requests[0]!, 'idempotency-key')]);
        const listed = await unwrap(t.service.GET('/v1/redemptions', { params: { query: { code: codes[0]! } } }));
        expect(listed.redemptions.map((r) => r.redemption_id)).toEqual([result.redemption.redemption_id]);
        expect(await points(user)).toBe(4);
      } finally {
        await proxy.close();
      }
    });

    it('in a mini-program (env mini): wx.request, the device id kept in wx storage', async (ctx) => {
      if (!ready) ctx.skip();
      const { codes } = await codeBatch(t, { count: 1, points: 2 });
      const wx = nodeWx();
      const user = newUserId();
      const sdk = sdkFor(user, { env: 'mini', wx });
      const result = await sdk.redeemCode(codes[0]!);
      expect(result.redemption.user_id).toBe(user);
      expect(wx.calls[0]!.header).toMatchObject({ 'x-device-id': sdk.deviceId, 'x-product-code': t.productCode, 'x-publishable-key': access.publishableKey });
      expect(sdkFor(user, { env: 'mini', wx }).deviceId).toBe(sdk.deviceId);
    });

    it('refusals of the client contract are typed errors', async (ctx) => {
      if (!ready) ctx.skip();
      const expired = sdkFor(newUserId(), { getUserToken: () => access.userToken(newUserId(), 7200) });
      expect(await expired.balances().catch((e: unknown) => e)).toMatchObject({ status: 401, code: 'user_token_expired' });
      // An expired token is replaced once through getUserToken({refresh: true}).
      const user = newUserId();
      const refreshing = sdkFor(user, { getUserToken: ({ refresh }) => access.userToken(user, refresh ? 0 : 7200) });
      expect((await refreshing.balances()).user_id).toBe(user);
      const badKey = sdkFor(newUserId(), { publishableKey: 'pk_unknown' });
      expect(await badKey.balances().catch((e: unknown) => e)).toMatchObject({ status: 401, code: 'publishable_key_invalid' });
    });
  });
});
