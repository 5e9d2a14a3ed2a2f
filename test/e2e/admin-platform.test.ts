/**
 * The platform pages in Chromium: tenants (platform operators: create with its first key shown
 * once, detail, quota, keys, the tenant's first admin operator), operators (a tenant admin:
 * create, change the role, refuse deleting its own account), the audit log with its filters, and
 * the settings (the apps' redemption quotas).
 */
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ConsoleHarness, describeConsole, startConsole } from '../helpers/console-browser.js';
import { must } from '../helpers/test-app.js';

const ok = (failures: string[]) => failures.filter((f) => !/status of (401|403|404|409|422|400)/.test(f));
const confirm = (page: Page) => page.locator('.n-popconfirm__action .n-button--primary-type').click();
const uid = () => randomBytes(4).toString('hex');
/** Picks an option of a Naive UI select: the open menu's (closed menus stay in the page, hidden). */
async function pick(page: Page, select: string, option: string): Promise<void> {
  await page.locator(`[data-test="${select}"]`).click();
  await page.locator('.n-base-select-option:visible', { hasText: option }).first().click();
}


describeConsole('the platform pages in Chromium', () => {
  let h: ConsoleHarness;
  beforeAll(async () => {
    h = await startConsole('platform');
  }, 300_000);
  afterAll(async () => h?.close());

  it('a platform operator creates a tenant, sees its key once, then sets its quota and creates its first admin', async () => {
    const { page, failures, close } = await h.open('/tenants', { as: 'platform' });
    await page.locator('[data-test=tenant-table]').waitFor();
    await h.shot(page, '01-tenants');

    // A validation error first (no id, no name), then the tenant.
    await page.click('[data-test=tenant-new]');
    await page.click('[data-test=tenant-create]');
    await expect.poll(() => page.locator('[data-test=error]').textContent()).toContain('invalid_request');
    const id = `shop-${uid()}`;
    await page.locator('input[name=tenant_id]').fill(id);
    await page.locator('input[name=tenant_name]').fill('Corner Shop');
    await pick(page, 'tenant-type', 'Channel partner');
    await page.click('[data-test=tenant-create]');
    const secret = page.locator('[data-test=secret] input');
    await secret.waitFor();
    const key = await secret.inputValue();
    expect(key.length).toBeGreaterThan(20);
    // The key works against the API.
    const asKey = await fetch(`${h.base}/v1/tenants/${id}`, { headers: { authorization: `Bearer ${key}` } });
    expect(asKey.status).toBe(200);
    expect(await asKey.json()).toMatchObject({ tenant_id: id, tenant_type: 'CHANNEL' });
    await page.click('[data-test=secret-done]');
    await expect.poll(() => page.locator('[data-test=secret]').count()).toBe(0);

    // The list, filtered by id and by type.
    await page.locator('input[name=tenant_search]').fill(id);
    await page.click('[data-test=tenant-search]');
    await expect.poll(() => page.locator('[data-test=tenant-table] tbody tr').count()).toBe(1);
    await pick(page, 'tenant-type-filter', 'Platform');
    await expect.poll(() => page.locator('[data-test=tenant-table]').textContent()).toContain('Nothing here yet');
    await pick(page, 'tenant-type-filter', 'Channel partner');
    await page.locator('[data-test=tenant-table] tbody a', { hasText: id }).click();

    // The detail: its key (not shown again), a quota, its first admin operator.
    await page.waitForURL(`**/admin/tenants/${id}`);
    await expect.poll(() => page.locator('[data-test=key-table] tbody tr').count()).toBe(1);
    expect(await page.locator('[data-test=key-table]').textContent()).not.toContain(key);
    await page.locator('input[name=quota_daily]').fill('500');
    await page.click('[data-test=quota-set]');
    await expect.poll(() => page.locator('[data-test=quota]').textContent()).toContain('500');
    const email = `first-admin-${uid()}@example.com`;
    await page.click('[data-test=operator-new]');
    await page.locator('input[name=operator_email]').fill(email);
    await pick(page, 'operator-new-role', 'Admin');
    await page.click('[data-test=operator-generate]');
    await page.click('[data-test=operator-create]');
    await expect.poll(() => page.locator('[data-test=operator-table]').textContent()).toContain(email);
    const shown = await page.locator('[data-test=shown-password]').textContent();
    expect(shown).toContain(email);
    const ops = must(await h.a.call('GET', '/v1/operators', undefined, { query: { tenant_id: id } }), 200).body.operators;
    expect(ops).toMatchObject([{ email, role: 'admin', tenant_id: id }]);
    await h.shot(page, '02-tenant-detail');
    expect(ok(failures)).toEqual([]);
    await close();

    // The platform's audit log: what was done to the tenant, by object.
    const audit = await h.open('/audit', { as: 'platform' });
    await audit.page.locator('input[name=audit_object]').fill(id);
    await audit.page.click('[data-test=audit-search]');
    await expect.poll(() => audit.page.locator('[data-test=audit-table] tbody').textContent()).toContain('POST /v1/tenants');
    expect(await audit.page.locator('[data-test=audit-table] tbody').textContent()).toContain('PUT /v1/tenants/:tenant_id/code-quota');
    expect(ok(audit.failures)).toEqual([]);
    await audit.close();
  });

  it('a tenant admin creates an operator, changes its role and cannot delete its own account; the audit log shows it', async () => {
    const me = await h.operator('admin');
    const { page, failures, close } = await h.open('/operators');
    await page.locator('[data-test=operator-table]').waitFor();
    const email = `ann-${uid()}@example.com`;
    await page.click('[data-test=operator-new]');
    await page.locator('input[name=operator_email]').fill(email);
    await page.locator('input[name=operator_password]').fill('short');
    await page.click('[data-test=operator-create]');
    await expect.poll(() => page.locator('.n-modal [data-test=error]').textContent()).toContain('invalid_request');
    await page.locator('input[name=operator_password]').fill('a long enough password');
    await page.click('[data-test=operator-create]');
    const row = page.locator('[data-test=operator-table] tbody tr', { hasText: email });
    await row.waitFor();
    await row.locator('[data-test=operator-role]').click();
    await page.locator('.n-base-select-option:visible', { hasText: 'Viewer' }).first().click();
    const made = must(await h.t.call('GET', '/v1/operators', undefined, { key: h.t.admin, query: { page_size: 50 } }), 200).body.operators.find((o: { email: string }) => o.email === email);
    await expect.poll(async () => must(await h.t.call('GET', `/v1/operators/${made.operator_id}`, undefined, { key: h.t.admin }), 200).body.role).toBe('viewer');

    // Its own account: refused, with the API's code.
    const mine = page.locator('[data-test=operator-table] tbody tr', { hasText: me.email });
    await mine.locator('[data-test=operator-delete]').click();
    await confirm(page);
    await expect.poll(() => page.locator('[data-test=error]').first().textContent()).toContain('operator_own_account');
    await h.shot(page, '03-operators');
    expect(ok(failures)).toEqual([]);
    await close();

    // The audit log: the role change by route and method, the sign-ins by event, each with who.
    const audit = await h.open('/audit');
    const p = audit.page;
    await p.locator('[data-test=audit-table]').waitFor();
    await p.locator('input[name=audit_route]').fill('/v1/operators/:operator_id');
    await pick(p, 'audit-method', 'PATCH');
    await expect.poll(() => p.locator('[data-test=audit-table] tbody tr').count()).toBe(1);
    expect(await p.locator('[data-test=audit-table] tbody').textContent()).toContain(made.operator_id);
    expect(await p.locator('[data-test=audit-table] tbody').textContent()).toContain(me.email);
    await p.locator('input[name=audit_route]').fill('');
    await p.locator('input[name=audit_object]').fill(made.operator_id);
    await p.click('[data-test=audit-search]');
    // Created (POST) and changed (PATCH): with the method filter, the PATCH only.
    await expect.poll(() => p.locator('[data-test=audit-table] tbody tr').count()).toBe(1);
    await p.locator('[data-test=audit-method] .n-base-clear').click({ force: true });
    await expect.poll(() => p.locator('[data-test=audit-table] tbody tr').count()).toBe(2);
    await p.locator('input[name=audit_object]').fill('');
    await pick(p, 'audit-event', 'Signed in');
    await expect.poll(() => p.locator('[data-test=audit-table] tbody').textContent()).toContain('Signed in');
    await p.locator('[data-test=audit-table] tbody tr .n-data-table-expand-trigger').first().click();
    await expect.poll(() => p.locator('[data-test=audit-table] pre').first().textContent()).toContain('"email"');
    await h.shot(p, '04-audit');
    expect(ok(audit.failures)).toEqual([]);
    await audit.close();
  });

  it('settings: an app redemption quota, refused when negative, then saved', async () => {
    const { page, failures, close } = await h.open('/settings');
    const row = page.locator('[data-test=limits-table] tbody tr', { hasText: h.t.productCode });
    await row.waitFor();
    await row.locator('[data-test=limits-edit]').click();
    await pick(page, 'limits-hour-mode', 'Set');
    await page.locator('input[name=limit_hour]').fill('-5');
    await page.click('[data-test=limits-save]');
    await expect.poll(() => page.locator('.n-modal [data-test=error]').textContent()).toContain('invalid_request');
    await page.locator('input[name=limit_hour]').fill('120');
    await pick(page, 'limits-day-mode', 'Off');
    await page.click('[data-test=limits-save]');
    await expect.poll(() => row.textContent()).toContain('120');
    expect(await row.textContent()).toContain('Off');
    const app = must(await h.t.call('GET', `/v1/apps/${h.t.productCode}`, undefined, { key: h.t.admin }), 200).body;
    expect(app.rate_limits).toEqual({ redeem_per_hour: 120, redeem_per_day: null });
    await page.locator('[data-test=settings-no-quota], [data-test=settings-quota]').first().waitFor();
    await page.locator('[data-test=provider-table]').waitFor();
    await expect.poll(() => page.locator('.n-modal').count()).toBe(0);
    await h.shot(page, '05-settings');
    expect(ok(failures)).toEqual([]);
    await close();

    // A viewer reads the quotas, changes nothing, and sees no providers (they hold credentials); in Chinese.
    const viewer = await h.open('/settings', { as: 'viewer', locale: 'zh-CN' });
    await viewer.page.locator('[data-test=limits-table] tbody tr', { hasText: h.t.productCode }).waitFor();
    expect(await viewer.page.locator('[data-test=limits-edit]').count()).toBe(0);
    expect(await viewer.page.locator('[data-test=provider-table]').count()).toBe(0);
    expect(await viewer.page.locator('h2').first().textContent()).toBe('设置');
    await h.shot(viewer.page, '06-settings-viewer-zh');
    expect(ok(viewer.failures)).toEqual([]);
    await viewer.close();

    // On a 768-wide tablet the pages' tables scroll inside themselves: no page overflow.
    for (const [path, as] of [['/audit', 'admin'], ['/operators', 'admin'], ['/tenants', 'platform']] as const) {
      const tablet = await h.open(path, { as });
      await tablet.page.setViewportSize({ width: 768, height: 1024 });
      await tablet.page.locator('.n-data-table').first().waitFor();
      expect(await tablet.page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth'), path).toBeLessThanOrEqual(0);
      await tablet.close();
    }
  });
});
