/**
 * The commerce pages in Chromium against the real API: coupon templates (list, filters, paging,
 * a create refused then saved, edit, stats, issue, disable) and a user's coupons (void); promotions
 * (list, create refused then saved, end); group-buy activities (create refused then saved, groups
 * and members, end); the quote simulator (one promotion applied, another refused with its reason).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ConsoleHarness, describeConsole, startConsole } from '../helpers/console-browser.js';

const HOUR = 3_600_000;
const at = (offset: number) => new Date(Date.now() + offset).toISOString();

describeConsole('the commerce pages in Chromium', () => {
  let h: ConsoleHarness;
  beforeAll(async () => {
    h = await startConsole('commerce');
  }, 300_000);
  afterAll(async () => h?.close());

  const post = async (url: string, body: unknown) => {
    const reply = await h.t.call('POST', url, body, { key: h.t.admin });
    expect(reply.status, JSON.stringify(reply.body)).toBeLessThan(300);
    return reply.body;
  };
  const rows = (page: Page, table: string) => page.locator(`[data-test="${table}"] .n-data-table-tbody .n-data-table-tr`);
  const confirm = (page: Page) => page.locator('.n-popconfirm__action .n-button--primary-type').click();
  /** A screenshot once every spinner has gone (loading overlays fade out). */
  const shot = async (page: Page, name: string) => {
    await expect.poll(() => page.locator('.n-spin-body, .n-data-table-loading-wrapper').count(), { timeout: 10_000 }).toBe(0);
    await h.shot(page, name);
  };
  const unexpected = (failures: string[]) => failures.filter((f) => !/status of (401|403|404|409|422|400)/.test(f));

  it('coupon templates: filter and page the list, a create refused then saved, edit, stats, issue, void in the wallet, disable', async () => {
    await Promise.all(Array.from({ length: 21 }, (_, i) => post('/v1/coupons/templates', { name: `Seed ${i}`, coupon_type: 'discount', value: 100 + i })));
    await Promise.all(Array.from({ length: 2 }, (_, i) => post('/v1/coupons/templates', { name: `Ship ${i}`, coupon_type: 'shipping', value: 0 })));
    const { page, failures, close } = await h.open('/commerce/coupons');
    await expect.poll(() => rows(page, 'template-table').count()).toBe(20);
    await page.locator('[data-test="template-table"] .n-pagination-item', { hasText: /^2$/ }).click();
    await expect.poll(() => rows(page, 'template-table').count()).toBe(3);
    await h.choose(page, 'filter-type', 'Shipping');
    await expect.poll(() => rows(page, 'template-table').count()).toBe(2);
    await expect.poll(() => rows(page, 'template-table').first().textContent()).toContain('Free shipping');
    await shot(page, '01-coupon-templates');

    // A percent above 100 is the API's to refuse: its message shows, then a valid one saves.
    await page.locator('[data-test=new-template]').click();
    await page.waitForURL(/\/commerce\/coupons\/new$/);
    await page.locator('input[name=name]').fill('15% off over 100');
    await h.choose(page, 'discount-kind', 'Percent off');
    await page.locator('input[name=percent_off]').fill('150');
    await page.locator('input[name=min_amount]').fill('100');
    await page.locator('input[name=usage_limit]').fill('50');
    await page.locator('input[name=per_user_limit]').fill('2');
    await page.locator('[data-test=save]').click();
    await expect.poll(() => page.locator('[data-test=error]').textContent()).toMatch(/percent discount is 1\.\.100.*invalid_request/);
    await shot(page, '02-coupon-create-refused');
    await page.locator('input[name=percent_off]').fill('15');
    await page.locator('[data-test=save]').click();
    await page.waitForURL(/\/commerce\/coupons\/ctp|\/commerce\/coupons\/[^/]+$/);
    await expect.poll(() => page.locator('[data-test=template-status]').textContent()).toContain('Active');
    await expect.poll(() => page.locator('.n-card').first().textContent()).toContain('15% off');
    await expect.poll(() => page.locator('.n-card').first().textContent()).toContain('100.00');
    // Edit while nothing is claimed: the form comes back filled; the change saves.
    await page.locator('[data-test=edit]').click();
    await page.waitForURL(/\/edit$/);
    await expect.poll(() => page.locator('input[name=percent_off]').inputValue()).toBe('15');
    await page.locator('input[name=name]').fill('15% off over 100, spring');
    await page.locator('[data-test=save]').click();
    await page.waitForURL(/\/commerce\/coupons\/[^/]+$/);
    await expect.poll(() => page.locator('.n-card-header').first().textContent()).toContain('spring');

    // Issue to a user: the code shows, the stats count it.
    await page.locator('input[name=issue_user]').fill('alice');
    await page.locator('[data-test=issue]').click();
    await expect.poll(() => page.locator('[data-test=issued]').textContent()).toContain('alice');
    await expect.poll(() => page.locator('[data-test=stat-claimed]').textContent()).toContain('1');
    await shot(page, '03-coupon-detail');

    // The user's coupons: void the one issued.
    await page.locator('[data-test=issued-wallet]').click();
    await page.waitForURL(/\/commerce\/coupons\/wallet\?user_id=alice/);
    await expect.poll(() => rows(page, 'wallet-table').count()).toBe(1);
    await page.locator('[data-test^=void-]').click();
    await confirm(page);
    await expect.poll(() => rows(page, 'wallet-table').first().textContent()).toContain('Voided');
    await shot(page, '04-user-coupons');

    // Back to the template: disable it.
    await page.goBack();
    await page.waitForURL(/\/commerce\/coupons\/[^/]+$/);
    await expect.poll(() => page.locator('[data-test=stat-voided]').textContent()).toContain('1');
    await page.locator('[data-test=disable]').click();
    await confirm(page);
    await expect.poll(() => page.locator('[data-test=template-status]').textContent()).toContain('Disabled');
    expect(unexpected(failures)).toEqual([]);
    await close();

    // A viewer on a tablet reads the list but is offered no write; the page does not overflow.
    const viewer = await h.open('/commerce/coupons', { as: 'viewer' });
    await viewer.page.setViewportSize({ width: 768, height: 1024 });
    await expect.poll(() => rows(viewer.page, 'template-table').count()).toBe(20);
    expect(await viewer.page.locator('[data-test=new-template]').count()).toBe(0);
    expect(await viewer.page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')).toBeLessThanOrEqual(0);
    await shot(viewer.page, '01b-coupon-templates-tablet');
    await viewer.close();
  }, 60_000);

  it('promotions: filter and page the list, a create refused then saved, detail, edit, end; a flash sale', async () => {
    const window = { start_time: at(24 * HOUR), end_time: at(48 * HOUR) };
    await Promise.all([
      ...Array.from({ length: 21 }, (_, i) =>
        post('/v1/promotions', { name: `Spend ${i}`, promotion_type: 'bulk_discount', ...window, bulk_discount: { tiers: [{ threshold: 10_000 + i, off: 1000 }] } }),
      ),
      ...Array.from({ length: 2 }, (_, i) => post('/v1/promotions', { name: `Gift ${i}`, promotion_type: 'gift', ...window, gift: { min_amount: 5000, gift_item_id: 'mug', gift_stock: 10 } })),
    ]);
    const { page, failures, close } = await h.open('/commerce/promotions');
    await expect.poll(() => rows(page, 'promotion-table').count()).toBe(20);
    await page.locator('[data-test="promotion-table"] .n-pagination-item', { hasText: /^2$/ }).click();
    await expect.poll(() => rows(page, 'promotion-table').count()).toBe(3);
    await h.choose(page, 'filter-type', 'Free gift');
    await expect.poll(() => rows(page, 'promotion-table').count()).toBe(2);
    await expect.poll(() => rows(page, 'promotion-table').first().textContent()).toContain('Scheduled');
    await h.choose(page, 'filter-status', 'Ended');
    await expect.poll(() => page.locator('[data-test=promotion-table]').textContent()).toContain('Nothing here yet');
    await h.choose(page, 'filter-status', 'Scheduled');
    await expect.poll(() => rows(page, 'promotion-table').count()).toBe(2);
    await shot(page, '05-promotions');

    // Saving 150 on a 100 threshold is the API's to refuse.
    await page.locator('[data-test=new-promotion]').click();
    await page.waitForURL(/\/commerce\/promotions\/new$/);
    await page.locator('input[name=name]').fill('Spend 100 save 15');
    await page.locator('input[name=tier_threshold_0]').fill('100');
    await page.locator('input[name=tier_off_0]').fill('150');
    await page.locator('[data-test=save]').click();
    await expect.poll(() => page.locator('[data-test=error]').textContent()).toMatch(/bulk_discount\.tiers\.0\.off.*invalid_request/);
    await shot(page, '06-promotion-create-refused');
    await page.locator('input[name=tier_off_0]').fill('15');
    await page.locator('[data-test=save]').click();
    await page.waitForURL(/\/commerce\/promotions\/prm/);
    await expect.poll(() => page.locator('[data-test=promotion-status]').textContent()).toContain('Scheduled');
    await expect.poll(() => page.locator('[data-test=rule]').textContent()).toContain('Spend 100.00, save 15.00');
    await page.locator('[data-test=edit]').click();
    await page.waitForURL(/\/edit$/);
    await expect.poll(() => page.locator('input[name=tier_off_0]').inputValue()).toBe('15.00');
    await page.locator('input[name=tier_off_0]').fill('20');
    await page.locator('[data-test=save]').click();
    await page.waitForURL(/\/commerce\/promotions\/prm[^/]+$/);
    await expect.poll(() => page.locator('[data-test=rule]').textContent()).toContain('Spend 100.00, save 20.00');
    await shot(page, '07-promotion-detail');
    await page.locator('[data-test=end]').click();
    await confirm(page);
    await expect.poll(() => page.locator('[data-test=promotion-status]').textContent()).toContain('Ended');

    // A flash sale: an item at a sale price with its stock; the detail shows the stock row.
    await page.goto(`${h.base}/admin/commerce/promotions/new`);
    await page.locator('input[name=name]').fill('Tea flash sale');
    await h.choose(page, 'promotion-type', 'Flash sale');
    await page.locator('input[name=flash_item_0]').fill('tea');
    await page.locator('input[name=flash_price_0]').fill('9.9');
    await page.locator('input[name=flash_stock_0]').fill('100');
    await page.locator('[data-test=save]').click();
    await page.waitForURL(/\/commerce\/promotions\/prm[^/]+$/);
    await expect.poll(() => page.locator('[data-test=rule]').textContent()).toContain('tea: 9.90');
    await expect.poll(() => rows(page, 'stock-table').first().textContent()).toContain('100');
    expect(unexpected(failures)).toEqual([]);
    await close();
  }, 60_000);

  it('group-buys: filter and page the list, a create refused then saved, edit, groups and members, stats, end', async () => {
    const live = await post('/v1/group-buys/activities', {
      name: 'Tea for three',
      item_id: 'tea',
      group_price: 5900,
      original_price: 9900,
      group_size: 3,
      start_time: at(-60_000),
      end_time: at(24 * HOUR),
    });
    await Promise.all(
      Array.from({ length: 21 }, (_, i) =>
        post('/v1/group-buys/activities', { name: `Later ${i}`, item_id: `item-${i}`, group_price: 100, original_price: 200, group_size: 2, start_time: at(24 * HOUR), end_time: at(48 * HOUR) }),
      ),
    );
    const group = await post(`/v1/group-buys/activities/${live.activity_id}/groups`, { user_id: 'leader-1' });
    await post(`/v1/group-buys/groups/${group.group_id}/join`, { user_id: 'member-2' });
    await post(`/v1/group-buys/activities/${live.activity_id}/groups`, { user_id: 'leader-3' });

    const { page, failures, close } = await h.open('/commerce/group-buys');
    await expect.poll(() => rows(page, 'activity-table').count()).toBe(20);
    await page.locator('[data-test="activity-table"] .n-pagination-item', { hasText: /^2$/ }).click();
    await expect.poll(() => rows(page, 'activity-table').count()).toBe(2);
    await h.choose(page, 'filter-status', 'Running');
    await expect.poll(() => rows(page, 'activity-table').count()).toBe(1);
    await expect.poll(() => rows(page, 'activity-table').first().textContent()).toContain('59.00 / 99.00');
    await shot(page, '08-group-buys');

    // A group of 50 is above the configured maximum: the API says so.
    await page.locator('[data-test=new-activity]').click();
    await page.waitForURL(/\/commerce\/group-buys\/new$/);
    await page.locator('input[name=name]').fill('Duo coffee');
    await page.locator('input[name=item_id]').fill('coffee');
    await page.locator('input[name=group_price]').fill('19.9');
    await page.locator('input[name=original_price]').fill('29.9');
    await page.locator('input[name=group_size]').fill('50');
    await page.locator('[data-test=save]').click();
    await expect.poll(() => page.locator('[data-test=error]').textContent()).toMatch(/group_size_too_large/);
    await shot(page, '09-group-buy-create-refused');
    await page.locator('input[name=group_size]').fill('2');
    await page.locator('[data-test=save]').click();
    await page.waitForURL(/\/commerce\/group-buys\/gba/);
    await expect.poll(() => page.locator('[data-test=activity-status]').textContent()).toContain('Scheduled');
    await expect.poll(() => page.locator('.n-card').first().textContent()).toContain('19.90');
    await page.locator('[data-test=edit]').click();
    await page.waitForURL(/\/edit$/);
    await expect.poll(() => page.locator('input[name=item_id]').inputValue()).toBe('coffee');
    await page.locator('input[name=name]').fill('Duo coffee, weekend');
    await page.locator('[data-test=save]').click();
    await page.waitForURL(/\/commerce\/group-buys\/gba[^/]+$/);
    await expect.poll(() => page.locator('.n-card-header').first().textContent()).toContain('weekend');

    // The running activity: its groups, a group's members, its figures; then end it.
    await page.goto(`${h.base}/admin/commerce/group-buys/${live.activity_id}`);
    await expect.poll(() => rows(page, 'group-table').count()).toBe(2);
    await expect.poll(() => page.locator('[data-test=stat-opened]').textContent()).toContain('2');
    await page.locator('[data-test=group-leader-1]').click();
    await expect.poll(() => rows(page, 'member-table').count()).toBe(2);
    await expect.poll(() => page.locator('[data-test=member-table]').textContent()).toContain('member-2');
    await shot(page, '10-group-buy-members');
    await page.locator('.n-drawer .n-base-close').click();
    await h.choose(page, 'group-status', 'Open');
    await expect.poll(() => rows(page, 'group-table').count()).toBe(2);
    await page.locator('[data-test=end]').click();
    await confirm(page);
    await expect.poll(() => page.locator('[data-test=activity-status]').textContent()).toContain('Ended');
    await shot(page, '11-group-buy-detail');
    expect(unexpected(failures)).toEqual([]);
    await close();
  }, 60_000);

  it('quote simulator: one promotion and a coupon apply, another promotion is refused with its reason', async () => {
    const window = { start_time: at(-60_000), end_time: at(24 * HOUR) };
    await post('/v1/promotions', { name: '200 off 20', promotion_type: 'bulk_discount', ...window, bulk_discount: { tiers: [{ threshold: 20_000, off: 2000 }] } });
    await post('/v1/promotions', { name: 'Mug over 1000', promotion_type: 'gift', ...window, gift: { min_amount: 100_000, gift_item_id: 'mug', gift_stock: 10 } });
    const tpl = await post('/v1/coupons/templates', { name: '10 off 150', coupon_type: 'discount', value: 1000, min_amount: 15_000 });
    const coupon = await post(`/v1/coupons/templates/${tpl.template_id}/issue`, { user_id: 'bob' });

    const { page, failures, close } = await h.open('/commerce/quote', { viewport: { width: 1280, height: 1500 } });
    await page.locator('input[name=quote_user]').fill('bob');
    await page.locator('input[name=item_0]').fill('sku-1');
    await page.locator('input[name=price_0]').fill('150');
    await page.locator('[data-test=add-line]').click();
    await page.locator('input[name=item_1]').fill('sku-2');
    await page.locator('input[name=category_1]').fill('books');
    await page.locator('input[name=price_1]').fill('80');
    await h.choose(page, 'quote-codes', coupon.code);
    await page.locator('[data-test=run-quote]').click();
    await expect.poll(() => page.locator('[data-test=quote-total]').textContent()).toContain('200.00');
    await expect.poll(() => page.locator('[data-test=quote-discount]').textContent()).toContain('-30.00');
    await expect.poll(() => rows(page, 'applied-table').count()).toBe(2);
    await expect.poll(() => page.locator('[data-test=applied-table]').textContent()).toContain('200 off 20');
    await expect.poll(() => page.locator('[data-test=applied-table]').textContent()).toContain(coupon.code);
    const refused = rows(page, 'not-applied-table').filter({ hasText: 'Mug over 1000' });
    await expect.poll(() => refused.textContent()).toContain('Threshold not reached');
    await expect.poll(() => refused.textContent()).toContain('below_threshold');
    await shot(page, '12-quote-simulator');

    // In Chinese, the reason and the API's message come in Chinese.
    await h.choose(page, 'language', '中文');
    await page.locator('[data-test=run-quote]').click();
    await expect.poll(() => refused.textContent()).toContain('未达到活动门槛');
    await expect.poll(() => refused.textContent()).toContain('未达活动门槛');
    expect(unexpected(failures)).toEqual([]);
    await close();
  }, 60_000);
});
