import { describe, expect, it } from 'vitest';
import { must, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import { FORM, newPhone, orderBody } from './testing/referral-fixtures.js';

const keyless = { key: null };

/** The document's 创建活动 body: a rate of 0.1 (10%), the sandbox to pay. */
const docBody = (extra: Record<string, unknown> = {}) => ({
  name: '暑期编程课',
  description: '八周课程',
  image_url: 'https://img.example.test/main.png',
  form_fields: FORM,
  reward_rule: 0.1,
  payment: { amount: 9900, provider: 'sandbox' },
  start_time: '2020-01-01T00:00:00Z',
  end_time: '2099-12-31T23:59:59Z',
  ...extra,
});

/** Writes as the admin key with the product line in X-Product-Code, as on /v1/campaigns. */
const admin = (t: TenantFixture) => ({ key: t.admin, headers: { 'x-product-code': t.productCode } });

async function create(t: TenantFixture, extra: Record<string, unknown> = {}) {
  return must(await t.call('POST', '/api/v1/campaigns', docBody(extra), admin(t)), 201).body;
}

const code = (r: { body: { error?: { code?: string } } }) => r.body.error?.code;

async function pageStatus(a: TestApp, id: string) {
  return (await a.call('GET', `/api/v1/campaigns/${id}/form`, undefined, keyless)).status;
}

describe("the document's campaign paths (/api/v1/campaigns)", () => {
  it('creates with reward_rule 0.1; the page answers at once; a paid sign-up credits the referrer 10%', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const started = performance.now();
    const created = await create(t);
    const form = must(await a.call('GET', `/api/v1/campaigns/${created.id}/form`, undefined, keyless), 200).body;
    const elapsedMs = performance.now() - started;
    // The document promises a created campaign is online within a minute; here it is the same request.
    expect(elapsedMs).toBeLessThan(60_000);
    expect(created).toMatchObject({
      name: '暑期编程课',
      description: '八周课程',
      image_url: 'https://img.example.test/main.png',
      form_fields: FORM,
      reward_rule: { type: 'percent', percent: 10, cap: null },
      reward_rate: 0.1,
      payment: { amount: 9900, currency: 'CNY', provider: 'sandbox' },
      start_time: '2020-01-01T00:00:00.000Z',
      end_time: '2099-12-31T23:59:59.000Z',
      status: 'active',
    });
    expect(created.page_url).toMatch(new RegExp(`/p/${created.id}$`));
    expect(form).toMatchObject({ campaign_id: created.id, title: '暑期编程课', amount: 9900, form_fields: FORM });
    expect(must(await t.call('GET', `/api/v1/campaigns/${created.id}`), 200).body).toEqual(created);

    const referrer = `ref-${newPhone()}`;
    const order = must(await a.call('POST', '/api/v1/orders', orderBody(created.id, newPhone(), { u_id: referrer }), keyless), 201).body;
    must(await a.call('POST', `/api/v1/orders/${order.order_id}/sandbox-pay`, undefined, keyless), 200);
    // 10% of 99.00 yuan.
    expect(must(await t.call('GET', `/api/v1/rewards/balance/${referrer}`), 200).body).toMatchObject({ balance: 990, total_reward: 990 });
  });

  it('status disabled: created offline; PUT status active publishes it', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const created = await create(t, { status: 'disabled' });
    expect(created.status).toBe('disabled');
    expect(await pageStatus(a, created.id)).toBe(404);
    const put = must(await t.call('PUT', `/api/v1/campaigns/${created.id}`, { status: 'active' }, { key: t.admin }), 200).body;
    expect(put.status).toBe('active');
    expect(await pageStatus(a, created.id)).toBe(200);
  });

  it('lists with paging, keyword and status; deleted and plain campaigns left out', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create(t, { name: `编程课 ${i}` })).id);
    const disabled = await create(t, { name: '书法课', status: 'disabled' });
    const art = await create(t, { name: '美术课' });
    // A campaign without referral settings is not one of these.
    must(await t.call('POST', '/v1/campaigns', { campaign_name: '编程课 plain', campaign_type: 'PROMOTION', product_code: t.productCode }, { key: t.admin }), 201);
    const all = must(await t.call('GET', '/api/v1/campaigns?page=1&page_size=3'), 200).body;
    expect(all.pagination).toEqual({ total: 7, page: 1, page_size: 3 });
    expect(all.campaigns.map((c: { id: string }) => c.id)).toEqual([art.id, disabled.id, ids[4]]);
    const page3 = must(await t.call('GET', '/api/v1/campaigns?page=3&page_size=3'), 200).body;
    expect(page3.campaigns.map((c: { id: string }) => c.id)).toEqual([ids[0]]);
    const keyword = must(await t.call('GET', `/api/v1/campaigns?keyword=${encodeURIComponent('编程')}`), 200).body;
    expect(keyword.pagination.total).toBe(5);
    expect(must(await t.call('GET', '/api/v1/campaigns?status=disabled'), 200).body.campaigns.map((c: { id: string }) => c.id)).toEqual([disabled.id]);
    expect(must(await t.call('GET', '/api/v1/campaigns?status=active'), 200).body.pagination.total).toBe(6);
    expect(must(await t.call('GET', '/api/v1/campaigns?status=ended'), 200).body.pagination.total).toBe(0);
    must(await t.call('DELETE', `/api/v1/campaigns/${ids[2]}`, undefined, { key: t.admin }), 204);
    const after = must(await t.call('GET', '/api/v1/campaigns?page_size=100'), 200).body;
    expect(after.pagination.total).toBe(6);
    expect(after.campaigns.map((c: { id: string }) => c.id)).not.toContain(ids[2]);
    // Another tenant lists nothing of them.
    expect(must(await (await a.newTenant()).call('GET', '/api/v1/campaigns'), 200).body.pagination.total).toBe(0);
  });

  it('PUT changes some fields and keeps the rest; the page shows them', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const created = await create(t);
    const put = must(
      await t.call('PUT', `/api/v1/campaigns/${created.id}`, { name: '秋季编程课', reward_rule: 0.125, payment: { amount: 19900 }, image_url: null }, { key: t.admin }),
      200,
    ).body;
    expect(put).toMatchObject({
      id: created.id,
      name: '秋季编程课',
      description: '八周课程',
      image_url: null,
      form_fields: FORM,
      reward_rule: { type: 'percent', percent: 12.5 },
      reward_rate: 0.125,
      payment: { amount: 19900, currency: 'CNY', provider: 'sandbox' },
      status: 'active',
    });
    expect(must(await a.call('GET', `/api/v1/campaigns/${created.id}/form`, undefined, keyless), 200).body).toMatchObject({ title: '秋季编程课', amount: 19900, image_url: null });
    const fixed = must(await t.call('PUT', `/api/v1/campaigns/${created.id}`, { reward_rule: { type: 'fixed', amount: 500 } }, { key: t.admin }), 200).body;
    expect(fixed).toMatchObject({ reward_rule: { type: 'fixed', amount: 500 }, reward_rate: null });
    must(await t.call('PUT', `/api/v1/campaigns/${created.id}`, { status: 'disabled' }, { key: t.admin }), 200);
    expect(await pageStatus(a, created.id)).toBe(404);
    expect(must(await t.call('GET', `/api/v1/campaigns/${created.id}`), 200).body.status).toBe('disabled');
    expect(code(await t.call('PUT', `/api/v1/campaigns/${created.id}`, { status: 'ended' }, { key: t.admin }))).toBe('invalid_request');
  });

  it('DELETE: 204, then 404 on the page and on every path; the settings row stays with deleted_at', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const created = await create(t);
    expect(await pageStatus(a, created.id)).toBe(200);
    must(await t.call('DELETE', `/api/v1/campaigns/${created.id}`, undefined, { key: t.admin }), 204);
    expect(await pageStatus(a, created.id)).toBe(404);
    expect(code(await t.call('GET', `/api/v1/campaigns/${created.id}`))).toBe('campaign_not_found');
    expect((await t.call('PUT', `/api/v1/campaigns/${created.id}`, { name: 'x' }, { key: t.admin })).status).toBe(404);
    expect((await t.call('DELETE', `/api/v1/campaigns/${created.id}`, undefined, { key: t.admin })).status).toBe(404);
    const row = await a.database.db.selectFrom('referral_campaign').selectAll().where('campaign_id', '=', created.id).executeTakeFirstOrThrow();
    expect(row.status).toBe('disabled');
    expect(row.deleted_at).toBeInstanceOf(Date);
    expect(must(await t.call('GET', `/v1/campaigns/${created.id}`), 200).body.status).toBe('ARCHIVED');
    // A draft (created disabled) is deleted through the campaigns module instead.
    const draft = await create(t, { status: 'disabled' });
    must(await t.call('DELETE', `/api/v1/campaigns/${draft.id}`, undefined, { key: t.admin }), 204);
    expect((await t.call('GET', `/v1/campaigns/${draft.id}`)).status).toBe(404);
  });

  it('100 parallel DELETEs of one campaign: exactly one 204, the rest 404', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const created = await create(t);
    const replies = await Promise.all(Array.from({ length: 100 }, () => t.call('DELETE', `/api/v1/campaigns/${created.id}`, undefined, { key: t.admin })));
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 204)).toHaveLength(1);
    expect(statuses.filter((s) => s === 404)).toHaveLength(99);
    expect(await pageStatus(a, created.id)).toBe(404);
    expect(must(await t.call('GET', `/v1/campaigns/${created.id}`), 200).body.status).toBe('ARCHIVED');
  });

  it("another tenant's id is 404 on every path; a readonly key reads but cannot write", async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const other = await a.newTenant();
    const created = await create(t);
    expect(code(await other.call('GET', `/api/v1/campaigns/${created.id}`))).toBe('campaign_not_found');
    expect((await other.call('PUT', `/api/v1/campaigns/${created.id}`, { name: 'x' }, { key: other.admin })).status).toBe(404);
    expect((await other.call('DELETE', `/api/v1/campaigns/${created.id}`, undefined, { key: other.admin })).status).toBe(404);
    expect(await pageStatus(a, created.id)).toBe(200);
    expect((await t.call('GET', `/api/v1/campaigns/${created.id}`, undefined, { key: t.readonly })).status).toBe(200);
    for (const [method, url, body] of [
      ['POST', '/api/v1/campaigns', docBody()],
      ['PUT', `/api/v1/campaigns/${created.id}`, { name: 'x' }],
      ['DELETE', `/api/v1/campaigns/${created.id}`, undefined],
    ] as const) {
      for (const key of [t.readonly, t.service]) {
        const r = await t.call(method, url, body, { key, headers: { 'x-product-code': t.productCode } });
        expect(r.status, `${method} ${url}`).toBe(403);
      }
    }
    expect((await a.call('GET', '/api/v1/campaigns', undefined, keyless)).status).toBe(401);
    expect(must(await t.call('GET', `/api/v1/campaigns/${created.id}`), 200).body.name).toBe('暑期编程课');
  });

  it('bad input is a 400 with a code and writes nothing', async () => {
    const a = await testApp();
    const t = await a.newTenant();
    const bad: [Record<string, unknown>, string][] = [
      [{ reward_rule: 0 }, 'invalid_request'],
      [{ reward_rule: 1.5 }, 'invalid_request'],
      [{ reward_rule: -0.1 }, 'invalid_request'],
      [{ reward_rule: 0.00001 }, 'invalid_reward_rule'],
      [{ form_fields: { type: 'string' } }, 'invalid_request'],
      [{ form_fields: { type: 'object', properties: { a: { type: 'nope' } } } }, 'invalid_request'],
      [{ end_time: '2019-01-01T00:00:00Z' }, 'invalid_request'],
      [{ payment: { amount: 0, provider: 'sandbox' } }, 'invalid_request'],
      [{ status: 'ended' }, 'invalid_request'],
    ];
    for (const [extra, expected] of bad) {
      const r = await t.call('POST', '/api/v1/campaigns', docBody(extra), admin(t));
      expect(r.status, JSON.stringify(extra)).toBe(400);
      expect(code(r), JSON.stringify(extra)).toBe(expected);
    }
    // A window already over fails at publish, after the campaign and settings were written: all rolled back.
    const over = await t.call('POST', '/api/v1/campaigns', docBody({ start_time: '2020-01-01T00:00:00Z', end_time: '2020-02-01T00:00:00Z' }), admin(t));
    expect(over.status).toBe(409);
    expect(must(await t.call('GET', '/api/v1/campaigns'), 200).body.pagination.total).toBe(0);
    expect(must(await t.call('GET', '/v1/campaigns'), 200).body.pagination.total).toBe(0);
    expect(await a.database.db.selectFrom('referral_campaign').select('campaign_id').where('tenant_id', '=', t.tenantId).execute()).toEqual([]);
  });
});
