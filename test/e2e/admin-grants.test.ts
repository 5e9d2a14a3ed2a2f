import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ConsoleHarness, describeConsole, startConsole } from '../helpers/console-browser.js';
import { taskCampaign, trigger } from '../helpers/task-helpers.js';
import { must } from '../helpers/test-app.js';

/** The rows a Naive UI table shows (its empty row excluded). */
const rows = (page: Page, table: string) => page.locator(`[data-test="${table}"] tbody tr:not(.n-data-table-tr--empty)`);
/** Waits for a value (the first page load fetches its chunk and the API: more than poll's default second). */
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 15_000 });
const tolerated = (failures: string[]) => failures.filter((f) => !/status of (401|403|404|409|422|400)/.test(f));

describeConsole('the grants, balances and tasks pages in Chromium', () => {
  let h: ConsoleHarness;
  let campaignId: string;
  let rewardId: string;
  let failedGrant: string;
  let revokable: string;

  beforeAll(async () => {
    h = await startConsole('grants');
    ({ campaignId, rewardId } = await taskCampaign(h.t, { points: 10 }));
    for (let i = 0; i < 22; i++) must(await h.t.call('POST', '/v1/reward-grants', { reward_id: rewardId, user_id: 'user-a', source: 'order', source_id: `o-${i}` }), 201);
    const grantsB: string[] = [];
    for (let i = 0; i < 3; i++) grantsB.push(must(await h.t.call('POST', '/v1/reward-grants', { reward_id: rewardId, user_id: 'user-b', source: 'order', source_id: `b-${i}` }), 201).body.grant_id);
    revokable = grantsB[0]!;
    // A webhook grant whose delivery failed (the receiver is a closed port; the state is set at once).
    const hook = must(
      await h.t.call('POST', '/v1/rewards', {
        reward_name: 'Partner voucher',
        reward_type: 'POINTS',
        product_code: h.t.productCode,
        campaign_id: campaignId,
        config: { generator: { points: 5 }, distributor: { type: 'WEBHOOK', url: 'http://127.0.0.1:9/hook', secret: 'whsec_test_0123456789abcdef', timeout_ms: 1000 } },
      }),
      201,
    ).body;
    failedGrant = must(await h.t.call('POST', '/v1/reward-grants', { reward_id: hook.reward_id, user_id: 'user-c' }), 201).body.grant_id;
    await h.a.database.db
      .updateTable('reward_grant')
      .set({ status: 'FAILED', delivery_status: 'FAILED', delivery_attempts: 5, delivery_last_error: 'connect ECONNREFUSED 127.0.0.1:9' })
      .where('grant_id', '=', failedGrant)
      .execute();
  }, 300_000);
  afterAll(async () => h?.close());

  it('grants: filters and pages, opens a grant, retries a failed delivery, revokes with a reason; a viewer cannot', async () => {
    const { page, failures, close } = await h.open('/grants');
    await poll(() => rows(page, 'grant-table').count()).toBe(20);
    await page.locator('[data-test="grant-table"] .n-pagination-item', { hasText: /^2$/ }).click();
    await poll(() => rows(page, 'grant-table').count()).toBe(6);
    await page.locator('input[name=grant_user]').fill('user-b');
    await page.locator('[data-test=grant-search]').click();
    await poll(() => rows(page, 'grant-table').count()).toBe(3);
    await h.shot(page, '01-grants');
    await page.locator('input[name=grant_user]').fill('');
    await h.choose(page, 'grant-status', 'Failed');
    await poll(() => rows(page, 'grant-table').count()).toBe(1);
    await rows(page, 'grant-table').first().locator('a').first().click();

    // The failed webhook delivery, sent again.
    await page.locator('[data-test=grant-detail]').waitFor();
    await poll(() => page.locator('[data-test=delivery-status]').textContent()).toBe('Failed');
    await page.locator('[data-test=retry-delivery]').click();
    await poll(() => page.locator('[data-test=delivery-status]').textContent()).toBe('Pending');
    expect(must(await h.t.call('GET', `/v1/reward-grants/${failedGrant}`), 200).body.delivery.status).not.toBe('FAILED');
    await h.shot(page, '02-grant-retried');

    // Revoke: the reason is asked for, then the grant is revoked with it.
    await page.goto(`${h.base}/admin/grants/${revokable}`);
    await page.locator('[data-test=revoke]').click();
    await page.locator('[data-test=confirm-revoke]').click();
    await poll(() => page.locator('[data-test=revoke-error]').textContent()).toContain('Give a reason');
    await page.locator('textarea[name=revoke_reason]').fill('Order refunded');
    await page.locator('[data-test=confirm-revoke]').click();
    await poll(() => page.locator('[data-test=grant-status-tag]').textContent()).toContain('Revoked');
    await poll(() => page.locator('[data-test=revoke-reason]').textContent()).toBe('Order refunded');
    expect(must(await h.t.call('GET', `/v1/reward-grants/${revokable}`), 200).body).toMatchObject({ status: 'REVOKED', revoke_reason: 'Order refunded' });
    await h.shot(page, '03-grant-revoked');
    expect(tolerated(failures)).toEqual([]);
    await close();

    // A viewer on a tablet: the list fits the width, the write buttons are disabled.
    // (Opened wide: at 768 the header hides the operator's name the harness waits for.)
    const viewer = await h.open('/grants', { as: 'viewer' });
    await viewer.page.setViewportSize({ width: 768, height: 1024 });
    await poll(() => rows(viewer.page, 'grant-table').count()).toBe(20);
    expect(await viewer.page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')).toBeLessThanOrEqual(0);
    await h.shot(viewer.page, '09-grants-tablet');
    await viewer.page.goto(`${h.base}/admin/grants/${failedGrant}`);
    await viewer.page.locator('[data-test=revoke]').waitFor();
    expect(await viewer.page.locator('[data-test=revoke]').isDisabled()).toBe(true);
    await viewer.close();
  });

  it('balances: looks a user up, pages the ledger, shows a refused adjustment with its code, adjusts with a reason', async () => {
    const { page, failures, close } = await h.open('/ledger');
    await page.locator('input[name=ledger_user]').fill('user-a');
    await page.locator('[data-test=ledger-lookup]').click();
    await poll(() => page.locator('[data-test=balance-POINTS]').textContent()).toContain('220');
    await poll(() => rows(page, 'ledger-table').count()).toBe(20);
    await page.locator('[data-test="ledger-table"] .n-pagination-item', { hasText: /^2$/ }).click();
    await poll(() => rows(page, 'ledger-table').count()).toBe(2);

    // Below zero: the API's refusal with its code.
    await page.locator('input[name=adjust_amount]').fill('-1000');
    await page.locator('input[name=adjust_reason]').fill('Clawback');
    await page.locator('[data-test=adjust-submit]').click();
    await poll(() => page.locator('[data-test=adjust-error]').textContent()).toContain('(insufficient_balance)');
    // No reason: asked for before any call.
    await page.locator('input[name=adjust_amount]').fill('5');
    await page.locator('input[name=adjust_reason]').fill('');
    await page.locator('[data-test=adjust-submit]').click();
    await poll(() => page.locator('[data-test=adjust-error]').textContent()).toContain('Give a reason');
    await page.locator('input[name=adjust_reason]').fill('Goodwill for a late parcel');
    await page.locator('[data-test=adjust-submit]').click();
    await poll(() => page.locator('[data-test=balance-POINTS]').textContent()).toContain('225');
    await poll(() => rows(page, 'ledger-table').first().textContent()).toContain('Goodwill for a late parcel');
    expect(await rows(page, 'ledger-table').first().textContent()).toContain('+5');
    await h.shot(page, '04-ledger');
    expect(tolerated(failures)).toEqual([]);
    await close();

    for (const as of ['operator', 'viewer'] as const) {
      const other = await h.open('/ledger?user=user-a', { as });
      await other.page.locator('[data-test=adjust-disabled]').waitFor();
      expect(await other.page.locator('[data-test=adjust-submit]').isDisabled()).toBe(true);
      await other.close();
    }
  });

  it('tasks: filters and pages, creates after a validation error, edits, links to a campaign, shows stats and the completion log', async () => {
    for (let i = 0; i < 21; i++) {
      must(await h.t.call('POST', '/v1/tasks', { task_name: `Share ${i}`, task_type: i < 4 ? 'SHARE' : 'CUSTOM', event_type: 'SHARED', product_code: h.t.productCode, condition: { type: 'count', target: 1 } }), 201);
    }
    // A task with completions: linked to the active campaign, triggered by three users.
    const signIn = must(
      await h.t.call('POST', '/v1/tasks', { task_name: 'Daily sign-in', task_type: 'SIGN_IN', event_type: 'SIGN_IN', product_code: h.t.productCode, repeat: 'DAILY', condition: { type: 'count', target: 1 }, reward_id: rewardId }),
      201,
    ).body;
    must(await h.t.call('POST', `/v1/campaigns/${campaignId}/tasks`, { task_id: signIn.task_id }), 201);
    for (const user of ['u1', 'u2', 'u3']) must(await trigger(h.t, { event_type: 'SIGN_IN', user_id: user }), 200);

    const { page, failures, close } = await h.open('/tasks');
    await poll(() => rows(page, 'task-table').count()).toBe(20);
    await page.locator('[data-test="task-table"] .n-pagination-item', { hasText: /^2$/ }).click();
    await poll(() => rows(page, 'task-table').count()).toBe(2);
    await h.choose(page, 'task-type-filter', 'Share');
    await poll(() => rows(page, 'task-table').count()).toBe(4);
    await h.shot(page, '05-tasks');

    // Create: the API's validation message, then the task.
    await page.locator('[data-test=new-task]').click();
    await page.locator('input[name=task_name]').fill('Invite three friends');
    await h.choose(page, 'task-type', 'Invite');
    await page.locator('input[name=event_type]').fill('FRIEND_JOINED');
    await h.choose(page, 'condition-type', 'Distinct values');
    await page.locator('input[name=target]').fill('3');
    await page.locator('[data-test=add-filter]').click();
    await page.locator('input[name=filter_name_0]').fill('channel');
    await page.locator('input[name=filter_value_0]').fill('wechat, sms');
    await h.choose(page, 'task-repeat', 'Weekly');
    await page.locator('[data-test=save-task]').click();
    await poll(() => page.locator('[data-test=error]').textContent()).toContain('invalid_request');
    await h.shot(page, '06-task-create-error');
    await page.locator('input[name=condition_field]').fill('friend_id');
    await page.locator('[data-test=save-task]').click();
    await page.locator('[data-test=task-detail]').waitFor();
    await poll(() => page.locator('[data-test=task-condition]').textContent()).toContain('Distinct values ≥ 3');
    const created = page.url().split('/').pop()!;
    expect(must(await h.t.call('GET', `/v1/tasks/${created}`), 200).body).toMatchObject({ task_type: 'INVITE', repeat: 'WEEKLY', condition: { type: 'distinct', target: 3, field: 'friend_id', filters: { channel: ['wechat', 'sms'] } } });

    // Edit.
    await page.locator('[data-test=edit-task]').click();
    await poll(() => page.locator('input[name=task_name]').inputValue()).toBe('Invite three friends');
    await page.locator('input[name=task_name]').fill('Invite 3 friends');
    await page.locator('[data-test=save-task]').click();
    await poll(() => page.locator('[data-test=task-title]').textContent()).toBe('Invite 3 friends');
    expect(must(await h.t.call('GET', `/v1/tasks/${created}`), 200).body).toMatchObject({ task_name: 'Invite 3 friends', version: 2 });

    // Link it to the campaign; the campaign's task list shows both linked tasks.
    await h.choose(page, 'link-campaign', campaignId);
    await page.locator('[data-test=link-task]').click();
    await poll(async () => must(await h.t.call('GET', `/v1/campaigns/${campaignId}/tasks`), 200).body.tasks.length).toBe(2);
    await page.locator('[data-test=campaign-tasks]').click();
    await poll(() => rows(page, 'task-table').count()).toBe(2);

    // The sign-in task's stats and completion log.
    await page.goto(`${h.base}/admin/tasks/${signIn.task_id}`);
    await poll(() => page.locator('[data-test=stat-completions]').textContent()).toContain('3');
    await poll(() => rows(page, 'log-table').count()).toBe(3);
    await poll(() => rows(page, 'stats-table').count()).toBe(1);
    await page.locator('[data-test=stats-table]').scrollIntoViewIfNeeded();
    await h.shot(page, '07-task-stats');
    await page.goto(`${h.base}/admin/tasks?tab=logs`);
    await poll(() => rows(page, 'log-table').count()).toBe(3);
    await h.shot(page, '08-completion-log');
    expect(tolerated(failures)).toEqual([]);
    await close();

    // In Chinese.
    const zh = await h.open(`/tasks/${signIn.task_id}`, { locale: 'zh-CN' });
    await poll(() => zh.page.locator('[data-test=task-stats]').textContent()).toContain('完成次数');
    expect(await zh.page.locator('[data-test=task-detail]').textContent()).toContain('事件次数 ≥ 1');
    await zh.close();
  });
});
