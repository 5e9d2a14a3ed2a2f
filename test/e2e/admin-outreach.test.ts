/**
 * The outreach pages in Chromium against the real API: templates (a Liquid error shown, the API's
 * preview), an outreach campaign to an audience of the tenant (simulated, then sent for real over
 * SMTP to a local smtp-server), the run's progress until it completes, pause / resume / cancel,
 * the records (filter, detail, CSV) and the stats with their chart.
 *
 * How the run completes: nothing sends in a test app by itself (no job runner), so the test runs
 * a worker of its own over the send loop, limited to this test's tenant
 * (`dispatcher.tick({ tenantId })` every 100 ms): it never touches what other test files leave in
 * the shared database, and it can be held (`worker.hold`) to keep a run waiting.
 */
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type SmtpPeer, startSmtpPeer } from '../../src/modules/outreach/channels/testing/smtp-peer.js';
import { outreachOf } from '../../src/modules/outreach/testing/outreach-fixture.js';
import { type ConsoleHarness, describeConsole } from '../helpers/console-browser.js';
import { startConsole } from '../helpers/console-browser.js';
import { must } from '../helpers/test-app.js';

const allowed = (failures: string[]) => failures.filter((f) => !/status of (401|403|404|409|422|400)/.test(f));

/** A send loop over one tenant's runs only, as a worker process would run it; `hold` pauses it. */
function startWorker(h: ConsoleHarness) {
  const dispatcher = outreachOf(h.a).dispatcher;
  const state = { hold: false, stopped: false, done: Promise.resolve() };
  state.done = (async () => {
    while (!state.stopped) {
      if (!state.hold) await dispatcher.tick({ tenantId: h.t.tenantId });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return state;
}

/** Waits for a locator's text to contain (or, with `exact`, equal) a string. */
async function text(loc: Locator, want: string, options: { exact?: boolean; timeout?: number } = {}) {
  const read = async () => ((await loc.count()) ? ((await loc.first().textContent()) ?? '').trim() : '');
  const poll = expect.poll(read, { timeout: options.timeout ?? 5_000 });
  await (options.exact ? poll.toBe(want) : poll.toContain(want));
}

/** Waits for a run page's status to be `want`. */
async function runStatus(page: Page, want: string, timeout = 5_000) {
  await expect.poll(() => page.locator('[data-test=run-status]').getAttribute('data-status'), { timeout }).toBe(want);
}

/** Clicks the positive button of the open Naive UI popconfirm. */
async function confirm(page: Page) {
  await page.locator('.n-popconfirm__action button').last().click();
}

describeConsole('the outreach pages in Chromium', () => {
  let h: ConsoleHarness;
  let peer: SmtpPeer;
  let worker: ReturnType<typeof startWorker>;
  let audienceName: string;

  beforeAll(async () => {
    h = await startConsole('outreach');
    const { t } = h;
    for (let i = 1; i <= 3; i += 1) {
      must(await t.call('PUT', `/v1/customers/vip${i}`, { tags: ['vip'], attributes: { name: `Customer ${i}`, email: `vip${i}@example.test` } }), 201);
    }
    audienceName = 'VIP customers';
    must(await t.call('POST', '/v1/audiences', { audience_name: audienceName, audience_type: 'TAG', product_code: t.productCode, rule: { tags_any: ['vip'] } }), 201);
    peer = await startSmtpPeer();
    must(
      await t.call(
        'POST',
        '/v1/outreach/providers',
        { name: 'Local relay', kind: 'smtp', config: { host: peer.host, port: peer.port, from: 'Shop <news@shop.example.test>' }, secrets: {}, rate_per_second: 100_000, is_default: true },
        { key: t.admin },
      ),
      201,
    );
    worker = startWorker(h);
  }, 300_000);

  afterAll(async () => {
    if (worker) {
      worker.stopped = true;
      await worker.done;
    }
    await peer?.close();
    await h?.close();
  });

  it('templates: pages by channel, refuses a Liquid error with its message, saves, and shows the API preview', async () => {
    const { t } = h;
    for (let i = 0; i < 21; i += 1) must(await t.call('POST', '/v1/outreach/templates', { name: `SMS ${String(i).padStart(2, '0')}`, channel: 'sms', content: { text: `Hi [客户姓名] ${i}` } }), 201);
    const { page, failures, close } = await h.open('/outreach/templates');
    const rows = page.locator('[data-test=template-table] tbody tr');
    await expect.poll(() => rows.count()).toBe(20);
    await page.locator('[data-test=template-table] .n-pagination-item', { hasText: /^2$/ }).click();
    await expect.poll(() => rows.count()).toBe(1);

    await page.locator('[data-test=new-template]').click();
    await page.locator('input[name=template_name]').fill('Welcome mail');
    await h.choose(page, 'template-channel', 'E-mail');
    await page.locator('input[name=content_subject]').fill('Hello {{ customer.nickname }}');
    await page.locator('textarea[name=content_html]').fill('<p>Dear {{ customer.name }}, see {{ link }}</p>');
    await page.locator('textarea[name=content_text]').fill('Dear {{ customer.name }}, see {{ link }}');
    await page.locator('[data-test=template-save]').click();
    await text(page.locator('[data-test=template-form] [data-test=error]'), 'customer.nickname');
    await page.locator('input[name=content_subject]').fill('Hello {{ customer.name }}');
    await page.locator('input[name=preview_user]').fill('vip1');
    await page.locator('[data-test=template-render]').click();
    await text(page.locator('[data-test=preview-subject]'), 'Hello Customer 1', { exact: true });
    await h.shot(page, '01-template-edit');
    await page.locator('[data-test=template-save]').click();
    await page.locator('[data-test=template-form]').waitFor({ state: 'hidden' });

    await h.choose(page, 'filter-channel', 'E-mail');
    await expect.poll(() => rows.count()).toBe(1);
    await text(rows.first(), 'Welcome mail');
    // Edited: the drawer holds the saved template; the change is saved and the saved template's own preview route renders it.
    await page.locator('[data-test=template-edit]').click();
    await expect.poll(() => page.locator('input[name=content_subject]').inputValue()).toBe('Hello {{ customer.name }}');
    await page.locator('textarea[name=content_text]').fill('Dear {{ customer.name }}, see {{ link }} Thanks.');
    await page.locator('[data-test=template-save]').click();
    await page.locator('[data-test=template-form]').waitFor({ state: 'hidden' });
    await page.locator('[data-test=template-preview]').click();
    await text(page.locator('[data-test=preview-text]'), 'Dear Customer 1, see https://example.com Thanks.');
    await page.keyboard.press('Escape');
    await h.shot(page, '02-templates');
    expect(allowed(failures)).toEqual([]);
    await close();
  }, 60_000);

  it('sends a message: a campaign to an audience, simulated, sent, its run watched to completion, records and stats', async () => {
    const { page, failures, close } = await h.open('/outreach/campaigns');
    await page.locator('[data-test=new-outreach-campaign]').click();
    await page.locator('input[name=campaign_name]').fill('Welcome VIP');
    await h.choose(page, 'campaign-audience', audienceName);
    // No content yet: the API's refusal is shown.
    await page.locator('[data-test=campaign-save]').click();
    await text(page.locator('[data-test=error]'), 'template_id');
    await h.choose(page, 'campaign-template', 'Welcome mail');
    await page.locator('input[name=link_url]').fill('https://shop.example.test/vip');
    await h.shot(page, '03-campaign-edit');
    await page.locator('[data-test=campaign-save]').click();
    await page.locator('[data-test=campaign-status]').waitFor();
    await text(page.locator('[data-test=campaign-status]'), 'Draft', { exact: true });
    // A draft can be edited: the form comes back filled, and the change is saved.
    await page.locator('[data-test=edit]').click();
    await expect.poll(() => page.locator('input[name=campaign_name]').inputValue()).toBe('Welcome VIP');
    await text(page.locator('[data-test=campaign-template]'), 'Welcome mail');
    await page.locator('input[name=campaign_name]').fill('Welcome VIPs');
    await page.locator('[data-test=campaign-save]').click();
    await text(page.locator('.n-card-header'), 'Welcome VIPs');

    // A simulation sends nothing and shows what would happen.
    await page.locator('[data-test=simulate]').click();
    await text(page.locator('[data-test=simulation-status]'), 'Completed', { exact: true, timeout: 15_000 });
    await text(page.locator('[data-test=simulation-would-send]'), '3', { exact: true });
    await text(page.locator('[data-test=simulation-sample]').first(), 'Hello Customer');
    expect(peer.messages).toHaveLength(0);
    await h.shot(page, '04-campaign-simulated');

    // Send for real: the run page polls until the worker has sent every message.
    await page.locator('[data-test=send]').click();
    await confirm(page);
    await runStatus(page, 'completed', 20_000);
    await text(page.locator('[data-test=run-sent]'), '3', { exact: true });
    await text(page.locator('[data-test=run-delivered]'), '3', { exact: true });
    await text(page.locator('[data-test=run-pending]'), '0', { exact: true });
    expect(peer.messages.map((m) => m.envelope.to[0]).sort()).toEqual(['vip1@example.test', 'vip2@example.test', 'vip3@example.test']);
    expect(peer.messages[0]!.parsed.subject).toMatch(/^Hello Customer \d$/);
    await h.shot(page, '05-run');

    // The run's records: filtered, one opened, the CSV of the same filter.
    await page.locator('[data-test=run-records]').click();
    const rows = page.locator('[data-test=record-table] tbody tr');
    await expect.poll(() => rows.count()).toBe(3);
    await page.locator('input[name=customer_id]').fill('vip2');
    await page.locator('[data-test=search]').click();
    await expect.poll(() => rows.count()).toBe(1);
    await h.choose(page, 'filter-status', 'Failed');
    await text(page.locator('[data-test=record-table]'), 'Nothing here yet');
    await h.choose(page, 'filter-status', 'Delivered');
    await expect.poll(() => rows.count()).toBe(1);
    const href = await page.locator('[data-test=export]').getAttribute('href');
    expect(href).toMatch(/^\/v1\/outreach\/records\/export\?.*customer_id=vip2.*status=delivered/);
    const csv = await page.request.get(`${h.base}${href}`);
    expect(csv.status()).toBe(200);
    const lines = (await csv.text()).trim().split('\n');
    expect(lines[0]).toMatch(/^record_id,run_id,campaign_id,customer_id/);
    expect(lines).toHaveLength(2);
    await page.locator('[data-test=record-link]').click();
    await text(page.locator('[data-test=record-status]'), 'Delivered', { exact: true });
    await text(page.locator('[data-test=record-detail]'), '@example.test');
    await h.shot(page, '06-record');
    await page.keyboard.press('Escape');

    // The campaign's stats: counts, rates and the chart.
    await page.goto(`${h.base}/admin/outreach/campaigns`);
    await page.locator('[data-test=campaign-link]', { hasText: 'Welcome VIPs' }).click();
    await page.locator('[data-test=campaign-stats]').click();
    await text(page.locator('[data-test=stats-delivered]'), '3', { exact: true });
    await text(page.locator('[data-test=stats-runs]'), '1', { exact: true });
    await text(page.locator('[data-test=stats-variants]'), '100.0%');
    await page.locator('[data-test=stats-chart] canvas').waitFor();
    await h.shot(page, '07-stats');
    expect(allowed(failures)).toEqual([]);
    await close();
  }, 60_000);

  it('A/B variants per variant in the stats; a run paused, resumed and cancelled; campaigns filtered and archived; viewers read only', async () => {
    const { t } = h;
    // Sixteen customers: the stable hash puts some in each half (all in one: odds of 1 in 32768).
    for (let i = 0; i < 16; i += 1) must(await t.call('PUT', `/v1/customers/ab${i}`, { tags: ['ab'], attributes: { name: `AB ${i}`, email: `ab${i}@example.test` } }), 201);
    const tid = (
      must(await t.call('POST', '/v1/outreach/templates', { name: 'Variant A', channel: 'email', content: { subject: 'A {{ customer.name }}', html: '<p>A</p>', text: 'A' } }), 201).body as { template_id: string }
    ).template_id;
    const ab = must(
      await t.call('POST', '/v1/outreach/campaigns', {
        name: 'AB subject test',
        channel: 'email',
        target_tags: ['ab'],
        variants: [
          { key: 'A', percent: 50, template_id: tid },
          { key: 'B', percent: 50, content: { subject: 'B {{ customer.name }}', html: '<p>B</p>', text: 'B' } },
        ],
      }),
      201,
    ).body as { campaign_id: string };
    // Held worker: the run waits in `resolving` for the page's pause, resume and cancel.
    worker.hold = true;
    const run = must(await t.call('POST', `/v1/outreach/campaigns/${ab.campaign_id}/trigger`, { execution_type: 'actual' }), 202).body as { run_id: string };
    const { page, failures, close } = await h.open(`/outreach/runs/${run.run_id}`);
    await runStatus(page, 'resolving');
    await page.locator('[data-test=run-pause]').click();
    await runStatus(page, 'paused');
    await page.locator('[data-test=run-resume]').click();
    await runStatus(page, 'resolving');
    await page.locator('[data-test=run-cancel]').click();
    await confirm(page);
    await runStatus(page, 'cancelled');
    await h.shot(page, '08-run-cancelled');
    worker.hold = false;

    // A second run sends; the stats show each variant.
    const second = must(await t.call('POST', `/v1/outreach/campaigns/${ab.campaign_id}/trigger`, { execution_type: 'actual' }), 202).body as { run_id: string };
    await page.goto(`${h.base}/admin/outreach/runs/${second.run_id}`);
    await runStatus(page, 'completed', 20_000);
    await page.goto(`${h.base}/admin/outreach/stats?campaign_id=${ab.campaign_id}`);
    await text(page.locator('[data-test=stats-delivered]'), '16', { exact: true });
    const variantRows = page.locator('[data-test=stats-variants] tbody tr');
    await expect.poll(() => variantRows.count()).toBe(3);
    await text(variantRows.nth(1), 'A');
    await text(variantRows.nth(2), 'B');
    await page.locator('[data-test=stats-chart] canvas').waitFor();
    await h.shot(page, '09-stats-ab');

    // The runs list by campaign and status.
    await page.goto(`${h.base}/admin/outreach/runs?campaign_id=${ab.campaign_id}`);
    const runRows = page.locator('[data-test=run-table] tbody tr');
    await expect.poll(() => runRows.count()).toBe(2);
    await h.choose(page, 'filter-status', 'Cancelled');
    await expect.poll(() => runRows.count()).toBe(1);
    await text(runRows.first(), run.run_id);
    await h.shot(page, '10-runs');

    // Campaigns: filtered by name and status; one archived from its page.
    await page.goto(`${h.base}/admin/outreach/campaigns`);
    const campaignRows = page.locator('[data-test=outreach-campaign-table] tbody tr');
    await expect.poll(() => campaignRows.count()).toBe(2);
    await page.locator('input[name=search_name]').fill('AB');
    await page.locator('[data-test=search]').click();
    await expect.poll(() => campaignRows.count()).toBe(1);
    await page.locator('[data-test=campaign-link]').click();
    await page.locator('[data-test=archive]').click();
    await confirm(page);
    await text(page.locator('[data-test=campaign-status]'), 'Archived', { exact: true });
    await page.goto(`${h.base}/admin/outreach/campaigns`);
    await h.choose(page, 'filter-status', 'Archived');
    await expect.poll(() => campaignRows.count()).toBe(1);
    await h.shot(page, '11-campaigns');
    expect(allowed(failures)).toEqual([]);
    await close();

    // A viewer (in Chinese) sees the campaign but no button that changes it; a 768-wide tablet has no horizontal overflow.
    const viewer = await h.open(`/outreach/campaigns/${ab.campaign_id}`, { as: 'viewer', locale: 'zh-CN' });
    await viewer.page.setViewportSize({ width: 768, height: 1024 });
    await text(viewer.page.locator('[data-test=campaign-status]'), '已归档', { exact: true });
    expect(await viewer.page.locator('[data-test=send], [data-test=simulate], [data-test=archive], [data-test=edit]').count()).toBe(0);
    await viewer.page.goto(`${h.base}/admin/outreach/records`);
    await viewer.page.locator('[data-test=record-table] tbody tr').first().waitFor();
    expect(await viewer.page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')).toBeLessThanOrEqual(0);
    await h.shot(viewer.page, '12-records-tablet-viewer');
    expect(allowed(viewer.failures)).toEqual([]);
    await viewer.close();
  }, 60_000);
});
