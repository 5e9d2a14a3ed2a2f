/**
 * A whole campaign run from the console alone, as a new user would on a fresh install, in Chromium:
 * the platform operator (made on the command line; here by the same operators service the command
 * calls) signs in through the page, creates a tenant and its first admin; that admin signs in,
 * adds an app, creates and publishes a campaign, adds a reward and codes, imports customers,
 * builds an audience, adds an e-mail provider (a local SMTP server), writes a template, sends an
 * outreach campaign to the audience, watches the run complete and sees the results: the records,
 * the stats and the dashboard. Nothing but the browser changes anything; the test only reads
 * the API to check what the pages did, runs the send loop a worker process would run (limited to
 * the new tenant), and redeems one code as a shop's backend would.
 */
import { randomBytes } from 'node:crypto';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type SmtpPeer, startSmtpPeer } from '../../src/modules/outreach/channels/testing/smtp-peer.js';
import { outreachOf } from '../../src/modules/outreach/testing/outreach-fixture.js';
import { CONSOLE_PASSWORD, type ConsoleHarness, describeConsole, startConsole } from '../helpers/console-browser.js';

const tolerated = (failures: string[]) => failures.filter((f) => !/status of (401|403|404|409|422|400)/.test(f));

async function text(loc: Locator, want: string | RegExp, timeout = 10_000) {
  const read = async () => ((await loc.count()) ? ((await loc.first().textContent()) ?? '').trim() : '');
  await expect.poll(read, { timeout }).toMatch(want instanceof RegExp ? want : new RegExp(want.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
}

/** Clicks the positive button of the open Naive UI popconfirm. */
const confirm = (page: Page) => page.locator('.n-popconfirm__action button').last().click();

describeConsole('a whole campaign from the console alone, in Chromium', () => {
  let h: ConsoleHarness;
  let peer: SmtpPeer;
  const stop = { stopped: false, done: Promise.resolve() };
  const tenantId = `shop${randomBytes(3).toString('hex')}`;
  const adminEmail = `marketer-${randomBytes(3).toString('hex')}@shop.example`;
  const adminPassword = 'spring-sale-passphrase';

  beforeAll(async () => {
    h = await startConsole('walkthrough');
    peer = await startSmtpPeer();
    // What a worker process does: send due outreach messages, here only the new tenant's.
    const dispatcher = outreachOf(h.a).dispatcher;
    stop.done = (async () => {
      while (!stop.stopped) {
        await dispatcher.tick({ tenantId }).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
  }, 300_000);

  afterAll(async () => {
    stop.stopped = true;
    await stop.done;
    await peer?.close();
    await h?.close();
  });

  it('signs in, sets up a tenant, runs a campaign with a reward, codes, an audience and a message, and watches the results', async () => {
    const { email: platformEmail } = await h.operator('platform');
    const context = await h.browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    const page = await context.newPage();
    const failures: string[] = [];
    page.on('pageerror', (err) => failures.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') failures.push(`console: ${msg.text()}`);
    });
    let tenantKey = '';
    const api = (path: string) => h.a.call('GET', path, undefined, { key: tenantKey });
    try {
      // 1. The platform operator signs in and creates the tenant and its first admin.
      await page.goto(`${h.base}/admin/`);
      await page.waitForURL(/\/admin\/signin/);
      await page.locator('input[name=email]').fill(platformEmail);
      await page.locator('input[name=password]').fill(CONSOLE_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/admin\/dashboard/);
      await page.goto(`${h.base}/admin/tenants`);
      await page.locator('[data-test=tenant-new]').click();
      await page.locator('input[name=tenant_id]').fill(tenantId);
      await page.locator('input[name=tenant_name]').fill('Spring Shop');
      await page.locator('[data-test=tenant-create]').click();
      // Its first admin key, shown once (the test reads the API with it to check what the pages did).
      tenantKey = await page.locator('input[name=new_secret]').inputValue();
      expect(tenantKey.length).toBeGreaterThan(20);
      await page.locator('[data-test=secret-done]').click();
      // The install has other tenants: the marketer finds the new one by its ID.
      await page.locator('input[name=tenant_search]').fill(tenantId);
      await page.locator('[data-test=tenant-search]').click();
      await page.locator('[data-test=tenant-table]').getByText(tenantId).click();
      await page.waitForURL(new RegExp(`/admin/tenants/${tenantId}$`));
      await page.locator('[data-test=operator-new]').click();
      await page.locator('input[name=operator_email]').fill(adminEmail);
      await page.locator('input[name=operator_name]').fill('Mia Marketer');
      await h.choose(page, 'operator-new-role', 'Admin');
      await page.locator('input[name=operator_password]').fill(adminPassword);
      await page.locator('[data-test=operator-create]').click();
      await page.locator('[data-test=operator-table]').getByText(adminEmail.toLowerCase()).waitFor();
      await h.shot(page, '01-tenant');
      await page.locator('[data-test=sign-out]').click();
      await page.waitForURL(/\/admin\/signin/);

      // 2. The tenant's admin signs in and adds an app.
      await page.locator('input[name=email]').fill(adminEmail);
      await page.locator('input[name=tenant_id]').fill(tenantId);
      await page.locator('input[name=password]').fill(adminPassword);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/admin\/dashboard/);
      await page.goto(`${h.base}/admin/access`);
      await page.locator('input[name=product_code]').fill('shop');
      await page.locator('input[name=app_name]').fill('Shop app');
      await page.getByRole('button', { name: 'Add app' }).click();
      await page.getByText('Shop app').first().waitFor();

      // 3. A campaign, published.
      await page.goto(`${h.base}/admin/campaigns/new`);
      await page.locator('input[name=campaign_name]').fill('Spring sale');
      await h.choose(page, 'campaign-type', 'Redeem code');
      await page.locator('[data-test=save]').click();
      await page.waitForURL(/\/admin\/campaigns\/cmp_[^/]+$/);
      const campaignId = page.url().split('/').pop()!;
      await page.locator('[data-test=action-publish]').click();
      await text(page.locator('[data-test=campaign-status]'), 'Active');

      // 4. A reward of 100 points with 500 in stock, and 50 codes for it.
      await page.locator('[data-test=campaign-rewards]').click();
      await page.locator('[data-test=new-reward]').click();
      await page.locator('input[name=reward_name]').fill('100 points');
      await page.locator('input[name=points]').fill('100');
      await page.locator('input[name=total_stock]').fill('500');
      await page.locator('[data-test=save]').click();
      await page.locator('[data-test=reward-table] tbody tr', { hasText: '100 points' }).waitFor();
      await page.goto(`${h.base}/admin/campaigns/${campaignId}`);
      await page.locator('[data-test=campaign-codes]').click();
      await page.waitForURL(/\/admin\/codes\?campaign_id=/);
      await h.choose(page, 'gen-reward', '100 points');
      await page.locator('input[name=count]').fill('50');
      await page.locator('[data-test=generate]').click();
      await text(page.locator('[data-test=batch-status]'), 'DONE', 30_000);
      await h.shot(page, '02-codes');

      // 5. Customers from a CSV file, and an audience of the spring-tagged ones.
      await page.goto(`${h.base}/admin/customers/import`);
      const csv = ['user_id,tags,email,name', 'ann,spring,ann@example.test,Ann', 'bob,spring,bob@example.test,Bob', 'cai,spring,cai@example.test,Cai', 'dan,autumn,dan@example.test,Dan'].join('\n');
      await page.locator('[data-test=import-file]').setInputFiles({ name: 'customers.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
      await page.locator('[data-test=import-start]').click();
      await page.locator('[data-test=import-summary]').waitFor({ timeout: 30_000 });
      await text(page.locator('[data-test=imported]'), /4$/);
      await page.goto(`${h.base}/admin/audiences/new`);
      await page.locator('[data-test=audience-name] input').fill('Spring shoppers');
      await page.locator('[data-test="rule-0"] [data-test=value] input').fill('spring');
      await text(page.locator('[data-test=live-count]'), /3$/);
      await page.locator('[data-test=save]').click();
      await page.waitForURL(/\/admin\/audiences\/aud_/);
      await text(page.locator('[data-test=saved-count]'), /3$/);
      await h.shot(page, '03-audience');

      // 6. The e-mail provider: the shop's SMTP relay (a local server here).
      await page.goto(`${h.base}/admin/outreach/providers`);
      await page.locator('[data-test=new-provider]').click();
      await page.locator('input[name=provider_name]').fill('Shop relay');
      await page.locator('textarea[name=provider_config]').fill(JSON.stringify({ host: peer.host, port: peer.port, from: 'Spring Shop <news@shop.example>' }));
      await page.locator('textarea[name=provider_secrets]').fill('{"user": "only-one"}');
      await page.locator('[data-test=provider-save]').click();
      await text(page.locator('[data-test=form-error]'), 'go together'); // the API's check of the credentials
      await page.locator('textarea[name=provider_secrets]').fill('{}');
      await page.locator('[data-test=provider-default]').click();
      await page.locator('[data-test=provider-save]').click();
      await page.locator('[data-test=provider-table]').getByText('Shop relay').waitFor();
      await h.shot(page, '04-providers');

      // 7. A template and an outreach campaign to the audience, sent.
      await page.goto(`${h.base}/admin/outreach/templates`);
      await page.locator('[data-test=new-template]').click();
      await page.locator('input[name=template_name]').fill('Spring mail');
      await h.choose(page, 'template-channel', 'E-mail');
      await page.locator('input[name=content_subject]').fill('Spring sale, {{ customer.name }}');
      await page.locator('textarea[name=content_html]').fill('<p>Dear {{ customer.name }}, your code is waiting: {{ link }}</p>');
      await page.locator('textarea[name=content_text]').fill('Dear {{ customer.name }}, your code is waiting: {{ link }}');
      await page.locator('[data-test=template-save]').click();
      await page.locator('[data-test=template-form]').waitFor({ state: 'hidden' });
      await page.goto(`${h.base}/admin/outreach/campaigns`);
      await page.locator('[data-test=new-outreach-campaign]').click();
      await page.locator('input[name=campaign_name]').fill('Spring mail-out');
      await h.choose(page, 'campaign-audience', 'Spring shoppers');
      await h.choose(page, 'campaign-template', 'Spring mail');
      await page.locator('input[name=link_url]').fill('https://shop.example/spring');
      await page.locator('[data-test=campaign-save]').click();
      await text(page.locator('[data-test=campaign-status]'), 'Draft');
      await page.locator('[data-test=send]').click();
      await confirm(page);

      // 8. The run completes: three mails through the relay, one per shopper.
      await expect.poll(() => page.locator('[data-test=run-status]').getAttribute('data-status'), { timeout: 30_000 }).toBe('completed');
      await text(page.locator('[data-test=run-delivered]'), /^3$/);
      expect(peer.messages.map((m) => m.envelope.to[0]).sort()).toEqual(['ann@example.test', 'bob@example.test', 'cai@example.test']);
      expect(peer.messages.map((m) => m.parsed.subject).sort()).toEqual(['Spring sale, Ann', 'Spring sale, Bob', 'Spring sale, Cai']);
      await h.shot(page, '05-run');

      // 9. A shopper redeems a code (the shop's backend calls the API), and the results show.
      const codes = (await api(`/v1/redeem-codes?campaign_id=${campaignId}&page_size=1`)).body.redeem_codes;
      const redeemed = await h.a.call('POST', '/v1/redeem', { code: codes[0].code, user_id: 'ann' }, { key: tenantKey });
      expect(redeemed.status).toBe(201);
      await page.locator('[data-test=run-stats]').click();
      await text(page.locator('[data-test=stats-delivered]'), /^3$/);
      await h.shot(page, '06-stats');
      await page.goto(`${h.base}/admin/dashboard`);
      await page.locator('[data-loaded=true]').waitFor();
      await h.shot(page, '07-dashboard');
      const figure = async (name: string) => (await page.locator(`[data-test=${name}]`).textContent())?.match(/\d[\d,]*/)?.[0];
      expect(await figure('codes-total')).toBe('50');
      expect(await figure('grants-today')).toBe('1');
      expect(await figure('redemptions-today')).toBe('1');
      expect(await figure('sends-today')).toBe('3');
      expect(await figure('active-campaigns')).toBe('1');
      // Everything the pages made belongs to the new tenant, made by its admin.
      const campaign = (await api(`/v1/campaigns/${campaignId}`)).body;
      expect(campaign).toMatchObject({ campaign_name: 'Spring sale', status: 'ACTIVE' });
      expect((await api(`/v1/rewards?campaign_id=${campaignId}`)).body.rewards[0].stock).toMatchObject({ total: 500, used: 1 });
      expect(tolerated(failures)).toEqual([]);
    } finally {
      await context.close();
    }
  }, 180_000);
});
