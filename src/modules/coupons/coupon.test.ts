import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../platform/clock.js';
import { must, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';

const uid = () => Math.random().toString(36).slice(2, 10);

async function template(t: TenantFixture, body: Record<string, unknown>) {
  return must(await t.call('POST', '/v1/coupons/templates', { name: 'T', coupon_type: 'discount', value: 500, ...body }, { key: t.admin }), 201).body;
}
async function claim(t: TenantFixture, templateId: string, userId: string) {
  return must(await t.call('POST', `/v1/coupons/templates/${templateId}/claim`, { user_id: userId }), 201).body;
}
const cart = (lines: { item_id: string; category_id?: string; unit_price: number; quantity: number }[], shipping_fee = 0) => ({ lines, shipping_fee });

describe('coupon templates', () => {
  it('creates, validates the terms, updates while unused, refuses changes once claimed, disables', async () => {
    const t = await (await testApp()).newTenant();
    const tpl = await template(t, { discount_kind: 'percent', value: 15, max_discount: 2000, min_amount: 10000, per_user_limit: 2, usage_limit: 10 });
    expect(tpl).toMatchObject({ coupon_type: 'discount', discount_kind: 'percent', value: 15, claimed_count: 0, used_count: 0, scope: { all: true }, claim_policy: 'anyone', status: 'active' });
    for (const [body, field] of [
      [{ discount_kind: 'percent', value: 150 }, 'value'],
      [{ discount_kind: 'free' }, 'discount_kind'],
      [{ coupon_type: 'gift', value: 0 }, 'gift_item_id'],
      [{ max_discount: 10 }, 'max_discount'],
      [{ scope: { item_ids: [] } }, 'scope'],
      [{ claim_policy: 'audience' }, 'audience_id'],
      [{ valid_from: '2030-01-02T00:00:00Z', valid_until: '2030-01-01T00:00:00Z' }, 'valid_until'],
    ] as const) {
      const r = await t.call('POST', '/v1/coupons/templates', { name: 'x', coupon_type: 'discount', value: 5, ...(body as Record<string, unknown>) }, { key: t.admin });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.details.field).toBe(field);
    }
    expect((await t.call('POST', '/v1/coupons/templates', { name: 'x', coupon_type: 'discount', value: 5, claim_policy: 'audience', audience_id: 'aud_nope' }, { key: t.admin })).body.error.code).toBe('unknown_audience');
    expect((await t.call('POST', '/v1/coupons/templates', { name: 'x', coupon_type: 'discount', value: 5 })).status).toBe(403);
    const updated = must(await t.call('PUT', `/v1/coupons/templates/${tpl.template_id}`, { value: 20 }, { key: t.admin }), 200).body;
    expect(updated.value).toBe(20);
    await claim(t, tpl.template_id, 'u1');
    const inUse = await t.call('PUT', `/v1/coupons/templates/${tpl.template_id}`, { value: 30 }, { key: t.admin });
    expect(inUse.status).toBe(409);
    expect(inUse.body.error.code).toBe('coupon_template_in_use');
    must(await t.call('POST', `/v1/coupons/templates/${tpl.template_id}/disable`, undefined, { key: t.admin }), 200);
    const refused = await t.call('POST', `/v1/coupons/templates/${tpl.template_id}/claim`, { user_id: 'u2' });
    expect(refused.body.error.code).toBe('coupon_template_not_claimable');
    const list = must(await t.call('GET', '/v1/coupons/templates?status=disabled'), 200).body;
    expect(list.templates.map((x: any) => x.template_id)).toEqual([tpl.template_id]);
    expect((await t.call('GET', '/v1/coupons/templates/cpt_nope')).body.error.code).toBe('coupon_template_not_found');
  });
});

describe('wallet: claim, issue, limits', () => {
  it('claim_policy: admin_only needs issue; audience needs membership; per-user and usage limits answer stable codes', async () => {
    const t = await (await testApp()).newTenant();
    const adminOnly = await template(t, { claim_policy: 'admin_only', usage_limit: 2, per_user_limit: 1 });
    expect((await t.call('POST', `/v1/coupons/templates/${adminOnly.template_id}/claim`, { user_id: 'a' })).body.error.code).toBe('coupon_claim_not_allowed');
    expect((await t.call('POST', `/v1/coupons/templates/${adminOnly.template_id}/issue`, { user_id: 'a' })).status).toBe(403);
    const issued = must(await t.call('POST', `/v1/coupons/templates/${adminOnly.template_id}/issue`, { user_id: 'a' }, { key: t.admin }), 201).body;
    expect(issued).toMatchObject({ status: 'available', source: 'issue', user_id: 'a' });
    expect(issued.code).toMatch(/^[A-Z2-9]{10}$/);
    expect((await t.call('POST', `/v1/coupons/templates/${adminOnly.template_id}/issue`, { user_id: 'a' }, { key: t.admin })).body.error.code).toBe('coupon_per_user_limit_reached');
    must(await t.call('POST', `/v1/coupons/templates/${adminOnly.template_id}/issue`, { user_id: 'b' }, { key: t.admin }), 201);
    expect((await t.call('POST', `/v1/coupons/templates/${adminOnly.template_id}/issue`, { user_id: 'c' }, { key: t.admin })).body.error.code).toBe('coupon_usage_limit_reached');

    const audience = must(await t.call('POST', '/v1/audiences', { audience_name: 'vip', audience_type: 'LIST', product_code: t.productCode }, { key: t.admin }), 201).body;
    must(await t.call('POST', `/v1/audiences/${audience.audience_id}/members`, { user_ids: ['vip1'] }, { key: t.admin }), 200);
    const forVips = await template(t, { claim_policy: 'audience', audience_id: audience.audience_id });
    await claim(t, forVips.template_id, 'vip1');
    const outsider = await t.call('POST', `/v1/coupons/templates/${forVips.template_id}/claim`, { user_id: 'nobody' });
    expect(outsider.status).toBe(409);
    expect(outsider.body.error).toMatchObject({ code: 'coupon_claim_not_allowed', details: { claim_policy: 'audience' } });

    const wallet = must(await t.call('GET', '/v1/coupons?user_id=a'), 200).body;
    expect(wallet.coupons.map((c: any) => c.coupon_id)).toEqual([issued.coupon_id]);
    const after = must(await t.call('GET', `/v1/coupons/templates/${adminOnly.template_id}`), 200).body;
    expect(after.claimed_count).toBe(2);
  });

  it('valid_days: the coupon is valid from the claim for that many days', async () => {
    const clock = new ManualClock('2031-03-01T10:00:00Z');
    const t = await (await testApp({ clock })).newTenant();
    const tpl = await template(t, { valid_days: 7 });
    const c = await claim(t, tpl.template_id, 'u');
    expect([c.valid_from, c.valid_until]).toEqual(['2031-03-01T10:00:00.000Z', '2031-03-08T10:00:00.000Z']);
  });

  it('1,000 parallel claims of a template with usage_limit 100: exactly 100 coupons, claimed_count 100', async () => {
    const t = await (await testApp()).newTenant();
    const tpl = await template(t, { usage_limit: 100 });
    const replies = await Promise.all(Array.from({ length: 1000 }, (_, i) => t.call('POST', `/v1/coupons/templates/${tpl.template_id}/claim`, { user_id: `u${i}` })));
    const codes = replies.map((r) => r.status);
    expect(codes.filter((s) => s === 201)).toHaveLength(100);
    expect(codes.filter((s) => s === 409)).toHaveLength(900);
    expect(new Set(replies.filter((r) => r.status === 409).map((r) => r.body.error.code))).toEqual(new Set(['coupon_usage_limit_reached']));
    expect(must(await t.call('GET', `/v1/coupons/templates/${tpl.template_id}`), 200).body.claimed_count).toBe(100);
  }, 120_000);

  it('50 parallel claims by one user with per_user_limit 3: exactly 3; past 20 attempts an hour the claim limit answers first', async () => {
    const t = await (await testApp()).newTenant();
    const tpl = await template(t, { per_user_limit: 3, usage_limit: 1000 });
    const replies = await Promise.all(Array.from({ length: 50 }, () => t.call('POST', `/v1/coupons/templates/${tpl.template_id}/claim`, { user_id: 'one' })));
    expect(replies.filter((r) => r.status === 201)).toHaveLength(3);
    // rate_limits.coupon_claim.per_user: 20 attempts an hour (the default) reach the claim at all.
    expect(replies.filter((r) => r.status === 409 && r.body.error.code === 'coupon_per_user_limit_reached')).toHaveLength(17);
    const limited = replies.filter((r) => r.status === 429);
    expect(limited).toHaveLength(30);
    expect(limited[0]!.body.error).toMatchObject({ code: 'rate_limited', details: { rule: 'user' } });
    expect(limited[0]!.headers['retry-after']).toMatch(/^\d+$/);
    expect(must(await t.call('GET', '/v1/coupons?user_id=one'), 200).body.pagination.total).toBe(3);
    expect(must(await t.call('GET', `/v1/coupons/templates/${tpl.template_id}`), 200).body.claimed_count).toBe(3);
  }, 60_000);
});

describe('claim and use limits per end-user IP', () => {
  it('counts the client_ip a backend passes across users, and refuses one that is not an address', async () => {
    const t = await (await testApp()).newTenant();
    const tpl = await template(t, { usage_limit: 1000 });
    const url = `/v1/coupons/templates/${tpl.template_id}/claim`;
    const bad = await t.call('POST', url, { user_id: 'x', client_ip: 'not-an-ip' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    // 210 users behind one address: the per-IP limit (200 an hour) admits exactly 200.
    const replies = await Promise.all(Array.from({ length: 210 }, (_, i) => t.call('POST', url, { user_id: `ip-${i}`, client_ip: '203.0.113.7' })));
    expect(replies.filter((r) => r.status === 201)).toHaveLength(200);
    expect(replies.filter((r) => r.status === 429 && r.body.error.details.rule === 'client_ip')).toHaveLength(10);
  }, 60_000);
});

describe('availability with reasons', () => {
  it('gives each usable coupon its discount on the cart and each other one a reason', async () => {
    const clock = new ManualClock('2031-05-01T00:00:00Z');
    const t = await (await testApp({ clock })).newTenant();
    const user = `u_${uid()}`;
    const mk = async (body: Record<string, unknown>) => (await claim(t, (await template(t, body)).template_id, user)).coupon_id as string;
    const fixed = await mk({ value: 500, min_amount: 3000, stacking_group: 'store' });
    const percent = await mk({ discount_kind: 'percent', value: 15, max_discount: 100_000, stacking_group: 'store' });
    const capped = await mk({ discount_kind: 'percent', value: 50, max_discount: 700 });
    const minTooHigh = await mk({ value: 500, min_amount: 999_999 });
    const scoped = await mk({ value: 300, scope: { category_ids: ['shoes'] } });
    const excluded = await mk({ value: 300, scope: { all: true, exclude_item_ids: ['a', 'b'] } });
    const ship = await mk({ coupon_type: 'shipping' });
    const shipFixed = await mk({ coupon_type: 'shipping', discount_kind: 'fixed', value: 2000 });
    const gift = await mk({ coupon_type: 'gift', gift_item_id: 'mug' });
    const later = await mk({ valid_from: '2031-06-01T00:00:00Z' });
    const soon = await mk({ valid_until: '2031-05-02T00:00:00Z' });
    clock.advance(2 * 86_400_000);
    // 2 x 1999 + 1 x 3333 = 7331; 15% = 1099.65 -> 1099 (rounded down).
    const body = { user_id: user, cart: cart([{ item_id: 'a', category_id: 'books', unit_price: 1999, quantity: 2 }, { item_id: 'b', unit_price: 3333, quantity: 1 }], 800) };
    const r = must(await t.call('POST', '/v1/coupons/available', body, { key: t.readonly }), 200).body;
    const usable = Object.fromEntries(r.usable.map((u: any) => [u.coupon.coupon_id, u]));
    const why = Object.fromEntries(r.not_usable.map((u: any) => [u.coupon.coupon_id, u.reason]));
    expect(usable[fixed]).toMatchObject({ discount: 500, eligible_amount: 7331 });
    expect(usable[percent]).toMatchObject({ discount: 1099 });
    expect(usable[capped]).toMatchObject({ discount: 700 });
    expect(usable[ship]).toMatchObject({ discount: 0, shipping_discount: 800 });
    expect(usable[shipFixed]).toMatchObject({ shipping_discount: 800 });
    expect(usable[gift]).toMatchObject({ gift_item_id: 'mug', discount: 0 });
    expect(why).toEqual({ [minTooHigh]: 'below_min_amount', [scoped]: 'out_of_scope', [excluded]: 'out_of_scope', [later]: 'not_yet_valid', [soon]: 'expired' });

    const stacked = must(await t.call('POST', '/v1/coupons/available', { ...body, selected: [fixed] }), 200).body;
    const conflict = stacked.not_usable.find((u: any) => u.coupon.coupon_id === percent);
    expect(conflict).toMatchObject({ reason: 'not_stackable_with', details: { conflicts_with: [fixed] } });
    expect(stacked.usable.map((u: any) => u.coupon.coupon_id)).toContain(fixed);

    const plain = must(await t.call('GET', `/v1/coupons/available?user_id=${user}`), 200).body;
    expect(plain.usable.find((u: any) => u.coupon.coupon_id === fixed)).toMatchObject({ discount: null });
  });

  it('an exclusive coupon stacks with nothing', async () => {
    const t = await (await testApp()).newTenant();
    const a = (await claim(t, (await template(t, { exclusive: true })).template_id, 'x')).coupon_id;
    const b = (await claim(t, (await template(t, {})).template_id, 'x')).coupon_id;
    const r = must(await t.call('POST', '/v1/coupons/available', { user_id: 'x', selected: [b] }), 200).body;
    expect(r.not_usable).toEqual([expect.objectContaining({ reason: 'not_stackable_with', details: { conflicts_with: [b] } })]);
    expect(r.not_usable[0].coupon.coupon_id).toBe(a);
  });
});
