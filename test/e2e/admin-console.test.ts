/**
 * The admin console end to end in Debian's Chromium (playwright-core, never a downloaded browser),
 * against the service listening on a random port, at 1280x800: an operator made through the
 * operators service signs in through the page, creates a campaign, publishes it, adds a POINTS
 * reward, generates codes and sees them, changes nothing else and signs out. A screenshot of each
 * page goes to test/artifacts/admin/. Then the campaign list at a tablet's 768x1024 (no
 * horizontal overflow), and the budget: the first load of /admin (index.html and the JS the
 * sign-in page loads, gzipped) under 1 MB, with the pages in chunks of their own.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN_DIST, ensureAdminBuilt } from '../../src/modules/admin-console/index.js';
import { MASTER } from '../../src/platform/actor.js';
import { systemClock } from '../../src/platform/clock.js';
import { launchChromium } from '../helpers/chromium.js';
import { describeConsole } from '../helpers/console-browser.js';
import { type TenantFixture, type TestApp, testApp } from '../helpers/test-app.js';

const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts', 'admin');
const PASSWORD = 'correct-horse-battery-staple';

describeConsole('the admin console in Chromium', () => {
  let a: TestApp;
  let t: TenantFixture;
  let browser: Browser;
  let base: string;
  let email: string;

  beforeAll(async () => {
    expect(await ensureAdminBuilt()).not.toBe('no_vite');
    a = await testApp({ clock: systemClock }); // an app of its own: it listens, then closes
    await a.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(a.app.server.address() as AddressInfo).port}`;
    t = await a.newTenant();
    email = `ops-${randomBytes(4).toString('hex')}@example.com`;
    await a.app.services.operators.createOperator(MASTER, { email, password: PASSWORD, role: 'admin', tenant_id: t.tenantId, name: 'Ops' });
    browser = await launchChromium();
    await mkdir(ARTIFACTS, { recursive: true });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await a?.app.close();
  });

  const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  /** Picks an option of a Naive UI select found by its data-test attribute. */
  async function choose(page: Page, select: string, option: string) {
    await page.locator(`[data-test="${select}"]`).click();
    await page.locator('.n-base-select-option', { hasText: option }).first().click();
  }

  it('signs in, runs a campaign with a POINTS reward and codes, and signs out', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    const page = await context.newPage();
    const failures: string[] = [];
    page.on('pageerror', (err) => failures.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') failures.push(`console: ${msg.text()}`);
    });
    try {
      // Not signed in: any page leads to sign-in. A wrong password shows the API's code.
      await page.goto(`${base}/admin/campaigns`);
      await page.waitForURL(/\/admin\/signin/);
      await page.locator('input[name=email]').fill(email);
      await page.locator('input[name=tenant_id]').fill(t.tenantId);
      await page.locator('input[name=password]').fill('wrong-password-123');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.locator('[data-test=error]').textContent()).toContain('invalid_credentials');
      await shot(page, '01-sign-in');
      await page.locator('input[name=password]').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/admin\/campaigns$/);
      expect(await page.locator('[data-test=operator]').textContent()).toBe(email);

      // Create a campaign (its app is the tenant's only one, picked already).
      await page.locator('[data-test=new-campaign]').click();
      await page.waitForURL(/\/admin\/campaigns\/new$/);
      const name = `Spring codes ${randomBytes(3).toString('hex')}`;
      await page.locator('input[name=campaign_name]').fill(name);
      await choose(page, 'campaign-type', 'Redeem code');
      await shot(page, '03-campaign-new');
      await page.locator('[data-test=save]').click();
      await page.waitForURL(/\/admin\/campaigns\/cmp_[^/]+$/);
      const campaignId = page.url().split('/').pop()!;
      expect(await page.locator('[data-test=campaign-status]').textContent()).toBe('Draft');
      // Edit the draft.
      await page.locator('[data-test=edit]').click();
      await page.waitForURL(/\/edit$/);
      await expect.poll(() => page.locator('input[name=campaign_name]').inputValue()).toBe(name);
      await page.locator('textarea').fill('Codes for the spring fair');
      await page.locator('[data-test=save]').click();
      await page.waitForURL(/\/admin\/campaigns\/cmp_[^/]+$/);
      await page.getByText('Codes for the spring fair').waitFor();

      // Publish it.
      await page.locator('[data-test=action-publish]').click();
      await expect.poll(() => page.locator('[data-test=campaign-status]').textContent()).toBe('Active');
      await shot(page, '04-campaign-detail');

      // The list shows it.
      await page.goto(`${base}/admin/campaigns`);
      await page.locator('[data-test=campaign-table]').getByText(name).waitFor();
      await shot(page, '02-campaigns');

      // A POINTS reward for the campaign.
      await page.goto(`${base}/admin/campaigns/${campaignId}`);
      await page.locator('[data-test=campaign-rewards]').click();
      await page.waitForURL(/\/admin\/rewards\?campaign_id=/);
      await page.locator('[data-test=new-reward]').click();
      await page.waitForURL(/\/admin\/rewards\/new/);
      expect(await page.locator('input[name=campaign_id]').inputValue()).toBe(campaignId);
      await page.locator('input[name=reward_name]').fill('100 points');
      await page.locator('input[name=points]').fill('100');
      await page.locator('input[name=total_stock]').fill('500');
      await shot(page, '06-reward-new');
      await page.locator('[data-test=save]').click();
      await page.waitForURL(/\/admin\/rewards\?campaign_id=/);
      const rewardRow = page.locator('[data-test=reward-table] tbody tr', { hasText: '100 points' });
      await rewardRow.waitFor();
      expect(await rewardRow.textContent()).toContain('500 / 500');
      await shot(page, '05-rewards');

      // A COUPON reward: the editor asks for what its discount type needs.
      await page.locator('[data-test=new-reward]').click();
      await page.waitForURL(/\/admin\/rewards\/new/);
      await page.locator('input[name=reward_name]').fill('5 yuan off');
      await choose(page, 'reward-type', 'Coupon');
      await page.locator('input[name=amount_off]').fill('500');
      await page.locator('input[name=min_order_amount]').fill('3000');
      await page.locator('[data-test=save]').click();
      await page.waitForURL(/\/admin\/rewards\?campaign_id=/);
      await page.locator('[data-test=reward-table] tbody tr', { hasText: '5 yuan off' }).waitFor();
      const coupon = (await t.call('GET', '/v1/rewards', undefined, { key: t.admin, query: { name: '5 yuan off', campaign_id: campaignId } })).body.rewards[0];
      expect(coupon.config.generator).toEqual({ discount_type: 'AMOUNT', amount_off: 500, min_order_amount: 3000 });

      // A reward delivered by a signed webhook: a short secret is refused by the API, a generated one saves.
      await page.locator('[data-test=new-reward]').click();
      await page.waitForURL(/\/admin\/rewards\/new/);
      await page.locator('input[name=reward_name]').fill('Hooked points');
      await page.locator('input[name=points]').fill('5');
      await choose(page, 'delivery-type', 'Signed webhook');
      await page.locator('input[name=webhook_url]').fill('https://shop.example/hooks/grants');
      await page.locator('input[name=webhook_secret]').fill('too-short');
      await page.locator('[data-test=save]').click();
      await expect.poll(() => page.locator('[data-test=error]').textContent()).toContain('config.distributor.secret');
      await page.locator('[data-test=new-secret]').click();
      const hookSecret = await page.locator('input[name=webhook_secret]').inputValue();
      expect(hookSecret).toMatch(/^[0-9a-f]{64}$/);
      await page.locator('[data-test=save]').click();
      await page.waitForURL(/\/admin\/rewards\?campaign_id=/);
      await page.locator('[data-test=reward-table] tbody tr', { hasText: 'Hooked points' }).waitFor();
      const hooked = (await t.call('GET', '/v1/rewards', undefined, { key: t.admin, query: { name: 'Hooked points', campaign_id: campaignId } })).body.rewards[0];
      expect(hooked.config.distributor).toMatchObject({ type: 'WEBHOOK', url: 'https://shop.example/hooks/grants' });
      expect(JSON.stringify(hooked)).not.toContain(hookSecret);

      // Generate 100 codes for it and see them.
      await page.goto(`${base}/admin/campaigns/${campaignId}`);
      await page.locator('[data-test=campaign-codes]').click();
      await page.waitForURL(/\/admin\/codes\?campaign_id=/);
      await expect.poll(() => page.locator('[data-test=gen-reward]').textContent(), { timeout: 10_000 }).toContain('(');
      await choose(page, 'gen-reward', '100 points');
      expect(await page.locator('[data-test=gen-reward]').textContent()).toContain('100 points');
      await page.locator('[data-test=generate]').click();
      await expect.poll(() => page.locator('[data-test=batch-status]').textContent(), { timeout: 30_000 }).toBe('DONE');
      const batchId = (await page.locator('[data-test=batch-id]').textContent())!;
      const rows = page.locator('[data-test=code-table] tbody tr');
      await expect.poll(() => rows.count()).toBe(20); // one page of the batch's 100
      expect(await page.locator('[data-test=code-table]').textContent()).toMatch(/[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/);
      expect(await page.locator('[data-test=export]').getAttribute('href')).toBe(`/v1/redeem-codes/export?batch_id=${encodeURIComponent(batchId)}`);
      // The export link works with the session cookie alone: the CSV of the batch, a header and 100 rows.
      const csv = await page.request.get(`${base}/v1/redeem-codes/export?batch_id=${encodeURIComponent(batchId)}`);
      expect(csv.status()).toBe(200);
      expect((await csv.text()).trim().split('\n')).toHaveLength(101);
      await shot(page, '07-codes');
      // The same codes over the API.
      const listed = await t.call('GET', '/v1/redeem-codes', undefined, { key: t.admin, query: { batch_id: batchId } });
      expect(listed.body.pagination.total).toBe(100);
      // Look one up and void it.
      const one = listed.body.redeem_codes[0].code as string;
      await page.locator('input[name=lookup_code]').fill(one);
      await page.getByRole('button', { name: 'Find code' }).click();
      await page.locator('[data-test=void-code]').click();
      await expect.poll(() => page.locator('[data-test=found-code]').textContent()).toContain('Voided');
      expect((await t.call('GET', `/v1/redeem-codes/${one}`, undefined, { key: t.admin })).body.status).toBe('VOIDED');

      // A batch too large to make at once (202): the page shows its progress until the job is done.
      await page.locator('input[name=count]').fill('10500');
      await page.locator('[data-test=generate]').click();
      await expect.poll(() => page.locator('[data-test=batch-status]').textContent()).toMatch(/PENDING|RUNNING/);
      const bigBatch = (await page.locator('[data-test=batch-id]').textContent())!;
      expect(bigBatch).not.toBe(batchId);
      await a.app.services.redeemBatches.runBatch(t.tenantId, bigBatch); // what the job runner does
      await expect.poll(() => page.locator('[data-test=batch-status]').textContent(), { timeout: 30_000 }).toBe('DONE');
      expect(await page.locator('[data-test=batch]').textContent()).toContain('10500 / 10500');

      // The dashboard counts them.
      await page.goto(`${base}/admin/dashboard`);
      await page.locator('[data-loaded=true]').waitFor();
      await page.locator('canvas').first().waitFor();
      expect((await page.locator('[data-test=codes-total]').textContent())?.replace(/\D/g, '')).toBe('10600');
      await shot(page, '08-dashboard');
      // Apps and API keys: a new key's secret is shown once and works against the API.
      await page.goto(`${base}/admin/access`);
      await page.locator('input[name=key_name]').fill('shop backend');
      await page.locator('[data-test=create-key]').click();
      const secret = page.locator('input[name=new_key]');
      await secret.waitFor();
      const key = await secret.inputValue();
      expect(key.length).toBeGreaterThan(20);
      expect((await t.call('GET', '/v1/campaigns', undefined, { key })).status).toBe(200);
      await shot(page, '09-access');
      await page.getByRole('button', { name: 'I have copied it' }).click();
      await page.locator('[data-test=key-table]').getByText('shop backend').waitFor();
      await page.goto(`${base}/admin/password`);
      await page.locator('input[name=current]').waitFor();
      await shot(page, '10-password');

      // A tablet held upright: the campaign list fits the width.
      await page.setViewportSize({ width: 768, height: 1024 });
      await page.goto(`${base}/admin/campaigns`);
      await page.locator('[data-test=campaign-table]').getByText(name).waitFor();
      expect(await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')).toBeLessThanOrEqual(0);
      await shot(page, '11-campaigns-tablet');
      await page.setViewportSize({ width: 1280, height: 800 });

      // Sign out: the session is gone, the pages lead to sign-in again.
      await page.locator('[data-test=sign-out]').click();
      await page.waitForURL(/\/admin\/signin/);
      await page.goto(`${base}/admin/campaigns`);
      await page.waitForURL(/\/admin\/signin/);
      expect(failures.filter((f) => !/status of (401|400)/.test(f))).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000); // one long walk through every page: room for a loaded CI machine

  it('speaks Chinese on a zh-CN browser, the API errors too', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
    const page = await context.newPage();
    try {
      await page.goto(`${base}/admin/`);
      await page.waitForURL(/\/admin\/signin/);
      await page.locator('input[name=email]').fill(email);
      await page.locator('input[name=tenant_id]').fill(t.tenantId);
      await page.locator('input[name=password]').fill(PASSWORD);
      await page.getByRole('button', { name: '登录' }).click();
      await page.waitForURL(/\/admin\/dashboard$/);
      await page.getByText('今日兑换').waitFor();
      await page.goto(`${base}/admin/campaigns/cmp_missing_one`);
      const error = page.locator('[data-test=error]');
      await expect.poll(() => error.textContent()).toContain('campaign_not_found');
      expect(await error.textContent()).toMatch(/[\u4e00-\u9fff]/);
    } finally {
      await context.close();
    }
  });

  it('offers a platform operator no tenant page (their API calls need a tenant); it changes its password', async () => {
    const platformEmail = `root-${randomBytes(4).toString('hex')}@example.com`;
    await a.app.services.operators.createOperator(MASTER, { email: platformEmail, password: PASSWORD, role: 'admin', tenant_id: null });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    const page = await context.newPage();
    try {
      await page.goto(`${base}/admin/`);
      await page.locator('input[name=email]').fill(platformEmail);
      await page.locator('input[name=password]').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('[data-test=platform]').waitFor();
      expect(await page.getByRole('link', { name: 'Campaigns' }).count()).toBe(0);
      await page.goto(`${base}/admin/campaigns`);
      await page.waitForURL(/\/admin\/dashboard$/);
      // It changes its password: the new one signs in, the old one no longer does.
      await page.goto(`${base}/admin/password`);
      await page.locator('input[name=current]').fill(PASSWORD);
      await page.locator('input[name=new]').fill('another-long-passphrase');
      await page.locator('input[name=repeat]').fill('another-long-passphrase');
      await page.getByRole('button', { name: 'Change password' }).click();
      await page.getByText('Password changed').waitFor();
      const signIn = (password: string) => a.call('POST', '/v1/console/session', { email: platformEmail, password }, { key: null });
      expect((await signIn(PASSWORD)).status).toBe(401);
      expect((await signIn('another-long-passphrase')).status).toBe(200);
    } finally {
      await context.close();
    }
  });

  it('loads the sign-in page with under 1 MB of gzipped JavaScript; each page is a chunk of its own', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const scripts = new Set<string>();
    page.on('response', (response) => {
      if (response.request().resourceType() === 'script') scripts.add(new URL(response.url()).pathname);
    });
    try {
      await page.goto(`${base}/admin/`, { waitUntil: 'networkidle' });
      await page.waitForURL(/\/admin\/signin/);
      let gzipped = 0;
      for (const path of scripts) {
        const res = await a.app.inject({ method: 'GET', url: path, headers: { 'accept-encoding': 'gzip' } });
        expect(res.statusCode).toBe(200);
        gzipped += res.rawPayload.length;
      }
      const html = await a.app.inject({ method: 'GET', url: '/admin/', headers: { 'accept-encoding': 'gzip' } });
      const total = gzipped + html.rawPayload.length;
      console.log(`admin console first load: ${scripts.size} scripts, ${(total / 1024).toFixed(1)} KiB gzipped`);
      expect(total).toBeLessThan(1024 * 1024);
      // The sign-in page does not load the other pages (nor ECharts, which only the dashboard uses).
      expect([...scripts].some((s) => /\/SignIn-[^/]+\.js$/.test(s))).toBe(true);
      expect([...scripts].filter((s) => /\/(Dashboard|Campaigns|Codes|RewardCreate)-/.test(s))).toEqual([]);
      const files = await readdir(join(ADMIN_DIST, 'assets'));
      for (const chunk of ['SignIn', 'Dashboard', 'Campaigns', 'CampaignEdit', 'CampaignDetail', 'Rewards', 'RewardCreate', 'Codes', 'Password']) {
        expect(files.some((f) => f.startsWith(`${chunk}-`) && f.endsWith('.js')), chunk).toBe(true);
      }
    } finally {
      await context.close();
    }
  });
});
