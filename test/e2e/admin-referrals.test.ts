/**
 * The referral hub's console pages in Chromium, against data built through the API the way
 * docs/referrals.md "Try it" does: a sign-up form, 10% of each paid order to the referrer, the
 * sandbox provider; a referrer signs up and pays, then friends through the share link (u_id = the
 * referrer's order id) from two channels, some of them paying.
 */
import { sql } from 'kysely';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateSandboxKeys } from '../../src/modules/payments/index.js';
import { type ConsoleHarness, describeConsole, startConsole } from '../helpers/console-browser.js';
import { must } from '../helpers/test-app.js';

const rows = (page: Page, table: string) => page.locator(`[data-test="${table}"] .n-data-table-tbody .n-data-table-tr:not(.n-data-table-tr--empty)`);
/** expect.poll with room for a page's first load (vitest's default is one second). */
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 15_000 });
const ignorable = (failures: string[]) => failures.filter((f) => !/status of (401|403|404|409|422|400)/.test(f));

const FORM = {
  type: 'object',
  required: ['name', 'phone'],
  properties: { name: { type: 'string', title: '姓名' }, phone: { type: 'string', title: '手机号' } },
};
const REFERRER = '13800000001';
const FRIENDS = 24; // with the referrer: 25 orders, two pages of 20
const PAID_FRIENDS = 12;

describeConsole('the referral hub pages in Chromium', () => {
  let h: ConsoleHarness;
  let campaignId: string;
  let referrerOrder: string;
  const friends: { order_id: string; phone: string; channel: string; paid: boolean }[] = [];
  let failedOrder: string;

  beforeAll(async () => {
    h = await startConsole('referrals');
    const { t } = h;
    const admin = { key: t.admin };
    // A sync target the records go to (a closed port: its deliveries fail, which the sync page shows).
    const target = { name: 'crm', type: 'postgresql', host: '127.0.0.1', port: 9, user: 'crm', password: 'secret-pw', database: 'crm', mappings: { order: { table: 'dmh_orders', key_column: 'order_key', fields: { 'orders.phone': 'phone' } } } };
    must(await t.call('POST', '/v1/sync/targets', target, admin), 201);
    // "Try it": the campaign, its referral settings (10%, sandbox), published.
    const start = new Date(Date.now() - 3_600_000).toISOString();
    const end = new Date(Date.now() + 30 * 86_400_000).toISOString();
    campaignId = must(
      await t.call('POST', '/v1/campaigns', { product_code: t.productCode, campaign_name: '暑期班报名', campaign_type: 'PROMOTION', start_time: start, end_time: end, form_fields: FORM }, admin),
      201,
    ).body.campaign_id;
    must(await t.call('PUT', `/v1/campaigns/${campaignId}/referral`, { reward_rule: { type: 'percent', percent: 10 }, payment: { amount: 9900, currency: 'CNY', provider: 'sandbox' } }, admin), 200);
    must(await t.call('POST', `/v1/campaigns/${campaignId}/publish`, undefined, admin), 200);
    // The page's own keyless calls: views, sign-ups, sandbox payments.
    const keyless = { key: null };
    for (let i = 0; i < 40; i++) await t.call('POST', `/api/v1/campaigns/${campaignId}/views`, { c_id: i < 25 ? 'wx' : 'poster' }, keyless);
    const signup = async (phone: string, name: string, extra: Record<string, string>) =>
      must(await t.call('POST', '/api/v1/orders', { campaign_id: campaignId, phone, form_data: { name, phone }, ...extra }, keyless), 201).body.order_id as string;
    referrerOrder = await signup(REFERRER, '王一', { c_id: 'wx' });
    expect(must(await t.call('POST', `/api/v1/orders/${referrerOrder}/sandbox-pay`, undefined, keyless), 200).body.status).toBe('paid');
    for (let i = 0; i < FRIENDS; i++) {
      const phone = `1390000${String(i).padStart(4, '0')}`;
      const channel = i % 3 === 0 ? 'poster' : 'wx';
      const orderId = await signup(phone, `朋友${i}`, { u_id: referrerOrder, c_id: channel });
      const paid = i < PAID_FRIENDS;
      if (paid) must(await t.call('POST', `/api/v1/orders/${orderId}/sandbox-pay`, undefined, keyless), 200);
      friends.push({ order_id: orderId, phone, channel, paid });
    }
    expect(must(await t.call('GET', `/api/v1/rewards/balance/${REFERRER}`), 200).body).toMatchObject({ balance: 990 * PAID_FRIENDS });
    // Two withdrawals of the referrer to decide.
    must(await t.call('POST', '/v1/referrals/withdrawals', { user_id: REFERRER, amount: 1000, account: '招商银行 6225 **** 1234' }), 201);
    must(await t.call('POST', '/v1/referrals/withdrawals', { user_id: REFERRER, amount: 500, account: 'wx: wangyi' }), 201);
    // One order's sync record as its delivery leaves it once the queue gives up (the target refused it).
    failedOrder = friends[1]!.order_id;
    await sql`update sync_record set status = 'failed', attempts = 5, last_error = 'connect ECONNREFUSED 127.0.0.1:9', last_attempt_at = now()
      where tenant_id = ${t.tenantId} and order_id = ${failedOrder} and kind = 'order'`.execute(h.a.database.db);
    // The tenant's WeChat Pay merchant (the payments page shows it to admins, never its secrets).
    const keys = generateSandboxKeys();
    must(
      await t.call(
        'PUT',
        '/v1/payments/wechat-pay',
        { mchid: keys.mchid, appid: keys.appid, serial_no: keys.merchant.serial_no, private_key_pem: keys.merchant.private_key_pem, apiv3_key: keys.apiv3_key, platform_certificates: [{ serial_no: keys.platform.serial_no, public_key_pem: keys.platform.public_key_pem }] },
        admin,
      ),
      200,
    );
  }, 300_000);
  afterAll(async () => h?.close());

  it('orders: list, paging, filters (status, channel, referrer), an order in full, a refund', async () => {
    const { page, failures, close } = await h.open('/referrals/orders');
    await poll(() => rows(page, 'order-table').count()).toBe(20);
    await h.shot(page, '01-orders');
    // On a tablet the table scrolls inside itself: the page does not overflow.
    await page.setViewportSize({ width: 768, height: 1024 });
    await poll(() => page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await h.shot(page, '01b-orders-tablet');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.locator('[data-test="order-table"] .n-pagination-item', { hasText: /^2$/ }).click();
    await poll(() => rows(page, 'order-table').count()).toBe(FRIENDS + 1 - 20);

    await h.choose(page, 'filter-status', 'Pending');
    await poll(() => rows(page, 'order-table').count()).toBe(FRIENDS - PAID_FRIENDS);
    await page.locator('[data-test="filter-channel"] input').fill('poster');
    await page.locator('[data-test="search"]').click();
    const pendingPoster = friends.filter((f) => !f.paid && f.channel === 'poster').length;
    await poll(() => rows(page, 'order-table').count()).toBe(pendingPoster);
    await expect(rows(page, 'order-table').first().innerText()).resolves.toContain('poster');
    // The referrer filter: the phone the share link resolved to.
    await page.goto(`${h.base}/admin/referrals/orders?referrer_id=${REFERRER}`);
    await poll(() => rows(page, 'order-table').count()).toBe(20);
    await expect(page.locator('[data-test="filter-referrer"] input').inputValue()).resolves.toBe(REFERRER);
    await page.locator('[data-test="order-table"] .n-pagination-item', { hasText: /^2$/ }).click();
    await poll(() => rows(page, 'order-table').count()).toBe(FRIENDS - 20);

    // One paid friend's order: payment, attribution, the referrer's reward, sync; then refunded.
    const friend = friends[0]!;
    await page.goto(`${h.base}/admin/referrals/orders/${friend.order_id}`);
    await poll(() => page.locator('[data-test="order-status"]').innerText()).toBe('Paid');
    await expect(page.locator('[data-test="order-referrer"]').innerText()).resolves.toBe(REFERRER);
    await expect(page.locator('[data-test="order-rewards"]').innerText()).resolves.toContain('¥9.90');
    await poll(() => page.locator('[data-test="order-sync-status"]').innerText()).toMatch(/Pending|Failed|Synced/);
    await h.shot(page, '02-order-detail');
    await page.locator('[data-test="refund"]').click();
    await page.locator('[data-test="refund-reason"] textarea').fill('家长取消报名');
    await page.locator('[data-test="refund-confirm"]').click();
    await poll(() => page.locator('[data-test="order-status"]').innerText()).toBe('Refunded');
    await expect(page.locator('[data-test="order-refund"]').innerText()).resolves.toBe('Refunded');
    await expect(page.locator('[data-test="order-rewards"]').innerText()).resolves.toContain('Reversed');
    await h.shot(page, '03-order-refunded');
    expect(must(await h.t.call('GET', `/api/v1/rewards/balance/${REFERRER}`), 200).body.balance).toBe(990 * (PAID_FRIENDS - 1) - 1500);
    expect(ignorable(failures)).toEqual([]);
    await close();
  });

  it('payments: the merchant without secrets for admins, the payment records by state; rewards: a user balance and entries', async () => {
    const { page, failures, close } = await h.open('/referrals/payments');
    await poll(() => page.locator('[data-test="wechat-pay-mchid"]').innerText()).not.toBe('');
    const card = await page.locator('[data-test="wechat-pay"]').innerText();
    expect(card).not.toContain('PRIVATE KEY');
    await h.choose(page, 'filter-pay', 'Unpaid');
    await poll(() => rows(page, 'payment-table').count()).toBe(FRIENDS - PAID_FRIENDS);
    await h.choose(page, 'filter-pay', 'Paid');
    await poll(() => rows(page, 'payment-table').count()).toBe(PAID_FRIENDS); // the referrer + 12 friends - the refunded one
    await h.shot(page, '04-payments');
    // A viewer sees the records but not the merchant.
    const viewer = await h.open('/referrals/payments', { as: 'viewer' });
    await poll(() => rows(viewer.page, 'payment-table').count()).toBeGreaterThan(0);
    expect(await viewer.page.locator('[data-test="wechat-pay"]').count()).toBe(0);
    await viewer.close();

    await page.goto(`${h.base}/admin/referrals/rewards`);
    await page.locator('[data-test="reward-user"] input').fill(REFERRER);
    await page.locator('[data-test="reward-lookup"]').click();
    await poll(() => page.locator('[data-test="reward-balance"]').innerText()).toBe(`¥${((990 * (PAID_FRIENDS - 1) - 1500) / 100).toFixed(2)}`);
    await poll(() => rows(page, 'reward-table').count()).toBe(PAID_FRIENDS);
    await expect(rows(page, 'reward-table').filter({ hasText: 'Reversed' }).count()).resolves.toBe(1);
    await h.shot(page, '05-rewards');
    expect(ignorable(failures)).toEqual([]);
    await close();
  });

  it('withdrawals: approve one, reject another with a reason (an empty one refused); a viewer only reads', async () => {
    const { page, failures, close } = await h.open('/referrals/withdrawals');
    await poll(() => rows(page, 'withdrawal-table').count()).toBe(2);
    await h.shot(page, '06-withdrawals-pending');
    const viewer = await h.open('/referrals/withdrawals', { as: 'viewer' });
    await poll(() => rows(viewer.page, 'withdrawal-table').count()).toBe(2);
    expect(await viewer.page.locator('[data-test="approve"]').count()).toBe(0);
    await viewer.close();

    await rows(page, 'withdrawal-table').filter({ hasText: '¥10.00' }).locator('[data-test="approve"]').click();
    await page.locator('[data-test="decision-text"] textarea').fill('银行转账已完成');
    await page.locator('[data-test="decision-submit"]').click();
    await poll(() => rows(page, 'withdrawal-table').count()).toBe(1);
    await rows(page, 'withdrawal-table').locator('[data-test="reject"]').click();
    await page.locator('[data-test="decision-submit"]').click();
    await poll(() => page.locator('[data-test="decision-modal"] [data-test="error"]').innerText()).toContain('reason');
    await page.locator('[data-test="decision-text"] textarea').fill('账户名与实名不符');
    await page.locator('[data-test="decision-submit"]').click();
    await poll(() => rows(page, 'withdrawal-table').count()).toBe(0);
    await page.locator('[data-test="withdrawal-tabs"]').getByText('Rejected', { exact: true }).click();
    await poll(() => rows(page, 'withdrawal-table').first().innerText()).toContain('账户名与实名不符');
    await h.shot(page, '07-withdrawals-rejected');
    const listed = must(await h.t.call('GET', `/v1/referrals/withdrawals?user_id=${REFERRER}`), 200).body.withdrawals as { status: string; note: string | null; reason: string | null }[];
    expect(listed.map((w) => [w.status, w.note ?? w.reason])).toEqual([
      ['rejected', '账户名与实名不符'],
      ['approved', '银行转账已完成'],
    ]);
    expect(ignorable(failures)).toEqual([]);
    await close();
  });

  it('sync: the target and its check, the failed records, a retry', async () => {
    const { page, failures, close } = await h.open('/referrals/sync');
    await poll(() => rows(page, 'target-table').count()).toBe(1);
    await page.locator('[data-test="target-check"]').click();
    await poll(() => page.locator('[data-test="target-check-result"]').count()).toBe(1);
    await poll(() => rows(page, 'sync-record-table').filter({ hasText: failedOrder }).count()).toBe(1);
    await h.shot(page, '08-sync');
    await rows(page, 'sync-record-table').filter({ hasText: failedOrder }).locator('[data-test="record-retry"]').click();
    await poll(() => rows(page, 'sync-record-table').filter({ hasText: failedOrder }).count()).toBe(0);
    const status = must(await h.t.call('GET', `/v1/sync/status/${failedOrder}`), 200).body as { records: { status: string }[] };
    expect(status.records.map((r) => r.status).sort()).toEqual(['pending', 'skipped']);
    await page.locator('[data-test="sync-order"] input').fill(failedOrder);
    await page.locator('[data-test="sync-order-show"]').click();
    await poll(() => page.locator('[data-test="order-sync-status"]').count()).toBe(1);
    await h.shot(page, '09-sync-order');
    expect(ignorable(failures)).toEqual([]);
    await close();
  });

  it('funnel: views -> sign-ups -> paid by channel, as charts and a table (zh-CN, tablet width)', async () => {
    const funnel = must(await h.t.call('GET', `/v1/campaigns/${campaignId}/funnel`), 200).body as { views: number; orders: number; paid: number; by_channel: { c_id: string | null; views: number; orders: number; paid: number }[] };
    expect(funnel).toMatchObject({ views: 40, orders: FRIENDS + 1, paid: PAID_FRIENDS + 1 });
    const { page, failures, close } = await h.open(`/referrals/funnel?campaign_id=${campaignId}`);
    await poll(() => rows(page, 'funnel-table').count()).toBe(funnel.by_channel.length + 1);
    const wx = funnel.by_channel.find((c) => c.c_id === 'wx')!;
    await expect(rows(page, 'funnel-table').filter({ hasText: 'wx' }).innerText()).resolves.toMatch(new RegExp(`${wx.views}\\s+${wx.orders}\\s+${wx.paid}`));
    await expect(page.locator('[data-test="funnel-chart"] canvas').count()).resolves.toBe(1);
    await expect(page.locator('[data-test="channel-chart"] canvas').count()).resolves.toBe(1);
    await h.shot(page, '10-funnel');
    expect(ignorable(failures)).toEqual([]);
    await close();

    const zh = await h.open(`/referrals/funnel?campaign_id=${campaignId}`, { locale: 'zh-CN' });
    await zh.page.setViewportSize({ width: 768, height: 1024 });
    await poll(() => rows(zh.page, 'funnel-table').count()).toBe(funnel.by_channel.length + 1);
    expect(await zh.page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await h.shot(zh.page, '11-funnel-zh-tablet');
    await zh.close();
  });
});
