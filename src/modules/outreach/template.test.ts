import { describe, expect, it } from 'vitest';
import { must, type Reply, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';

/** Asserts a refusal: the status, the error code, and the one error body shape. */
function expectRefusal(reply: Reply, status: number, code: string) {
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  expect(reply.body.error.code).toBe(code);
  expect(Object.keys(reply.body).sort()).toEqual(['error', 'requestId']);
  return reply.body.error as { code: string; message: string; details: Record<string, unknown> };
}

const URL = '/v1/outreach/templates';
const PRODUCT_SENTENCE = '亲爱的[客户姓名]，您有一份6月专属好礼待领取！详情请访问[链接]。退订请回复TD。';
const TEMPLATE_FIELDS = ['channel', 'content', 'created_at', 'created_by', 'defaults', 'name', 'template_id', 'tenant_id', 'updated_at', 'updated_by'];

const sms = (text: string, extra: Record<string, unknown> = {}) => ({ name: 'June gift', channel: 'sms', content: { text }, ...extra });

async function createTemplate(t: TenantFixture, body: unknown) {
  return must(await t.call('POST', URL, body), 201).body;
}

describe('outreach templates: CRUD', () => {
  it('creates, reads, lists by channel, updates and soft-deletes', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const created = await createTemplate(t, sms(PRODUCT_SENTENCE, { defaults: { 'customer.name': '顾客' } }));
    expect(Object.keys(created).sort()).toEqual(TEMPLATE_FIELDS);
    expect(created.template_id).toMatch(/^tpl_[0-9A-Z]{26}$/);
    expect(created).toMatchObject({ tenant_id: t.tenantId, channel: 'sms', content: { text: PRODUCT_SENTENCE }, defaults: { 'customer.name': '顾客' } });
    expect(created.created_by).toMatch(/\S/);
    expect(created.updated_by).toBe(created.created_by);
    expect(must(await t.call('GET', `${URL}/${created.template_id}`, undefined, { key: t.readonly }), 200).body).toEqual(created);

    const email = await createTemplate(t, {
      name: 'Welcome',
      channel: 'email',
      content: { subject: 'Hi {{ customer.name }}', html: '<p>{{ customer.attributes.city | default: "your city" }}</p>', text: 'Hi' },
    });
    const all = must(await t.call('GET', URL, undefined, { key: t.readonly }), 200).body;
    expect(all.pagination).toEqual({ total: 2, page: 1, page_size: 20 });
    expect(all.templates.map((x: { template_id: string }) => x.template_id)).toEqual([email.template_id, created.template_id]);
    const onlySms = must(await t.call('GET', URL, undefined, { query: { channel: 'sms' } }), 200).body;
    expect(onlySms.templates.map((x: { template_id: string }) => x.template_id)).toEqual([created.template_id]);
    expect(onlySms.pagination.total).toBe(1);
    const page2 = must(await t.call('GET', URL, undefined, { query: { page: 2, page_size: 1 } }), 200).body;
    expect(page2.templates.map((x: { template_id: string }) => x.template_id)).toEqual([created.template_id]);

    const updated = must(await t.call('PUT', `${URL}/${created.template_id}`, { name: 'Renamed', content: { text: '你好 {{ customer.name }}' } }), 200).body;
    expect(updated).toMatchObject({ name: 'Renamed', content: { text: '你好 {{ customer.name }}' }, defaults: { 'customer.name': '顾客' }, created_at: created.created_at });
    expectRefusal(await t.call('PUT', `${URL}/${created.template_id}`, {}), 400, 'invalid_request');

    expect((await t.call('DELETE', `${URL}/${created.template_id}`)).status).toBe(204);
    expectRefusal(await t.call('GET', `${URL}/${created.template_id}`), 404, 'template_not_found');
    expectRefusal(await t.call('DELETE', `${URL}/${created.template_id}`), 404, 'template_not_found');
    expect(must(await t.call('GET', URL), 200).body.pagination.total).toBe(1);
  });

  it('refuses content of another channel and unknown fields: 400 invalid_request', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const error = expectRefusal(await t.call('POST', URL, { name: 'x', channel: 'email', content: { text: 'hi' } }), 400, 'invalid_request');
    expect(error.details.field).toBe('content.subject');
    expectRefusal(await t.call('POST', URL, { name: 'x', channel: 'fax', content: { text: 'hi' } }), 400, 'invalid_request');
  });
  it('parallel updates of content and defaults: each lands on the version it validated, or answers 409 concurrent_update', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const created = await createTemplate(t, sms('Hi [客户姓名]'));
    const bodies = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0 ? { content: { text: `Hi [客户姓名] #${i}` } } : { defaults: { 'customer.name': `guest ${i}` } },
    );
    const replies = await Promise.all(bodies.map((b) => t.call('PUT', `${URL}/${created.template_id}`, b)));
    for (const r of replies) {
      if (r.status !== 200) expectRefusal(r, 409, 'concurrent_update');
    }
    expect(replies.some((r) => r.status === 200)).toBe(true);
    const final = must(await t.call('GET', `${URL}/${created.template_id}`), 200).body;
    const okContent = replies.filter((r, i) => r.status === 200 && i % 2 === 0).map((r) => r.body.content.text);
    const okDefaults = replies.filter((r, i) => r.status === 200 && i % 2 === 1).map((r) => r.body.defaults['customer.name']);
    // The last writer of each part won, and no 200 reported a version that was overwritten unseen.
    if (okContent.length > 0) expect(okContent).toContain(final.content.text);
    if (okDefaults.length > 0) expect(okDefaults).toContain(final.defaults['customer.name']);
  });
});

describe('outreach templates: rendering', () => {
  it('renders the product sentence for a customer with a name, and the default for one without', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    must(await t.call('PUT', '/v1/customers/u-named', { attributes: { name: '张三', city: '上海' } }), 201);
    must(await t.call('PUT', '/v1/customers/u-anon', { attributes: { city: '北京' } }), 201);
    const tpl = await createTemplate(t, sms(PRODUCT_SENTENCE, { defaults: { 'customer.name': '顾客' } }));
    const link = 'https://m.example.com/j6';
    const named = must(await t.call('POST', `${URL}/${tpl.template_id}/preview`, { user_id: 'u-named', link }), 200).body;
    expect(named).toEqual({ channel: 'sms', user_id: 'u-named', content: { text: `亲爱的张三，您有一份6月专属好礼待领取！详情请访问${link}。退订请回复TD。` } });
    const anon = must(await t.call('POST', `${URL}/${tpl.template_id}/preview`, { user_id: 'u-anon', link }), 200).body;
    expect(anon.content.text).toBe(`亲爱的顾客，您有一份6月专属好礼待领取！详情请访问${link}。退订请回复TD。`);
    expectRefusal(await t.call('POST', `${URL}/${tpl.template_id}/preview`, { user_id: 'nobody' }), 404, 'customer_not_found');
  });

  it('renders an unsaved body: Liquid tags, filters, attributes, HTML escaping, webhook JSON', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    must(await t.call('PUT', '/v1/customers/u1', { attributes: { name: '<b>Ann</b>', city: 'Paris' }, tags: ['vip'] }), 201);
    const email = must(
      await t.call('POST', `${URL}/preview`, {
        channel: 'email',
        user_id: 'u1',
        campaign: { name: 'June' },
        content: {
          subject: '{{ campaign.name }}: {% if customer.tags contains "vip" %}VIP {% endif %}{{ customer.name }}',
          html: '<p>{{ customer.name }} in {{ customer.attributes.city }}, {{ customer.attributes.zip | default: "no zip" }}</p>',
          text: '{{ customer.user_id | upcase }}',
        },
      }),
      200,
    ).body;
    expect(email.content).toEqual({ subject: 'June: VIP <b>Ann</b>', html: '<p>&lt;b&gt;Ann&lt;/b&gt; in Paris, no zip</p>', text: 'U1' });
    const hook = must(
      await t.call('POST', `${URL}/preview`, { channel: 'webhook', user_id: 'u1', link: 'L', content: { json: { to: '{{ customer.user_id }}', n: 3, items: ['[链接]', true] } } }),
      200,
    ).body;
    expect(hook.content).toEqual({ json: { to: 'u1', n: 3, items: ['L', true] } });
    const loop = { channel: 'sms', user_id: 'u1', content: { text: '{% for i in (1..100000000) %}{{ i }}{% endfor %}' } };
    expectRefusal(await t.call('POST', `${URL}/preview`, loop), 400, 'template_invalid');
  });
});

describe('outreach templates: validation at save time', () => {
  it('refuses a template that does not parse: 400 template_invalid with field, line and col', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const error = expectRefusal(
      await t.call('POST', URL, { name: 'x', channel: 'email', content: { subject: 'ok', html: '<p>\n  {% if customer.name %}hi', text: 'x' } }),
      400,
      'template_invalid',
    );
    expect(error.details).toMatchObject({ field: 'content.html', line: 2, col: 3 });
    expect(String(error.details.message)).toMatch(/not closed/);
    const unclosed = expectRefusal(await t.call('POST', URL, sms('[客户姓名] {{ customer.name')), 400, 'template_invalid');
    expect(unclosed.details).toMatchObject({ field: 'content.text', line: 1, col: 8 });
  });

  it('refuses an unknown variable, bracket name or filter: 400 template_invalid', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const unknown = expectRefusal(await t.call('POST', URL, sms('[链接] hi\n{{ customer.password }}')), 400, 'template_invalid');
    expect(unknown.details).toMatchObject({ field: 'content.text', line: 2, col: 4 });
    expect(String(unknown.details.message)).toMatch(/unknown variable customer\.password/);
    const bracket = expectRefusal(await t.call('POST', URL, sms('您好 [会员等级]')), 400, 'template_invalid');
    expect(bracket.details).toMatchObject({ field: 'content.text', line: 1, col: 4 });
    expectRefusal(await t.call('POST', URL, sms('{{ secret }}')), 400, 'template_invalid');
    expectRefusal(await t.call('POST', URL, sms('{{ link | nope }}')), 400, 'template_invalid');
    expectRefusal(await t.call('POST', URL, sms("{% include 'x' %}")), 400, 'template_invalid');
    const defaults = expectRefusal(await t.call('POST', URL, sms('hi', { defaults: { 'customer.secret': 'x' } })), 400, 'template_invalid');
    expect(defaults.details.field).toBe('defaults.customer.secret');
    expectRefusal(await t.call('POST', `${URL}/preview`, { channel: 'sms', user_id: 'u', content: { text: '{{ nope }}' } }), 400, 'template_invalid');
    expect(must(await t.call('GET', URL), 200).body.pagination.total).toBe(0);
  });

  it('refuses text over the channel limit: 400 content_too_long', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    must(await t.call('POST', URL, sms('字'.repeat(500))), 201);
    const error = expectRefusal(await t.call('POST', URL, sms('字'.repeat(501))), 400, 'content_too_long');
    expect(error.details).toMatchObject({ field: 'content.text', length: 501, limit: 500 });
    const push = { name: 'p', channel: 'push_notification', content: { title: 't'.repeat(101), body: 'b' } };
    expect(expectRefusal(await t.call('POST', URL, push), 400, 'content_too_long').details.field).toBe('content.title');
    const tpl = await createTemplate(t, sms('short'));
    expectRefusal(await t.call('PUT', `${URL}/${tpl.template_id}`, { content: { text: 'x'.repeat(501) } }), 400, 'content_too_long');
    expect(must(await t.call('GET', `${URL}/${tpl.template_id}`), 200).body.content.text).toBe('short');
  });
});

describe('outreach templates: access', () => {
  it("another tenant cannot see, change, delete or preview a template: 404", async () => {
    const app = await testApp();
    const [a, b] = [await app.newTenant(), await app.newTenant()];
    must(await b.call('PUT', '/v1/customers/u1', { attributes: { name: 'B' } }), 201);
    must(await a.call('PUT', '/v1/customers/u1', { attributes: { name: 'A' } }), 201);
    const tpl = await createTemplate(a, sms('hi {{ customer.name }}'));
    const path = `${URL}/${tpl.template_id}`;
    expectRefusal(await b.call('GET', path), 404, 'template_not_found');
    expectRefusal(await b.call('PUT', path, { name: 'x' }), 404, 'template_not_found');
    expectRefusal(await b.call('POST', `${path}/preview`, { user_id: 'u1' }), 404, 'template_not_found');
    expectRefusal(await b.call('DELETE', path), 404, 'template_not_found');
    expect(must(await b.call('GET', URL), 200).body.pagination.total).toBe(0);
    // a's template cannot render b's customer: the customer is looked up in the caller's tenant only.
    must(await b.call('PUT', '/v1/customers/only-b', {}), 201);
    expectRefusal(await a.call('POST', `${path}/preview`, { user_id: 'only-b' }), 404, 'customer_not_found');
    expect(must(await a.call('POST', `${path}/preview`, { user_id: 'u1' }), 200).body.content.text).toBe('hi A');
  });

  it('a readonly key reads but cannot write: 403', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const tpl = await createTemplate(t, sms('hi'));
    const path = `${URL}/${tpl.template_id}`;
    const ro = { key: t.readonly };
    must(await t.call('GET', path, undefined, ro), 200);
    must(await t.call('GET', URL, undefined, ro), 200);
    for (const reply of [
      await t.call('POST', URL, sms('x'), ro),
      await t.call('PUT', path, { name: 'x' }, ro),
      await t.call('DELETE', path, undefined, ro),
      await t.call('POST', `${path}/preview`, { user_id: 'u' }, ro),
    ]) {
      expect(reply.status).toBe(403);
      expect(['read_only_key', 'insufficient_role']).toContain(reply.body.error.code);
    }
    expect(must(await t.call('GET', path), 200).body.name).toBe('June gift');
    must(await t.call('PUT', path, { name: 'by admin' }, { key: t.admin }), 200);
  });
});
