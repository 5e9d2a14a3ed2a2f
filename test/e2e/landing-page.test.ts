/**
 * The landing page end to end in Debian's Chromium (playwright-core, never a downloaded browser),
 * against the service listening on a random port: the form rendered from the campaign's schema,
 * the browser's own checks, sign-up, the sandbox payment, the success code, the share link; then
 * the referrer's balance and the funnel over the API. And the load time on a throttled mobile
 * profile (150 ms latency, 1.6 Mbit/s down, 750 kbit/s up, CPU / 4): the issue asks under 3 s.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, BrowserContextOptions } from 'playwright-core';
import jsQRModule from 'jsqr';
import { hasBrowser, launchChromium, requireBrowser } from '../helpers/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLandingBuilt } from '../../src/modules/landing-page/index.js';
import { newPhone, referralCampaign } from '../../src/modules/referrals/testing/referral-fixtures.js';
import { systemClock } from '../../src/platform/clock.js';
import { startWechatPeer, type WechatPeer } from '../../src/modules/wechat-auth/testing/wechat-peer.js';
import type { Api } from '../../src/platform/http/types.js';
import { mirrorApp } from '../helpers/mirror-app.js';
import { must, type TestApp, type TenantFixture, testApp } from '../helpers/test-app.js';

// jsqr's CommonJS default export, seen through its ESM types.
const jsQR = jsQRModule as unknown as typeof jsQRModule.default;
const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts');
const MOBILE: BrowserContextOptions = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  locale: 'zh-CN',
  userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
};

requireBrowser('the landing page browser tests are');

describe.skipIf(!hasBrowser)('the landing page in Chromium', () => {
  let a: TestApp;
  let t: TenantFixture;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    expect(await ensureLandingBuilt()).not.toBe('no_vite');
    a = await testApp({ clock: systemClock }); // an app of its own: it listens, then closes
    await a.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(a.app.server.address() as AddressInfo).port}`;
    t = await a.newTenant();
    browser = await launchChromium();
    await mkdir(ARTIFACTS, { recursive: true });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await a?.app.close();
  });

  it('signs up through the form, pays with the sandbox, shows the code; the referrer is credited and the view counted under c_id', async () => {
    const { campaignId } = await referralCampaign(t, { image_url: null });
    const keyless = { key: null };
    // A referrer who signed up and paid before (through the API).
    const referrerPhone = newPhone();
    const first = must(await a.call('POST', '/api/v1/orders', { campaign_id: campaignId, phone: referrerPhone, form_data: { name: '王五', phone: referrerPhone } }, keyless), 201).body;
    must(await a.call('POST', `/api/v1/orders/${first.order_id}/pay`, { scene: 'h5' }, keyless), 200);
    must(await a.call('POST', `/api/v1/orders/${first.order_id}/sandbox-pay`, undefined, keyless), 200);
    // The referrer's share link carries their order id; the server resolves it to their phone.
    const referrer = first.order_id as string;

    const context = await browser.newContext(MOBILE);
    const page = await context.newPage();
    const orderPosts: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/v1/orders') orderPosts.push(request.postData() ?? '');
    });
    try {
      await page.goto(`${base}/p/${campaignId}?c_id=wx&u_id=${referrer}`);
      expect(await page.locator('h1').textContent()).toBe('暑期编程课');
      // The browser's own checks: nothing is sent while the form is wrong.
      await page.getByRole('button', { name: '提交报名' }).click();
      expect(await page.locator('[data-error-for="name"]').textContent()).toBe('请填写此项');
      expect(await page.locator('[data-error-for="phone"]').textContent()).toBe('请填写此项');
      await page.locator('input[name="phone"]').fill('12345');
      await page.locator('input[name="age"]').fill('2');
      await page.getByRole('button', { name: '提交报名' }).click();
      expect(await page.locator('[data-error-for="phone"]').textContent()).toContain('手机号');
      expect(await page.locator('[data-error-for="age"]').textContent()).toBe('不能小于 3');
      expect(orderPosts).toEqual([]);

      const phone = newPhone();
      await page.locator('input[name="name"]').fill('李四');
      await page.locator('input[name="phone"]').fill(`+86 ${phone.slice(0, 3)}-${phone.slice(3, 7)}-${phone.slice(7)}`);
      await page.locator('input[name="age"]').fill('12');
      await page.locator('select[name="grade"]').selectOption('初中');
      await page.locator('input[name="date"]').fill('2026-07-01');
      await page.screenshot({ path: join(ARTIFACTS, 'landing-form.png'), fullPage: true });
      await page.getByRole('button', { name: '提交报名' }).click();
      await page.locator('[data-order-status]').waitFor();
      expect(orderPosts).toHaveLength(1);
      expect(JSON.parse(orderPosts[0]!)).toEqual({ campaign_id: campaignId, phone, form_data: { name: '李四', phone, age: 12, grade: '初中', date: '2026-07-01' }, c_id: 'wx', u_id: referrer });
      expect(await page.locator('[data-order-status]').textContent()).toBe('待支付');

      await page.getByRole('button', { name: /立即支付/ }).click();
      await page.locator('[data-sandbox]').waitFor();
      await page.getByRole('button', { name: /确认沙箱支付/ }).click();
      const code = page.locator('[data-success-code]');
      await code.waitFor();
      const orderId = await page.evaluate<string | null>(`localStorage.getItem(${JSON.stringify(`mh:order:${campaignId}`)})`);
      const order = must(await a.call('GET', `/api/v1/orders/${orderId}`, undefined, keyless), 200).body;
      expect(order).toMatchObject({ status: 'paid', success_code: expect.any(String) });
      expect(await code.textContent()).toBe(order.success_code);
      // The share link carries the order id as u_id, never the phone.
      const share = page.locator('[data-share-link]');
      expect(await share.inputValue()).toBe(`${base}/p/${campaignId}?u_id=${orderId}`);
      // The poster: shown when the service draws it without a key for this campaign, else the link only.
      await page.locator('[data-poster-state="shown"], [data-poster-state="none"]').waitFor();
      const probe = await a.app.inject({ method: 'POST', url: '/api/v1/qrcode/generate', payload: { campaign_id: campaignId, user_id: orderId!, channel_id: 'wx' } });
      expect([200, 401, 404], probe.body.slice(0, 300)).toContain(probe.statusCode);
      if (probe.statusCode === 200) {
        expect(await page.locator('[data-state="share"]').getAttribute('data-poster-state')).toBe('shown');
        expect(await page.locator('[data-poster]').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
      } else {
        expect(await page.locator('[data-state="share"]').getAttribute('data-poster-state')).toBe('none');
      }
      await page.screenshot({ path: join(ARTIFACTS, 'landing-paid.png'), fullPage: true });
      expect(JSON.parse((await page.evaluate<string | null>(`localStorage.getItem(${JSON.stringify(`mh:ref:${campaignId}`)})`))!)).toEqual({ c_id: 'wx', u_id: referrer });

      // A returning visitor sees their order.
      await page.reload();
      expect(await page.locator('[data-success-code]').textContent()).toBe(order.success_code);

      // The same phone on another device: 409 already_registered shows the first order, paid.
      const other = await browser.newContext(MOBILE);
      try {
        const again = await other.newPage();
        await again.goto(`${base}/p/${campaignId}`);
        await again.locator('input[name="name"]').fill('李四');
        await again.locator('input[name="phone"]').fill(phone);
        await again.getByRole('button', { name: '提交报名' }).click();
        await again.locator('[data-success-code]').waitFor();
        expect(await again.locator('.notice').first().textContent()).toBe('该手机号已报名，以下是您的订单');
        expect(await again.locator('[data-success-code]').textContent()).toBe(order.success_code);
      } finally {
        await other.close();
      }

      // Over the API: the referrer's balance moved by the fixed reward; the funnel counted the views under wx.
      expect(must(await t.call('GET', `/api/v1/rewards/balance/${referrerPhone}`), 200).body).toMatchObject({ balance: 1000, total_reward: 1000 });
      const funnel = must(await t.call('GET', `/v1/campaigns/${campaignId}/funnel`), 200).body;
      expect(funnel.by_channel.find((c: { c_id: string | null }) => c.c_id === 'wx')).toEqual({ c_id: 'wx', views: 2, orders: 1, paid: 1 });
      expect(funnel).toMatchObject({ views: 3, orders: 2, paid: 2 }); // + the other device's view, without c_id
    } finally {
      await context.close();
    }
  });

  it("inside WeChat: pays with the jsapi scene and the payer's openid the sign-in sent back (?openid=), kept for later visits", async () => {
    const { campaignId } = await referralCampaign(t, { image_url: null });
    const context = await browser.newContext({ ...MOBILE, userAgent: `${MOBILE.userAgent} MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN` });
    const page = await context.newPage();
    const pays: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && /\/api\/v1\/orders\/[^/]+\/pay$/.test(new URL(request.url()).pathname)) pays.push(request.postData() ?? '');
    });
    try {
      await page.goto(`${base}/p/${campaignId}?openid=oWx_e2e_openid_1`);
      await page.goto(`${base}/p/${campaignId}`); // the openid is kept
      const phone = newPhone();
      await page.locator('input[name="name"]').fill('赵六');
      await page.locator('input[name="phone"]').fill(phone);
      await page.getByRole('button', { name: '提交报名' }).click();
      await page.getByRole('button', { name: /立即支付/ }).click();
      await page.getByRole('button', { name: /确认沙箱支付/ }).click();
      await page.locator('[data-success-code]').waitFor();
      expect(pays.map((body) => JSON.parse(body))).toEqual([{ scene: 'jsapi', payer_openid: 'oWx_e2e_openid_1' }]);
    } finally {
      await context.close();
    }
  });

  it("inside WeChat without an openid: WeChat's web authorisation (snsapi_base) first, back with a code, then jsapi with that openid", async () => {
    // An app whose WeChat (server API and authorize page) is the local peer, over the same database.
    const peer: WechatPeer = await startWechatPeer();
    let oa: Api | undefined;
    try {
      oa = (await mirrorApp({ overrides: { 'wechat.api_base_url': peer.url, 'wechat.oauth_base_url': peer.url } })).api;
      await oa.listen({ port: 0, host: '127.0.0.1' });
      const oaBase = `http://127.0.0.1:${(oa.server.address() as AddressInfo).port}`;
      const appId = `wx${randomBytes(8).toString('hex')}`;
      const secret = `secret-${randomBytes(6).toString('hex')}`;
      peer.addApp(appId, secret);
      peer.webUser.set(appId, 'oWx_web_e2e_1');
      must(await t.call('PUT', `/v1/wechat/apps/${appId}`, { secret }, { key: t.admin }), 200);
      const { campaignId } = await referralCampaign(t, { image_url: null, wechat_app_id: appId });

      const context = await browser.newContext({ ...MOBILE, userAgent: `${MOBILE.userAgent} MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN` });
      const page = await context.newPage();
      const pays: string[] = [];
      const signIns: string[] = [];
      const authorizes: string[] = [];
      page.on('request', (request) => {
        const url = new URL(request.url());
        if (request.method() === 'POST' && /\/api\/v1\/orders\/[^/]+\/pay$/.test(url.pathname)) pays.push(request.postData() ?? '');
        if (request.method() === 'POST' && url.pathname === '/api/v1/auth/wechat') signIns.push(request.postData() ?? '');
        if (url.pathname === '/connect/oauth2/authorize') authorizes.push(request.url());
      });
      try {
        await page.goto(`${oaBase}/p/${campaignId}?c_id=oa`);
        const phone = newPhone();
        await page.locator('input[name="name"]').fill('钱七');
        await page.locator('input[name="phone"]').fill(phone);
        await page.getByRole('button', { name: '提交报名' }).click();
        await page.getByRole('button', { name: /立即支付/ }).click();
        // To the (local) authorize page and back: the page signs in and goes on to pay by itself.
        await page.locator('[data-sandbox]').waitFor();
        expect(authorizes).toHaveLength(1);
        const asked = new URL(authorizes[0]!);
        expect(asked.origin).toBe(peer.url);
        expect(Object.fromEntries(asked.searchParams)).toEqual({ appid: appId, redirect_uri: `${oaBase}/p/${campaignId}?c_id=oa`, response_type: 'code', scope: 'snsapi_base', state: expect.stringMatching(/^[0-9a-f]{32}$/) });
        expect(signIns.map((body) => JSON.parse(body))).toEqual([{ code: expect.stringMatching(/^w_/), campaign_id: campaignId, kind: 'web' }]);
        expect(pays.map((body) => JSON.parse(body))).toEqual([{ scene: 'jsapi', payer_openid: 'oWx_web_e2e_1' }]);
        // The code and state left the address bar; the openid is kept for this official account.
        expect(page.url()).toBe(`${oaBase}/p/${campaignId}?c_id=oa`);
        expect(await page.evaluate<string | null>(`localStorage.getItem(${JSON.stringify(`mh:openid:${appId}`)})`)).toBe('oWx_web_e2e_1');
        await page.getByRole('button', { name: /确认沙箱支付/ }).click();
        await page.locator('[data-success-code]').waitFor();
        // A code that comes back with a state this tab did not send is ignored (no sign-in call).
        await page.goto(`${oaBase}/p/${campaignId}?code=${peer.issueWebCode(appId, 'oWx_forged')}&state=forged`);
        await page.locator('[data-success-code]').waitFor();
        expect(signIns).toHaveLength(1);
        expect(page.url()).toBe(`${oaBase}/p/${campaignId}`);
        expect(peer.authorizeCalls).toBe(1);
      } finally {
        await context.close();
      }
    } finally {
      await oa?.services.close();
      await oa?.close();
      await peer.close();
    }
  });

  it('on a desktop browser: the Native code_url is drawn as a QR code that reads back as the code_url', async () => {
    const { campaignId } = await referralCampaign(t, { image_url: null });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
    const page = await context.newPage();
    const qrScripts: string[] = [];
    page.on('request', (request) => {
      if (/\/p\/assets\/browser-[^/]+\.js$/.test(new URL(request.url()).pathname)) qrScripts.push(request.url());
    });
    try {
      await page.goto(`${base}/p/${campaignId}`);
      await page.locator('input[name="name"]').fill('孙八');
      await page.locator('input[name="phone"]').fill(newPhone());
      await page.getByRole('button', { name: '提交报名' }).click();
      await page.locator('[data-order-status]').waitFor();
      expect(qrScripts).toEqual([]); // the QR library is not part of the first load
      await page.getByRole('button', { name: /立即支付/ }).click();
      const qr = page.locator('[data-pay-qr]');
      await qr.waitFor();
      const codeUrl = await qr.getAttribute('data-code-url');
      expect(codeUrl).toMatch(/^weixin:\/\/wxpay\/bizpayurl\?pr=/);
      const pixels = await qr.evaluate((img) => {
        const image = img as unknown as { naturalWidth: number; naturalHeight: number; ownerDocument: { createElement(tag: 'canvas'): { width: number; height: number; getContext(kind: '2d'): { drawImage(i: unknown, x: number, y: number): void; getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } } } };
        const canvas = image.ownerDocument.createElement('canvas');
        canvas.width = image.naturalWidth;
        canvas.height = image.naturalHeight;
        const context2d = canvas.getContext('2d');
        context2d.drawImage(image, 0, 0);
        return { width: canvas.width, height: canvas.height, data: Array.from(context2d.getImageData(0, 0, canvas.width, canvas.height).data) };
      });
      expect(jsQR(Uint8ClampedArray.from(pixels.data), pixels.width, pixels.height)?.data).toBe(codeUrl);
      expect(qrScripts).toHaveLength(1);
    } finally {
      await context.close();
    }
  });

  it('renders the form in under 3 s on a throttled mobile profile (the median of three cold loads)', async () => {
    const { campaignId } = await referralCampaign(t, { image_url: null });
    const runs: { shown: number; driver: number; bytes: { html: number; js: number; css: number }; timings: string }[] = [];
    for (let run = 0; run < 3; run++) {
      const context = await browser.newContext(MOBILE); // a cold cache and storage each time
      const page = await context.newPage();
      try {
        const cdp = await context.newCDPSession(page);
        await cdp.send('Network.enable');
        await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
        await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 150, downloadThroughput: (1.6 * 1024 * 1024) / 8, uploadThroughput: (750 * 1024) / 8 });
        await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
        const urls = new Map<string, string>();
        const bytes = { html: 0, js: 0, css: 0 };
        cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
        cdp.on('Network.loadingFinished', (e) => {
          const path = new URL(urls.get(e.requestId) ?? 'http://x/').pathname;
          const kind = path.endsWith('.js') ? 'js' : path.endsWith('.css') ? 'css' : path.startsWith('/p/') ? 'html' : null;
          if (kind) bytes[kind] += e.encodedDataLength;
        });
        // In the page, from its navigation start: the first frame after the form's first field is
        // in the document (what the visitor sees), free of the test driver's polling.
        await page.addInitScript(`new MutationObserver((_, observer) => {
          if (!document.querySelector('input[name="name"]')) return;
          observer.disconnect();
          requestAnimationFrame(() => { window.__formShownAt = performance.now(); });
        }).observe(document, { childList: true, subtree: true });`);
        const started = Date.now();
        await page.goto(`${base}/p/${campaignId}?c_id=load`, { waitUntil: 'commit' });
        await page.locator('input[name="name"]').waitFor({ state: 'visible' });
        const driver = Date.now() - started;
        const shown = Math.round(await page.evaluate<number>('new Promise((resolve) => { const wait = () => (window.__formShownAt ? resolve(window.__formShownAt) : setTimeout(wait, 10)); wait(); })'));
        const timings = await page.evaluate<string>(
          `JSON.stringify({ nav: performance.getEntriesByType('navigation').map((e) => [Math.round(e.responseEnd), Math.round(e.domInteractive)]), res: performance.getEntriesByType('resource').map((e) => [e.name.split('/').pop(), Math.round(e.startTime), Math.round(e.responseEnd)]) })`,
        );
        await page.waitForLoadState('load');
        if (run === 0) await page.screenshot({ path: join(ARTIFACTS, 'landing-throttled.png') });
        runs.push({ shown, driver, bytes, timings });
      } finally {
        await context.close();
      }
    }
    const median = [...runs].sort((x, y) => x.shown - y.shown)[1]!;
    for (const r of runs) console.log(`landing page, throttled mobile profile: form shown ${r.shown} ms after navigation start (driver saw it at ${r.driver} ms); html ${r.bytes.html} B, js ${r.bytes.js} B, css ${r.bytes.css} B transferred; ${r.timings}`);
    console.log(`landing page, throttled mobile profile: median ${median.shown} ms`);
    expect(median.bytes.js).toBeGreaterThan(0);
    expect(median.shown).toBeLessThan(3000);
  });
});
