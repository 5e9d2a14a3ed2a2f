/**
 * The tenant's list and detail of its referral orders (GET /v1/referrals/orders[/{order_id}]):
 * filters, paging, the detail's rewards and refund, and another tenant seeing nothing.
 */
import { describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import { newPhone, orderBody, referralCampaign } from './testing/referral-fixtures.js';

const keyless = { key: null };

describe('referral orders of a tenant', () => {
  it('lists, filters and pages the orders; one order answers its payment, attribution, rewards and refund', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const { campaignId } = await referralCampaign(t);
    const { campaignId: other } = await referralCampaign(t);
    const referrerPhone = newPhone();
    const referrer = must(await t.call('POST', '/api/v1/orders', orderBody(campaignId, referrerPhone, { c_id: 'wx' }), keyless), 201).body.order_id as string;
    must(await t.call('POST', `/api/v1/orders/${referrer}/sandbox-pay`, undefined, keyless), 200);
    const friends: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = must(await t.call('POST', '/api/v1/orders', orderBody(campaignId, newPhone(), { u_id: referrer, c_id: i % 2 ? 'poster' : 'wx' }), keyless), 201).body.order_id as string;
      friends.push(id);
    }
    must(await t.call('POST', `/api/v1/orders/${friends[0]}/sandbox-pay`, undefined, keyless), 200);
    const elsewhere = must(await t.call('POST', '/api/v1/orders', orderBody(other, newPhone()), keyless), 201).body.order_id as string;

    const all = must(await t.call('GET', '/v1/referrals/orders?page_size=4'), 200).body;
    expect(all.pagination).toEqual({ total: 7, page: 1, page_size: 4 });
    expect(all.orders).toHaveLength(4);
    expect(all.orders[0].order_id).toBe(elsewhere);
    expect(must(await t.call('GET', '/v1/referrals/orders?page_size=4&page=2'), 200).body.orders).toHaveLength(3);
    const ids = async (query: string) => (must(await t.call('GET', `/v1/referrals/orders?${query}`), 200).body.orders as { order_id: string }[]).map((o) => o.order_id).sort();
    expect(await ids(`campaign_id=${other}`)).toEqual([elsewhere]);
    expect(await ids(`referrer_id=${referrerPhone}`)).toEqual([...friends].sort());
    expect(await ids(`referrer_id=${referrerPhone}&channel=poster`)).toEqual([friends[1], friends[3]].sort());
    expect(await ids('status=paid')).toEqual([referrer, friends[0]].sort());
    expect(await ids('pay_status=unpaid&channel=wx')).toEqual([friends[2], friends[4]].sort());
    expect(await ids(`phone=%2B86${referrerPhone}`)).toEqual([referrer]);
    expect(await ids(`created_from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).toEqual([]);
    expect(await ids(`created_to=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}&campaign_id=${other}`)).toEqual([elsewhere]);
    expect(await ids('flagged=true')).toEqual([]);
    expect((await t.call('GET', '/v1/referrals/orders?status=done')).status).toBe(400);

    const listed = (must(await t.call('GET', `/v1/referrals/orders?referrer_id=${referrerPhone}&status=paid`), 200).body.orders as Record<string, unknown>[])[0]!;
    expect(listed).toMatchObject({ order_id: friends[0], campaign_id: campaignId, referrer_id: referrerPhone, channel: 'wx', status: 'paid', pay_status: 'paid', amount: 9900, provider: 'sandbox', trade_no: expect.any(String), success_code: expect.any(String), flagged: false, refund_status: null });

    // One order in full, before and after its refund (the sandbox confirms during the call).
    const detail = must(await t.call('GET', `/v1/referrals/orders/${friends[0]}`), 200).body;
    expect(detail).toMatchObject({ ...listed, form_data: { name: '张三', age: 12, grade: '初中' }, refund: null });
    expect(detail.rewards).toEqual([expect.objectContaining({ user_id: referrerPhone, level: 1, amount: 1000, status: 'settled', debt_paid: 0, clawed_back: null, debt: null })]);
    must(await t.call('POST', `/v1/referrals/orders/${friends[0]}/refund`, { reason: 'cancelled' }, { key: t.admin }), 200);
    const refunded = must(await t.call('GET', `/v1/referrals/orders/${friends[0]}`), 200).body;
    expect(refunded).toMatchObject({ status: 'refunded', pay_status: 'refunded', refund_status: 'succeeded', refund: { status: 'succeeded', reason: 'cancelled', amount: 9900, order_status: 'refunded' } });
    expect(refunded.rewards[0]).toMatchObject({ status: 'reversed', clawed_back: 1000, debt: 0 });
    expect(await ids('pay_status=refunded')).toEqual([friends[0]]);

    // Another tenant sees none of it.
    const stranger = await a.newTenant();
    expect(must(await stranger.call('GET', '/v1/referrals/orders'), 200).body.pagination.total).toBe(0);
    const hidden = await stranger.call('GET', `/v1/referrals/orders/${friends[0]}`);
    expect(hidden.status).toBe(404);
    expect(hidden.body.error.code).toBe('order_not_found');
  });
});
