/**
 * Client-side access end to end in Debian's Chromium (playwright-core, never a downloaded browser):
 * the service listens on one port, a tiny shop page is served from another (another origin), and
 * the page's own fetch calls redeem a real code with a publishable key and a user token that the
 * test mints with jose, as the tenant's backend would. Then, from the page, a forged token, an
 * expired token, another user's id, a disallowed origin and a server-only route are each refused
 * with their code.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { hasBrowser, launchChromium, requireBrowser } from '../helpers/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintUserToken } from '../../src/modules/client-access/testing/client-fixture.js';
import { systemClock } from '../../src/platform/clock.js';
import { newBatch } from '../helpers/redeem-code-helpers.js';
import { must, type TenantFixture, type TestApp, testApp } from '../helpers/test-app.js';


requireBrowser('the client access browser test is');

/** The shop's page: one function the test calls through page.evaluate, as the shop's own script would. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>Shop</title><pre id="log"></pre>
<script>
window.callApi = async (api, path, o) => {
  const headers = { 'x-publishable-key': o.key };
  if (o.token) headers.authorization = 'Bearer ' + o.token;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  if (o.device) headers['x-device-id'] = o.device;
  let answer;
  try {
    const res = await fetch(api + path, { method: o.method || 'GET', headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
    answer = { status: res.status, body: await res.json() };
  } catch (err) {
    answer = { status: 0, blocked: String(err) };
  }
  document.getElementById('log').textContent += path + ' -> ' + JSON.stringify(answer) + '\\n';
  return answer;
};
</script>`;

interface Answer {
  status: number;
  body?: any;
  blocked?: string;
}

describe.skipIf(!hasBrowser)('client access from a page of another origin, in Chromium', () => {
  let a: TestApp;
  let t: TenantFixture;
  let browser: Browser;
  let shop: Server;
  let api: string;
  let origin: string;

  beforeAll(async () => {
    a = await testApp({ clock: systemClock }); // an app of its own: it listens, then closes
    await a.app.listen({ port: 0, host: '127.0.0.1' });
    api = `http://127.0.0.1:${(a.app.server.address() as AddressInfo).port}`;
    shop = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE));
    await new Promise<void>((resolve) => shop.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(shop.address() as AddressInfo).port}`;
    t = await a.newTenant();
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => shop?.close(resolve));
    await a?.app.close();
  });

  it('redeems a real code from the page; forged, expired, another user, a disallowed origin and a server-only route are refused with their codes', async () => {
    const { batch } = await newBatch(t, { count: 2 });
    const key = must(await t.call('POST', `/v1/apps/${t.productCode}/publishable-keys`, { name: 'shop', allowed_origins: [origin] }, { key: t.admin }), 201).body.key as string;
    // A key of the same app for another site: the shop's origin is registered (preflight passes), not on this key.
    const otherSite = must(await t.call('POST', `/v1/apps/${t.productCode}/publishable-keys`, { allowed_origins: ['https://other-site.example.test'] }, { key: t.admin }), 201).body.key as string;
    const tokenKey = must(await t.call('POST', `/v1/apps/${t.productCode}/user-token-keys`, { alg: 'HS256' }, { key: t.admin }), 201).body;
    const signer = { kid: tokenKey.kid as string, secret: tokenKey.secret as string };
    // What the tenant's backend hands its signed-in user.
    const alice = await mintUserToken(signer, 'alice', { expiresInSeconds: 900 });
    const forged = await mintUserToken({ kid: signer.kid, secret: 'not-the-secret-but-just-as-long-0123456789ab' }, 'alice');
    const expired = await mintUserToken(signer, 'alice', { issuedAt: Math.floor(Date.now() / 1000) - 7200, expiresInSeconds: 600 });

    const page: Page = await browser.newPage();
    try {
      await page.goto(`${origin}/`);
      const call = (path: string, o: { key: string; token?: string; method?: string; body?: unknown; device?: string }) =>
        page.evaluate(([base, p, opts]) => (globalThis as unknown as { callApi: (...x: unknown[]) => Promise<Answer> }).callApi(base, p, opts), [api, path, o] as const);

      // Redeem a real code for the token's user (user_id filled from sub), from the page.
      const redeemed = await call('/v1/redeem', { key, token: alice, method: 'POST', body: { code: batch.codes[0] }, device: 'web-1' });
      expect(redeemed.status, JSON.stringify(redeemed)).toBe(201);
      // The page could read the answer: the browser's CORS check passed.
      expect(redeemed.body.redemption).toMatchObject({ user_id: 'alice', product_code: t.productCode, code: batch.codes[0] });
      const balances = await call('/v1/users/alice/balances', { key, token: alice });
      expect(balances.status).toBe(200);

      const refusals = {
        forged: await call('/v1/redeem', { key, token: forged, method: 'POST', body: { code: batch.codes[1] } }),
        expired: await call('/v1/redeem', { key, token: expired, method: 'POST', body: { code: batch.codes[1] } }),
        anotherUser: await call('/v1/redeem', { key, token: alice, method: 'POST', body: { code: batch.codes[1], user_id: 'bob' } }),
        anotherUsersBalances: await call('/v1/users/bob/balances', { key, token: alice }),
        serverOnly: await call('/v1/reward-grants', { key, token: alice, method: 'POST', body: { reward_id: 'r', user_id: 'alice' } }),
        noToken: await call('/v1/users/alice/balances', { key }),
      };
      const codes = Object.fromEntries(Object.entries(refusals).map(([k, v]) => [k, `${v.status} ${v.body?.error?.code}`]));
      expect(codes).toEqual({
        forged: '401 user_token_invalid',
        expired: '401 user_token_expired',
        anotherUser: '403 user_mismatch',
        anotherUsersBalances: '403 user_mismatch',
        serverOnly: '403 client_route_not_allowed',
        noToken: '401 user_token_required',
      });

      // A key that does not allow this origin: the server refuses (403 origin_not_allowed) without
      // Access-Control-Allow-Origin, so the browser blocks the answer from the page.
      // From the page the answer is unreadable (no Access-Control-Allow-Origin): fetch fails. Chromium's
      // network log (DevTools protocol) shows the server's 403 and the CORS reason; the same request
      // with the page's Origin, sent from here, shows its code.
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Network.enable');
      const statuses = new Map<string, number>();
      cdp.on('Network.responseReceivedExtraInfo', (e) => statuses.set(e.requestId, e.statusCode));
      const failed = new Promise<{ requestId: string; corsError: string | undefined }>((resolve) => {
        cdp.on('Network.loadingFailed', (e) => resolve({ requestId: e.requestId, corsError: e.corsErrorStatus?.corsError }));
      });
      const disallowed = await call('/v1/redeem', { key: otherSite, token: alice, method: 'POST', body: { code: batch.codes[1] } });
      expect(disallowed.status).toBe(0);
      expect(disallowed.blocked).toMatch(/TypeError/);
      const failure = await failed;
      expect(failure.corsError).toBe('MissingAllowOriginHeader');
      expect(statuses.get(failure.requestId)).toBe(403);
      const direct = await fetch(`${api}/v1/redeem`, {
        method: 'POST',
        headers: { origin, 'x-publishable-key': otherSite, authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
        body: JSON.stringify({ code: batch.codes[1] }),
      });
      expect(direct.status).toBe(403);
      expect(direct.headers.get('access-control-allow-origin')).toBeNull();
      expect(((await direct.json()) as { error: { code: string } }).error.code).toBe('origin_not_allowed');

      // Nothing of the refusals was redeemed: the second code is still unused.
      const code = must(await t.call('GET', `/v1/redeem-codes/${batch.codes[1]}`), 200).body;
      expect(code.status).toBe('ACTIVE');
      expect(await page.locator('#log').textContent()).toContain('user_token_expired');
    } finally {
      await page.close();
    }
  }, 120_000);
});
