/**
 * The console's core pages in Chromium, beyond admin-console.test.ts: the campaign form builder
 * with the landing page's live preview, the batch list of the codes page, the app's publishable
 * and end-user token keys, and the dashboard's figures against what the API counts.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { FrameLocator, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureLandingBuilt } from '../../src/modules/landing-page/index.js';
import { type ConsoleHarness, describeConsole, startConsole } from '../helpers/console-browser.js';
import { FORM, newPhone, orderBody } from '../../src/modules/referrals/testing/referral-fixtures.js';
import { codeCampaign } from '../helpers/redeem-code-helpers.js';
import { must } from '../helpers/test-app.js';

/** expect.poll with room for a loaded machine (its default waits 1 s). */
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 15_000 });
const ok = (failures: string[]) => failures.filter((f) => !/status of (401|403|404|409|422|400)/.test(f));
/** The labels of the landing page's form, in order ("*" after a required one). */
const labels = (frame: FrameLocator) => frame.locator('label.field > span').allTextContents();
/** Clicks the confirm button of the open Naive UI pop-confirm. */
const confirm = (page: Page) => page.locator('.n-popconfirm__action .n-button--primary-type').click();

describeConsole('the core console pages in Chromium', () => {
  let h: ConsoleHarness;
  beforeAll(async () => {
    expect(await ensureLandingBuilt()).not.toBe('no_vite');
    h = await startConsole('campaigns');
  }, 300_000);
  afterAll(async () => h?.close());

  it('builds a campaign form: fields added, reordered and removed with the landing page preview following; saved and shown again', async () => {
    const { page, failures, close } = await h.open('/campaigns/new');
    await page.locator('input[name=campaign_name]').fill('Spring sign-up');
    await page.locator('textarea[name=description]').fill('Join us in spring');
    const frame = page.frameLocator('[data-test=landing-preview]');
    await page.locator('[data-test=landing-preview][data-ready=true]').waitFor();
    await poll(() => frame.locator('h1').textContent()).toBe('Spring sign-up');
    expect(await labels(frame)).toEqual(['Mobile number*']); // no field: the page asks for the phone only

    await page.click('[data-test=add-text]');
    await page.locator('input[name=field_label_0]').fill('Full name');
    await page.click('[data-test=field-required-0]');
    await page.click('[data-test=add-select]');
    await page.locator('input[name=field_label_1]').fill('Size');
    await page.locator('input[name=field_1_option_label_0]').fill('Small');
    await page.locator('input[name=field_1_option_value_0]').fill('s');
    await page.click('[data-test=field-add-option-1]');
    await page.locator('input[name=field_1_option_label_1]').fill('Large');
    await page.locator('input[name=field_1_option_value_1]').fill('l');
    await page.click('[data-test=add-number]');
    await page.locator('input[name=field_label_2]').fill('Age');
    await poll(() => labels(frame)).toEqual(['Mobile number*', 'Full name*', 'Size', 'Age']);
    await poll(() => frame.locator('select[name=field_2] option').allTextContents()).toEqual(['Choose', 'Small', 'Large']);

    // Reorder (Age up) and remove (Full name): the preview follows.
    await page.click('[data-test=field-up-2]');
    await poll(() => labels(frame)).toEqual(['Mobile number*', 'Full name*', 'Age', 'Size']);
    await page.click('[data-test=field-remove-0]');
    await poll(() => labels(frame)).toEqual(['Mobile number*', 'Age', 'Size']);

    // Two fields with one name: said, and the save waits.
    await page.locator('input[name=field_name_1]').fill('field_3');
    await page.locator('[data-test=field-problem-1]').waitFor();
    expect(await page.locator('[data-test=save]').isDisabled()).toBe(true);
    await page.locator('input[name=field_name_1]').fill('size');
    await page.locator('input[name=field_name_0]').fill('age');
    await page.locator('[data-test=form-blocked]').waitFor({ state: 'detached' });
    await page.click('[data-test=field-required-1]');

    // The preview checks as the page does, and sends nothing.
    await frame.locator('button[type=submit]').click();
    await poll(() => frame.locator('[data-error-for]').evaluateAll((els) => els.map((e) => e.getAttribute('data-error-for')))).toEqual(['phone', 'size']);
    await frame.locator('input[name=phone]').fill('13800138000');
    await frame.locator('select[name=size]').selectOption('l');
    await frame.locator('button[type=submit]').click();
    await frame.locator('[data-preview-notice]').waitFor();
    await h.shot(page, '01-campaign-form-builder');

    // The API's own check: the end before the start.
    await page.locator('[data-test=campaign-start] input').fill('2030-03-02 10:00:00');
    await page.keyboard.press('Enter');
    await page.locator('[data-test=campaign-end] input').fill('2030-03-01 10:00:00');
    await page.keyboard.press('Enter');
    await page.click('[data-test=save]');
    await poll(() => page.locator('[data-test=error]').textContent()).toMatch(/end_time.*\(invalid_request\)/);
    await page.locator('[data-test=campaign-end] input').fill('2030-03-09 10:00:00');
    await page.keyboard.press('Enter');
    await page.click('[data-test=save]');
    await page.waitForURL(/\/admin\/campaigns\/(?!new$)[^/]+$/);
    const id = page.url().split('/').pop()!;
    const saved = must(await h.t.call('GET', `/v1/campaigns/${id}`), 200).body;
    expect(saved.form_fields).toMatchObject({
      type: 'object',
      required: ['size'],
      'ui:order': ['age', 'size'],
      properties: { age: { type: 'number', title: 'Age' }, size: { type: 'string', title: 'Size', oneOf: [{ const: 's', title: 'Small' }, { const: 'l', title: 'Large' }] } },
    });
    await poll(() => page.locator('[data-test=form-fields] li').allTextContents()).toEqual([expect.stringMatching(/^Age \(age\) · Number/), expect.stringMatching(/^Size \(size\) · Choice · Required/)]);
    // Who made it: the signed-in operator, by name on the page.
    const admin = await h.operator('admin');
    expect(saved).toMatchObject({ created_by: admin.operator_id, updated_by: admin.operator_id });
    await poll(() => page.locator('[data-test=created-by]').textContent()).toBe(`admin operator <${admin.email}>`);
    await h.shot(page, '02-campaign-detail');

    // Opened again: the fields in their order, the preview with them.
    await page.click('[data-test=edit]');
    await page.locator('[data-test=landing-preview][data-ready=true]').waitFor();
    expect(await page.locator('input[name=field_label_0]').inputValue()).toBe('Age');
    expect(await page.locator('input[name=field_label_1]').inputValue()).toBe('Size');
    await poll(() => labels(frame)).toEqual(['Mobile number*', 'Age', 'Size*']);
    await page.setViewportSize({ width: 768, height: 1024 });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')).toBeLessThanOrEqual(0);
    await h.shot(page, '03-campaign-edit-tablet');
    expect(ok(failures)).toEqual([]);
    await close();

    // A viewer reads it, with no edit or lifecycle button.
    const viewer = await h.open(`/campaigns/${id}`, { as: 'viewer' });
    await poll(() => viewer.page.locator('[data-test=form-fields] li').count()).toBe(2);
    expect(await viewer.page.locator('[data-test=edit], [data-test^=action-]').count()).toBe(0);
    await viewer.close();
  }, 60_000);

  it('lists code batches page by page, filtered by campaign and status; a picked batch shows its codes', async () => {
    const a = await codeCampaign(h.t, { campaign: { campaign_name: 'Batches A' } });
    const b = await codeCampaign(h.t, { campaign: { campaign_name: 'Batches B' } });
    const made: string[] = [];
    for (let i = 0; i < 21; i++) {
      made.push(must(await h.t.call('POST', `/v1/campaigns/${a.campaignId}/redeem-codes`, { reward_id: a.rewardId, code_type: 'ALPHANUM', length: 12, count: 1 }), 201).body.batch_id);
    }
    const inB = must(await h.t.call('POST', `/v1/campaigns/${b.campaignId}/redeem-codes`, { reward_id: b.rewardId, code_type: 'ALPHANUM', length: 12, count: 3 }), 201).body.batch_id as string;
    must(await h.t.call('POST', `/v1/redeem-code-batches/${made[0]}/void`, {}), 200);

    const { page, failures, close } = await h.open('/codes');
    const rows = () => page.locator('[data-test=batch-table] tbody tr[data-batch]').evaluateAll((els) => els.map((e) => e.getAttribute('data-batch')));
    await poll(rows).toHaveLength(20);
    expect((await rows())[0]).toBe(inB); // newest first
    await page.locator('[data-test=batch-table] .n-pagination-item', { hasText: /^2$/ }).click();
    await poll(rows).toEqual([made[1], made[0]]);

    await h.choose(page, 'batch-campaign', 'Batches B');
    await poll(rows).toEqual([inB]);
    await page.locator('[data-test=batch-campaign] .n-base-clear').click({ force: true });
    await h.choose(page, 'batch-status-filter', 'Voided');
    await poll(rows).toEqual([made[0]]);
    await page.locator('[data-test=batch-status-filter] .n-base-clear').click({ force: true });
    await poll(rows).toHaveLength(20);

    // Picked: its progress and its codes.
    await page.locator(`[data-test=batch-table] tr[data-batch="${inB}"]`).click();
    await poll(() => page.locator('[data-test=batch-id]').textContent()).toBe(inB);
    await poll(() => page.locator('[data-test=batch]').textContent()).toContain('3 / 3');
    await poll(() => page.locator('[data-test=code-table] tbody tr').count()).toBe(3);
    await h.shot(page, '04-codes-batches');
    expect(ok(failures)).toEqual([]);
    await close();
  }, 60_000);

  it('creates publishable keys (shown once) and end-user token keys for an app, and revokes them', async () => {
    const { page, failures, close } = await h.open('/access');
    const card = page.locator('[data-test=client-keys]');
    await card.waitFor();
    const app = h.t.productCode;
    // The API refuses an origin with a path: its message is shown.
    await card.locator('[data-test=pk-origins] button').click();
    await card.locator('[data-test=pk-origins] input').fill('https://shop.example.com/path');
    await page.keyboard.press('Enter');
    await card.locator('input[name=pk_name]').fill('Web shop');
    await card.locator('[data-test=create-pk]').click();
    await poll(() => card.locator('[data-test=pk-error]').textContent()).toMatch(/invalid_request/);
    await card.locator('[data-test=pk-origins] .n-tag__close').click();
    await card.locator('[data-test=pk-origins] button').click();
    await card.locator('[data-test=pk-origins] input').fill('https://shop.example.com');
    await page.keyboard.press('Enter');
    await card.locator('[data-test=create-pk]').click();
    const shown = page.locator('input[name=shown_once]');
    await shown.waitFor();
    const pk = await shown.inputValue();
    expect(pk).toMatch(/^pk_/);
    await h.shot(page, '05-access-key-shown-once');
    await page.click('[data-test=shown-done]');
    const listed = must(await h.t.call('GET', `/v1/apps/${app}/publishable-keys`, undefined, { key: h.t.admin }), 200).body.publishable_keys;
    expect(listed).toEqual([expect.objectContaining({ name: 'Web shop', allowed_origins: ['https://shop.example.com'], revoked_at: null })]);
    expect(JSON.stringify(listed)).not.toContain(pk); // never answered again
    await card.locator(`[data-test=revoke-pk-${listed[0].key_id}]`).click();
    await confirm(page);
    await poll(async () => must(await h.t.call('GET', `/v1/apps/${app}/publishable-keys`, undefined, { key: h.t.admin }), 200).body.publishable_keys[0].revoked_at).not.toBeNull();
    await card.locator('[data-test=pk-table] .n-tag', { hasText: 'Revoked' }).waitFor();

    // End-user token keys: an HS256 secret shown once, an EdDSA public key registered.
    await card.locator('.n-tabs-tab', { hasText: 'End-user token keys' }).click();
    await card.locator('[data-test=create-tk]').click();
    await shown.waitFor();
    expect((await shown.inputValue()).length).toBeGreaterThanOrEqual(32);
    await page.click('[data-test=shown-done]');
    await card.locator('[data-test=tk-alg] label', { hasText: 'EdDSA' }).click();
    await card.locator('textarea[name=public_key]').fill('-----BEGIN PUBLIC KEY-----\nnot a key at all, just text long enough\n-----END PUBLIC KEY-----');
    await card.locator('[data-test=create-tk]').click();
    await card.locator('[data-test=tk-error]').waitFor();
    const { publicKey } = generateKeyPairSync('ed25519');
    await card.locator('textarea[name=public_key]').fill(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    await card.locator('[data-test=create-tk]').click();
    await poll(async () => must(await h.t.call('GET', `/v1/apps/${app}/user-token-keys`, undefined, { key: h.t.admin }), 200).body.user_token_keys.map((k: { alg: string }) => k.alg).sort()).toEqual(['EdDSA', 'HS256']);
    const keys = must(await h.t.call('GET', `/v1/apps/${app}/user-token-keys`, undefined, { key: h.t.admin }), 200).body.user_token_keys as { kid: string; alg: string }[];
    const hs = keys.find((k) => k.alg === 'HS256')!;
    await card.locator(`[data-test=revoke-tk-${hs.kid}]`).click();
    await confirm(page);
    await poll(async () => must(await h.t.call('GET', `/v1/apps/${app}/user-token-keys`, undefined, { key: h.t.admin }), 200).body.user_token_keys.find((k: { kid: string }) => k.kid === hs.kid).revoked_at).not.toBeNull();
    await card.locator('[data-test=tk-table] .n-tag', { hasText: 'Revoked' }).waitFor();
    await h.shot(page, '06-access-client-keys');
    expect(ok(failures)).toEqual([]);
    await close();

    // An operator (not an admin) is not offered them (the API needs the admin role).
    const asOperator = await h.open('/access', { as: 'operator' });
    await asOperator.page.locator('[data-test=key-table]').waitFor();
    expect(await asOperator.page.locator('[data-test=client-keys]').count()).toBe(0);
    await asOperator.close();
  }, 60_000);

  it('speaks Chinese in the form builder, and so does the preview on a Chinese browser', async () => {
    const { page, failures, close } = await h.open('/campaigns/new', { locale: 'zh-CN' });
    await page.locator('[data-test=landing-preview][data-ready=true]').waitFor();
    await page.click('[data-test=add-date]');
    await page.locator('input[name=field_label_0]').fill('到店日期');
    const frame = page.frameLocator('[data-test=landing-preview]');
    await poll(() => labels(frame)).toEqual(['手机号*', '到店日期']);
    expect(await frame.locator('input[name=field_1]').getAttribute('type')).toBe('date');
    expect(await page.locator('[data-test=form-builder]').textContent()).toContain('落地页');
    await h.shot(page, '08-campaign-form-zh');
    expect(ok(failures)).toEqual([]);
    await close();
  }, 30_000);

  it("shows today's grants, redemptions, orders and outreach as the API counts them", async () => {
    const { campaignId, rewardId } = await codeCampaign(h.t, { campaign: { campaign_name: 'Dashboard figures' } });
    for (const user of ['u1', 'u2', 'u3']) must(await h.t.call('POST', '/v1/reward-grants', { reward_id: rewardId, user_id: user }), 201);
    const batch = must(await h.t.call('POST', `/v1/campaigns/${campaignId}/redeem-codes`, { reward_id: rewardId, code_type: 'ALPHANUM', length: 12, count: 2 }), 201).body;
    for (const [i, code] of (batch.codes as string[]).entries()) must(await h.t.call('POST', '/v1/redeem', { code, user_id: `r${i}` }), 201);
    // Two sign-ups on a referral campaign's landing page.
    const hub = must(
      await h.t.call(
        'POST',
        '/api/v1/campaigns',
        { name: 'Dashboard referral', form_fields: FORM, reward_rule: 0.1, payment: { amount: 9900, provider: 'sandbox' }, start_time: '2020-01-01T00:00:00Z', end_time: '2099-12-31T23:59:59Z' },
        { key: h.t.admin, headers: { 'x-product-code': h.t.productCode } },
      ),
      201,
    ).body;
    for (let i = 0; i < 2; i++) must(await h.a.call('POST', '/api/v1/orders', orderBody(hub.id, newPhone()), { key: null }), 201);

    const { page, failures, close } = await h.open('/dashboard');
    await page.locator('[data-loaded=true]').waitFor();
    const shown = async (test: string) => Number((await page.locator(`[data-test=${test}] .n-statistic-value__content`).textContent())?.replace(/\D/g, ''));
    // Today as the browser sees it, counted by the API.
    const day = await page.evaluate<{ from: string; to: string }>(
      '(() => { const from = new Date(); from.setHours(0, 0, 0, 0); const to = new Date(from); to.setDate(to.getDate() + 1); return { from: from.toISOString(), to: to.toISOString() }; })()',
    );
    const total = async (path: string, query: Record<string, string>) => must(await h.t.call('GET', `${path}?${new URLSearchParams({ page_size: '1', ...query })}`), 200).body.pagination.total as number;
    const window = { created_from: day.from, created_to: day.to };
    const grants = await total('/v1/reward-grants', window);
    const redemptions = await total('/v1/redemptions', window);
    expect(grants).toBeGreaterThanOrEqual(5); // three granted, two by the codes
    expect(redemptions).toBe(2);
    expect(await shown('grants-today')).toBe(grants);
    expect(await shown('redemptions-today')).toBe(redemptions);
    expect(await total('/v1/referrals/orders', window)).toBe(2);
    expect(await shown('orders-today')).toBe(2);
    expect(await shown('sends-today')).toBe(await total('/v1/outreach/records', { from: day.from, to: day.to }));
    expect(await shown('outreach-failed')).toBe(await total('/v1/outreach/records', { from: day.from, to: day.to, status: 'failed' }));
    expect(await shown('codes-total')).toBe(await total('/v1/redeem-codes', {}));
    await page.locator('[data-test=trends] canvas').waitFor();
    await h.shot(page, '07-dashboard');
    expect(ok(failures)).toEqual([]);
    await close();
  }, 60_000);
});
