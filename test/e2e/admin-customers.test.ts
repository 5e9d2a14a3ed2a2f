import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ConsoleHarness, describeConsole, startConsole } from '../helpers/console-browser.js';
import { must } from '../helpers/test-app.js';

/** The rows a Naive UI table shows (its empty row excluded). */
const rows = (page: Page, table: string) => page.locator(`[data-test="${table}"] tbody tr:not(.n-data-table-tr--empty)`);
const tolerated = (failures: string[]) => failures.filter((f) => !/status of (401|403|404|409|422|400)/.test(f));

/** The number a statistic at data-test `name` shows last ('—' or null when none). */
const shown = async (page: Page, name: string) => (await page.locator(`[data-test="${name}"]`).textContent())?.match(/([\d,]+|—)\s*$/)?.[1] ?? null;

/** Picks an option of the Naive UI select at `selector`. */
async function choose(page: Page, selector: string, option: string | RegExp) {
  await page.locator(selector).click();
  await page.locator('.n-base-select-option', { hasText: option }).first().click();
}

describeConsole('the customers and audiences pages in Chromium', () => {
  let h: ConsoleHarness;

  beforeAll(async () => {
    h = await startConsole('customers');
    // 25 profiles: c-01 .. c-25, the odd ones tagged vip, age = the number.
    const lines = Array.from({ length: 25 }, (_, i) => {
      const n = i + 1;
      const id = `c-${String(n).padStart(2, '0')}`;
      return JSON.stringify({ user_id: id, tags: n % 2 ? ['vip'] : ['new'], attributes: { age: n, phone: `139000000${String(n).padStart(2, '0')}`, email: `${id}@example.com` } });
    });
    const seeded = must(await h.t.call('POST', '/v1/customers/import', undefined, { payload: lines.join('\n'), headers: { 'content-type': 'application/x-ndjson' } }), 200).body;
    expect(seeded.imported).toBe(25);
  }, 300_000);
  afterAll(async () => h?.close());

  it('customers: searches and pages, opens a profile and edits its tags; a viewer only reads', async () => {
    const { page, failures, close } = await h.open('/customers');
    await expect.poll(() => rows(page, 'customer-table').count()).toBe(20);
    await page.locator('[data-test="customer-table"] .n-pagination-item', { hasText: /^2$/ }).click();
    await expect.poll(() => rows(page, 'customer-table').count()).toBe(5);
    await page.locator('[data-test=filter-tag] input').fill('vip');
    await page.locator('[data-test=search]').click();
    await expect.poll(() => rows(page, 'customer-table').count()).toBe(13);
    await page.locator('[data-test=filter-phone] input').fill('13900000007');
    await page.locator('[data-test=search]').click();
    await expect.poll(() => rows(page, 'customer-table').count()).toBe(1);
    await page.locator('[data-test=filter-phone] input').fill('');
    await page.locator('[data-test=filter-tag] input').fill('');
    await page.locator('[data-test=filter-user] input').fill('c-1');
    await page.locator('[data-test=search]').click();
    await expect.poll(() => rows(page, 'customer-table').count()).toBe(10);
    await h.shot(page, '01-customers');

    await rows(page, 'customer-table').locator('a', { hasText: 'c-14' }).click();
    await page.locator('[data-test=tags]').waitFor();
    await expect.poll(() => page.locator('[data-test=attributes]').textContent()).toContain('c-14@example.com');
    await page.locator('[data-test=new-tag] input').fill('gold');
    await page.locator('[data-test=add-tag]').click();
    await page.locator('[data-test="tag-gold"]').waitFor();
    await page.locator('[data-test="tag-new"] .n-base-close').click();
    await expect.poll(() => page.locator('[data-test="tag-new"]').count()).toBe(0);
    expect(must(await h.t.call('GET', '/v1/customers/c-14'), 200).body.tags).toEqual(['gold']);
    await h.shot(page, '02-customer-detail');
    expect(tolerated(failures)).toEqual([]);
    await close();

    const viewer = await h.open('/customers/c-14', { as: 'viewer' });
    await viewer.page.locator('[data-test="tag-gold"]').waitFor();
    expect(await viewer.page.locator('[data-test=new-tag]').count()).toBe(0);
    expect(await viewer.page.locator('[data-test="tag-gold"] .n-base-close').count()).toBe(0);
    await viewer.close();
  });

  it('customers: imports a CSV file chosen in the browser; a bad row is listed and the good rows land', async () => {
    const { page, failures, close } = await h.open('/customers/import');
    const good = Array.from({ length: 3000 }, (_, i) => `imp-${String(i).padStart(4, '0')},imported,${20 + (i % 50)}`);
    good.splice(1500, 0, 'imp-bad,imported,forty');
    const csv = ['user_id,tags,age:number', ...good].join('\n');
    await page.locator('[data-test=import-file]').setInputFiles({ name: 'customers.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await expect.poll(() => page.locator('[data-test=file-name]').textContent()).toContain('customers.csv');
    // The upload slowed to 40 KB/s: the progress shows part of the file sent while it goes up.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 40 * 1024 });
    await page.locator('[data-test=import-start]').click();
    await expect.poll(() => page.locator('[data-test=import-progress]').textContent(), { timeout: 10_000 }).toMatch(/Sending and importing: ([1-9]|[1-9]\d)%/);
    await h.shot(page, '03-customer-import-progress');
    await page.locator('[data-test=import-summary]').waitFor({ timeout: 30_000 });
    await expect.poll(() => shown(page, 'imported')).toMatch(/^3,?000$/);
    await expect.poll(() => shown(page, 'failed')).toBe('1');
    const error = rows(page, 'import-errors');
    await expect.poll(() => error.count()).toBe(1);
    // Line 1 is the header: the 1,501st data row is line 1502.
    expect(await error.first().textContent()).toMatch(/1502.*attributes\.age.*not a number/);
    await h.shot(page, '04-customer-import');
    const landed = must(await h.t.call('GET', '/v1/customers', undefined, { query: { user_id: 'imp-', page_size: '1' } }), 200).body;
    expect(landed.pagination.total).toBe(3000);
    expect((await h.t.call('GET', '/v1/customers/imp-bad')).status).toBe(404);
    expect(tolerated(failures)).toEqual([]);
    await close();
  });

  it('audiences: a rule built in the builder shows a live count equal to the API and a preview, an API validation error, then saves', async () => {
    const { page, failures, close } = await h.open('/audiences/new');
    await page.locator('[data-test=audience-name] input').fill('Older VIPs');
    // Condition 1: tag contains vip (13 of the seeded profiles: the odd ones).
    await page.locator('[data-test="rule-0"] [data-test=value] input').fill('vip');
    await expect.poll(() => shown(page, 'live-count')).toBe('13');
    // Condition 2: attributes.age >= 10, as a number: 8 left (11, 13, ..., 25).
    await page.locator('[data-test=rule-root] > .toolbar [data-test=add-cond]').last().click();
    await choose(page, '[data-test="rule-1"] [data-test=field]', 'Attribute');
    await page.locator('[data-test="rule-1"] [data-test=key] input').fill('age');
    await choose(page, '[data-test="rule-1"] [data-test=op]', '≥');
    await choose(page, '[data-test="rule-1"] [data-test=kind]', 'number');
    await page.locator('[data-test="rule-1"] [data-test=value] input').fill('10');
    await expect.poll(() => shown(page, 'live-count')).toBe('8');
    await expect.poll(() => rows(page, 'live-preview').count()).toBe(8);
    expect(await rows(page, 'live-preview').first().textContent()).toContain('c-11');
    const rule = {
      and: [
        { field: 'tags', op: 'contains', value: 'vip' },
        { field: 'attributes.age', op: 'gte', value: 10 },
      ],
    };
    expect(must(await h.t.call('POST', '/v1/audiences/preview', { audience_type: 'SEGMENT', rule }), 200).body.count).toBe(8);

    // The API's validation: a between with its bounds the wrong way round, named by its node.
    await choose(page, '[data-test="rule-1"] [data-test=op]', 'between');
    await page.locator('[data-test="rule-1"] [data-test=value] input').fill('30');
    await page.locator('[data-test="rule-1"] [data-test=value2] input').fill('10');
    await expect.poll(() => page.locator('[data-test=rule-error]').textContent()).toContain('rule.and[1].value: low must not be above high');
    await page.locator('[data-test=save]').click();
    await expect.poll(() => page.locator('[data-test=error]').textContent()).toContain('invalid_rule');
    await h.shot(page, '05-audience-rule-error');
    await choose(page, '[data-test="rule-1"] [data-test=op]', '≥');
    await page.locator('[data-test="rule-1"] [data-test=value] input').fill('10');
    await expect.poll(() => shown(page, 'live-count')).toBe('8');
    await page.locator('[data-test=save]').click();
    await page.waitForURL(/\/admin\/audiences\/aud_/);
    const id = page.url().split('/').pop()!;
    const saved = must(await h.t.call('GET', `/v1/audiences/${id}`), 200).body;
    expect(saved).toMatchObject({ audience_name: 'Older VIPs', audience_type: 'SEGMENT', rule });
    const count = must(await h.t.call('GET', `/v1/audiences/${id}/count`), 200).body.count;
    expect(count).toBe(8);
    await expect.poll(() => shown(page, 'saved-count')).toBe('8');
    await expect.poll(() => rows(page, 'saved-preview').count()).toBe(8);
    await h.shot(page, '06-audience-saved');

    // A TAG audience: the live count follows the tag sets.
    await page.goto(`${h.base}/admin/audiences/new`);
    await page.locator('[data-test=type-TAG]').click();
    await page.locator('[data-test=tags-any]').click();
    await page.keyboard.type('new');
    await page.keyboard.press('Enter');
    // The even ones (12, or 11 once the first test took the tag off c-14): as the API counts them.
    const tagged = must(await h.t.call('POST', '/v1/audiences/preview', { audience_type: 'TAG', rule: { tags_any: ['new'] }, page_size: 0 }), 200).body.count;
    expect(tagged).toBeGreaterThanOrEqual(11);
    await expect.poll(() => shown(page, 'live-count')).toBe(String(tagged));
    expect(tolerated(failures)).toEqual([]);
    await close();

    // On a tablet, in Chinese: the saved audience's page does not overflow sideways.
    const tablet = await h.open(`/audiences/${id}`, { locale: 'zh-CN' });
    await tablet.page.setViewportSize({ width: 768, height: 1024 });
    await expect.poll(() => shown(tablet.page, 'saved-count')).toBe('8');
    expect(await tablet.page.locator('[data-test=rule-root]').textContent()).toContain('满足全部');
    expect(await tablet.page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(768);
    await h.shot(tablet.page, '09-audience-tablet-zh');
    await tablet.close();
  });

  it('audiences: lists and pages, a LIST audience takes members typed and from a file with a bad row', async () => {
    for (let i = 0; i < 21; i++) {
      must(await h.t.call('POST', '/v1/audiences', { audience_name: `Seeded ${i}`, audience_type: 'LIST', product_code: h.t.productCode }), 201);
    }
    const { page, failures, close } = await h.open('/audiences');
    await expect.poll(() => rows(page, 'audience-table').count()).toBe(20);
    await page.locator('[data-test="audience-table"] .n-pagination-item', { hasText: /^2$/ }).click();
    await expect.poll(() => rows(page, 'audience-table').count()).toBeGreaterThan(0);
    await page.locator('[data-test=filter-name] input').fill('Seeded 2');
    await page.locator('[data-test=search]').click();
    await expect.poll(() => rows(page, 'audience-table').count()).toBe(2);
    await h.shot(page, '07-audiences');

    await rows(page, 'audience-table').locator('a', { hasText: 'Seeded 20' }).click();
    await page.locator('[data-test=list-members]').waitFor();
    await page.locator('[data-test=member-ids] textarea').fill('c-01, c-02\nc-03');
    await page.locator('[data-test=add-members]').click();
    await expect.poll(() => page.locator('[data-test=member-ids] textarea').inputValue()).toBe('');
    expect(must(await h.t.call('GET', `/v1/audiences/${page.url().split('/').pop()}/count`), 200).body.count).toBe(3);
    await expect.poll(() => shown(page, 'saved-count')).toBe('3');
    const file = ['user_id', 'c-04', '', 'c-05', `${'x'.repeat(200)}`].join('\n');
    await page.locator('[data-test=members-file]').setInputFiles({ name: 'ids.csv', mimeType: 'text/csv', buffer: Buffer.from(file) });
    await page.locator('[data-test=members-report]').waitFor();
    await expect.poll(() => rows(page, 'members-errors').count()).toBeGreaterThan(0);
    expect(await page.locator('[data-test=members-errors]').textContent()).toMatch(/invalid_user_id|missing_user_id/);
    await expect.poll(() => shown(page, 'saved-count')).toBe('5');
    await page.locator('[data-test=check-user] input').fill('c-05');
    await page.locator('[data-test=check-member]').click();
    await expect.poll(() => page.locator('[data-test=membership]').textContent()).toContain('In the audience');
    await h.shot(page, '08-audience-list-members');
    expect(tolerated(failures)).toEqual([]);
    await close();
  });
});
