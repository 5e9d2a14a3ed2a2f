/**
 * The SDK's browser bundle in Debian's Chromium (playwright-core, never a downloaded browser): the
 * bundle is built with the package's vite config, served with a page from a local HTTP server on
 * another port (another origin than the service, so CORS and the publishable key's allowed
 * origins are real), and the page redeems a code through MarketingSDK with a publishable key and
 * a user token signed by "the tenant's backend" (this test). Skipped without /usr/bin/chromium
 * unless MH_REQUIRE_BROWSER=1.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { build } from 'vite';
import { hasBrowser, launchChromium, requireBrowser } from '../helpers/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unwrap } from '../../packages/sdk/src/index.js';
import { clientAccess, codeBatch, newUserId, type SdkServer, sdkTenant, type SdkTenant, startSdkServer } from './sdk-fixtures.js';

const SDK_DIR = fileURLToPath(new URL('../../packages/sdk/', import.meta.url));

requireBrowser('the SDK browser test is');

const PAGE = `<!doctype html><meta charset="utf-8"><title>SDK test</title>
<script type="module">
  import * as MarketingHub from './marketing-sdk.js';
  window.MarketingHubEsm = MarketingHub;
  document.title = 'ready';
</script>`;
const IIFE_PAGE = `<!doctype html><meta charset="utf-8"><title>SDK iife</title><script src="./marketing-sdk.iife.js"></script>`;

/** Serves the page and the built bundle from `dir` on a port of its own. */
async function servePage(dir: string): Promise<{ origin: string; server: Server }> {
  const files: Record<string, [string, string]> = { '/': ['text/html', PAGE], '/iife.html': ['text/html', IIFE_PAGE] };
  for (const name of await readdir(dir)) files[`/${name}`] = ['text/javascript', await readFile(join(dir, name), 'utf8')];
  const server = createServer((req, res) => {
    const file = files[req.url ?? '/'];
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file[0] }).end(file[1]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe.skipIf(!hasBrowser)('the SDK browser bundle in Chromium', () => {
  let base: SdkServer;
  let t: SdkTenant;
  let out: string;
  let page: { origin: string; server: Server };
  let browser: Browser;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'mh-sdk-browser-'));
    await build({ configFile: join(SDK_DIR, 'vite.config.ts'), mode: 'browser', logLevel: 'warn', build: { outDir: out, emptyOutDir: true } });
    [base, page] = await Promise.all([startSdkServer('sdk_browser'), servePage(out)]);
    t = await sdkTenant(base);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    page?.server.close();
    await base?.stop();
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('the bundle has no node: import and no Node globals', async () => {
    for (const name of ['marketing-sdk.js', 'marketing-sdk.iife.js']) {
      const code = await readFile(join(out, name), 'utf8');
      expect(code).not.toMatch(/from\s*["']node:|require\(\s*["']node:|\bBuffer\.|process\.env/);
    }
  });

  it('redeems a code in the page with a publishable key and a user token; the device id survives a reload', async () => {
    const { codes } = await codeBatch(t, { count: 2, points: 9 });
    const access = await clientAccess(base, t, [page.origin]);
    const user = newUserId();
    const token = await access.userToken(user);
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(`${page.origin}/`);
    await tab.waitForFunction(() => (globalThis as any).document.title === 'ready');

    const run = (code: string) =>
      tab.evaluate(
        async ({ code, token, productCode, publishableKey, baseUrl }) => {
          const { MarketingSDK, isMarketingError } = (globalThis as any).MarketingHubEsm;
          const sdk = new MarketingSDK({ productCode, env: 'web', publishableKey, getUserToken: () => token, baseUrl });
          try {
            const result = await sdk.redeemCode(code);
            return { ok: true, deviceId: sdk.deviceId, result };
          } catch (err: any) {
            return { ok: false, deviceId: sdk.deviceId, status: err.status, code: err.code, message: err.message, details: err.details, typed: isMarketingError(err, 'code_already_redeemed') };
          }
        },
        { code, token, productCode: t.productCode, publishableKey: access.publishableKey, baseUrl: base.url },
      );

    const first = await run(codes[0]!);
    expect(first.ok, JSON.stringify(first)).toBe(true);
    expect(first.result).toMatchObject({ message: '核销成功', redemption: { user_id: user, code: codes[0], product_code: t.productCode } });
    expect(first.deviceId).toMatch(/^[0-9a-f-]{36}$/);

    const again = await run(codes[0]!);
    expect(again).toMatchObject({ ok: false, status: 409, code: 'code_already_redeemed', typed: true });
    expect(again.deviceId).toBe(first.deviceId);

    await tab.reload();
    await tab.waitForFunction(() => (globalThis as any).document.title === 'ready');
    const afterReload = await run(codes[1]!);
    expect(afterReload).toMatchObject({ ok: true, deviceId: first.deviceId });
    expect(await tab.evaluate(() => (globalThis as any).localStorage.getItem('marketing_hub.device_id'))).toBe(first.deviceId);

    const listed = await unwrap(t.service.GET('/v1/redemptions', { params: { query: { user_id: user } } }));
    expect(listed.redemptions).toHaveLength(2);
    expect(listed.redemptions.every((r) => r.device_id === first.deviceId)).toBe(true);
    await context.close();
  });

  it('an origin the key does not allow is refused; the IIFE build exposes the MarketingHub global', async () => {
    await clientAccess(base, t, [page.origin]); // the page's origin is registered (preflight answered) ...
    const access = await clientAccess(base, t, ['https://shop.example']); // ... but not on this key
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(`${page.origin}/iife.html`);
    const outcome = await tab.evaluate(
      async ({ token, productCode, publishableKey, baseUrl }) => {
        const { MarketingSDK } = (globalThis as any).MarketingHub;
        const sdk = new MarketingSDK({ productCode, env: 'web', publishableKey, getUserToken: () => token, baseUrl, retry: { retries: 0 } });
        try {
          await sdk.balances();
          return { ok: true };
        } catch (err: any) {
          return { ok: false, name: err.name, status: err.status, code: err.code };
        }
      },
      { token: await access.userToken(newUserId()), productCode: t.productCode, publishableKey: access.publishableKey, baseUrl: base.url },
    );
    // The service's 403 origin_not_allowed carries no CORS headers for this origin, so the browser
    // hides it from the page: the SDK sees no answer (status 0, network_error).
    expect(outcome).toEqual({ ok: false, name: 'MarketingError', status: 0, code: 'network_error' });
    await context.close();
  });
});
