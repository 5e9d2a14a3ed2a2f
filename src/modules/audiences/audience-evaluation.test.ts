import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../platform/clock.js';
import { must, testApp, type TenantFixture, type TestApp } from '../../../test/helpers/test-app.js';

const USERS = ['alice', 'bob', 'carol', 'dave'];

describe('audience evaluation: SQL count, membership and preview agree for every operator', () => {
  const clock = new ManualClock('2025-10-01T00:00:00Z');
  let app: TestApp;
  let t: TenantFixture;

  beforeAll(async () => {
    app = await testApp({ clock });
    t = await app.newTenant();
    must(await t.call('PUT', '/v1/customers/alice', {
      tags: ['vip', 'gold'],
      attributes: { age: 35, city: 'Shanghai', score: 9.5, langs: ['zh', 'en'], registered_at: '2025-12-20T00:00:00Z', nested: { level: 3 }, bio: 'loves coffee' },
      consent: { sms: 'opt_in' },
    }), 201);
    clock.set('2025-12-25T00:00:00Z');
    must(await t.call('PUT', '/v1/customers/bob', {
      tags: ['new'],
      attributes: { age: 17, city: 'Beijing', registered_at: '2024-01-01', langs: ['en'], bio: 'tea' },
      consent: { sms: 'opt_out' },
    }), 201);
    clock.set('2025-12-31T00:00:00Z');
    must(await t.call('PUT', '/v1/customers/carol', { attributes: { age: '40', city: 'shanghai', registered_at: 'soon', nested: { level: 'x' } } }), 201);
    must(await t.call('PUT', '/v1/customers/dave', { tags: ['vip'], attributes: { age: 60, registered_at: '2025-02-30' } }), 201);
    clock.set('2026-01-01T00:00:00Z');
  });

  /** Creates the audience and checks count, per-user membership and the preview against `expected`. */
  async function check(body: Record<string, unknown>, expected: string[]) {
    const audience = must(await t.call('POST', '/v1/audiences', { audience_name: 'x', product_code: t.productCode, ...body }), 201).body;
    const id = audience.audience_id as string;
    const label = JSON.stringify(body.rule);
    expect(must(await t.call('GET', `/v1/audiences/${id}/count`), 200).body.count, label).toBe(expected.length);
    const members: string[] = [];
    for (const user of USERS) {
      const m = must(await t.call('GET', `/v1/audiences/${id}/members`, undefined, { query: { user_id: user } }), 200).body;
      if (m.member) members.push(user);
      expect(m.reasons.length, `${label} ${user}`).toBeGreaterThan(0);
    }
    expect(members, label).toEqual(expected);
    const preview = must(await t.call('GET', `/v1/audiences/${id}/preview`, undefined, { query: { page_size: 10 } }), 200).body;
    expect(preview.customers.map((c: { user_id: string }) => c.user_id), label).toEqual(expected);
    return id;
  }
  const seg = (rule: unknown, expected: string[]) => check({ audience_type: 'SEGMENT', rule }, expected);
  const leaf = (field: string, op: string, value?: unknown) => ({ field, op, ...(value !== undefined ? { value } : {}) });

  it('tags: contains, in, not_in, exists; TAG rules', async () => {
    await seg(leaf('tags', 'contains', 'vip'), ['alice', 'dave']);
    await seg(leaf('tags', 'in', ['gold', 'new']), ['alice', 'bob']);
    await seg(leaf('tags', 'not_in', ['vip']), ['bob', 'carol']);
    await seg(leaf('tags', 'exists'), ['alice', 'bob', 'dave']);
    await check({ audience_type: 'TAG', rule: { tags_any: ['vip', 'new'], tags_none: ['gold'] } }, ['bob', 'dave']);
    await check({ audience_type: 'TAG', rule: { tags_all: ['vip', 'gold'] } }, ['alice']);
  });

  it('attributes: eq / neq (type-exact; missing is not equal), in / not_in', async () => {
    await seg(leaf('attributes.city', 'eq', 'Shanghai'), ['alice']);
    await seg(leaf('attributes.city', 'neq', 'Shanghai'), ['bob', 'carol', 'dave']);
    await seg(leaf('attributes.age', 'eq', 35), ['alice']);
    await seg(leaf('attributes.age', 'eq', '40'), ['carol']);
    await seg(leaf('attributes.city', 'in', ['Shanghai', 'Beijing']), ['alice', 'bob']);
    await seg(leaf('attributes.city', 'not_in', ['Shanghai', 'Beijing']), ['carol', 'dave']);
    await seg(leaf('attributes.nested.level', 'eq', 3), ['alice']);
    // Long lists take another SQL form (an array built once); same answers.
    const many = Array.from({ length: 40 }, (_, i) => `city${i}`);
    await seg(leaf('attributes.city', 'in', [...many, 'Beijing']), ['bob']);
    await seg(leaf('attributes.city', 'not_in', [...many, 'Beijing']), ['alice', 'carol', 'dave']);
    await seg(leaf('attributes.age', 'in', [...Array.from({ length: 40 }, (_, i) => 100 + i), 35, '40']), ['alice', 'carol']);
  });

  it('attributes: gt / gte / lt / lte / between on numbers and text; values of another type never match', async () => {
    await seg(leaf('attributes.age', 'gt', 30), ['alice', 'dave']);
    await seg(leaf('attributes.age', 'gte', 35), ['alice', 'dave']);
    await seg(leaf('attributes.age', 'lt', 35), ['bob']);
    await seg(leaf('attributes.age', 'lte', 17), ['bob']);
    await seg(leaf('attributes.age', 'between', [17, 35]), ['alice', 'bob']);
    await seg(leaf('attributes.score', 'gt', 9), ['alice']);
    await seg(leaf('attributes.nested.level', 'gte', 3), ['alice']);
    await seg(leaf('attributes.city', 'gt', 'R'), ['alice', 'carol']);
    await seg(leaf('attributes.city', 'between', ['A', 'C']), ['bob']);
  });

  it('attributes: contains (array element or substring) and exists', async () => {
    await seg(leaf('attributes.langs', 'contains', 'en'), ['alice', 'bob']);
    await seg(leaf('attributes.bio', 'contains', 'coffee'), ['alice']);
    await seg(leaf('attributes.bio', 'contains', 'ea'), ['bob']);
    await seg(leaf('attributes.nested', 'exists'), ['alice', 'carol']);
    await seg(leaf('attributes.city', 'exists'), ['alice', 'bob', 'carol']);
  });

  it('dates: before / after absolute and relative; malformed dates never match', async () => {
    await seg(leaf('attributes.registered_at', 'after', { ago: '30d' }), ['alice']);
    await seg(leaf('attributes.registered_at', 'before', '2025-01-01T00:00:00Z'), ['bob']);
    await seg(leaf('attributes.registered_at', 'between', ['2023-01-01', '2025-12-31T23:59:59Z']), ['alice', 'bob']);
    await seg(leaf('created_at', 'between', ['2025-09-01T00:00:00Z', '2025-12-26T00:00:00Z']), ['alice', 'bob']);
    await seg(leaf('created_at', 'before', { ago: '1w' }), ['alice']);
    // Offsets are honoured: 2025-12-20T00:00:00Z is 2025-12-20T08:00:00+08:00.
    await seg(leaf('attributes.registered_at', 'gte', '2025-12-20T08:00:00+08:00'), ['alice']);
    await seg(leaf('attributes.registered_at', 'gt', '2025-12-20T08:00:00+08:00'), []);
  });

  it('date attributes follow every write: replaced, removed, nested, imported', async () => {
    const u = await app.newTenant();
    const audience = must(await u.call('POST', '/v1/audiences', {
      audience_name: 'trial ends soon', audience_type: 'SEGMENT', product_code: u.productCode,
      rule: { or: [{ field: 'attributes.trial_ends', op: 'before', value: { from_now: '7d' } }, { field: 'attributes.plan.renews', op: 'before', value: '2026-01-05' }] },
    }), 201).body;
    const count = async () => must(await u.call('GET', `/v1/audiences/${audience.audience_id}/count`), 200).body.count as number;
    must(await u.call('PUT', '/v1/customers/d1', { attributes: { trial_ends: '2026-01-03T00:00:00Z' } }), 201);
    must(await u.call('PUT', '/v1/customers/d2', { attributes: { plan: { renews: '2026-01-02' } } }), 201);
    expect(await count()).toBe(2);
    must(await u.call('PUT', '/v1/customers/d1', { attributes: { trial_ends: '2026-03-01T00:00:00Z' } }), 200);
    must(await u.call('PUT', '/v1/customers/d2', { attributes: { plan: { name: 'pro' } } }), 200);
    expect(await count()).toBe(0);
    must(await u.call('PUT', '/v1/customers/d1', { attributes: { trial_ends: '2026-01-02' } }), 200);
    expect(await count()).toBe(1);
    must(await u.call('PUT', '/v1/customers/d1', { attributes: { trial_ends: 'next week' } }), 200);
    expect(await count()).toBe(0);
    must(await u.call('PUT', '/v1/customers/d1', { attributes: { trial_ends: '2026-01-02' } }), 200);
    must(await u.call('PUT', '/v1/customers/d1', { attributes: { trial_ends: null } }), 200);
    expect(await count()).toBe(0);
    const csv = 'user_id,trial_ends,plan:json\nd3,2026-01-04T12:00:00+08:00,\nd4,,"{""renews"": ""2026-01-01""}"\nd5,2027-01-01,\n';
    must(await u.call('POST', '/v1/customers/import', undefined, { payload: csv, headers: { 'content-type': 'text/csv' } }), 200);
    expect(await count()).toBe(2);
  });

  it('"registered in the last 30 days" moves with the clock', async () => {
    const id = await seg(leaf('created_at', 'after', { ago: '30d' }), ['bob', 'carol', 'dave']);
    clock.set('2026-01-28T00:00:00Z');
    try {
      expect(must(await t.call('GET', `/v1/audiences/${id}/count`), 200).body.count).toBe(2);
      const bob = must(await t.call('GET', `/v1/audiences/${id}/members`, undefined, { query: { user_id: 'bob' } }), 200).body;
      expect(bob).toMatchObject({ member: false, reasons: ['not: created_at after {"ago":"30d"}'] });
      clock.set('2026-03-01T00:00:00Z');
      expect(must(await t.call('GET', `/v1/audiences/${id}/count`), 200).body.count).toBe(0);
    } finally {
      clock.set('2026-01-01T00:00:00Z');
    }
  });

  it('user_id and consent fields', async () => {
    await seg(leaf('user_id', 'in', ['alice', 'zed']), ['alice']);
    await seg(leaf('user_id', 'neq', 'alice'), ['bob', 'carol', 'dave']);
    await seg(leaf('consent.sms', 'eq', 'opt_in'), ['alice']);
    await seg(leaf('consent.sms', 'neq', 'opt_in'), ['bob', 'carol', 'dave']);
    await seg(leaf('consent.sms', 'exists'), ['alice', 'bob']);
    await seg(leaf('consent.email', 'exists'), []);
  });

  it('and / or / not trees, with the reasons that decided each answer', async () => {
    const rule = {
      and: [leaf('tags', 'contains', 'vip'), { or: [leaf('attributes.age', 'lt', 40), { not: leaf('attributes.city', 'exists') }] }],
    };
    const id = await seg(rule, ['alice', 'dave']);
    await seg({ not: leaf('tags', 'contains', 'vip') }, ['bob', 'carol']);
    await seg({ or: [leaf('attributes.age', 'gt', 50), leaf('tags', 'in', ['new'])] }, ['bob', 'dave']);
    const why = async (user: string) => must(await t.call('GET', `/v1/audiences/${id}/members`, undefined, { query: { user_id: user } }), 200).body;
    expect(await why('alice')).toEqual({ audience_id: id, user_id: 'alice', member: true, reasons: ['tags contains "vip"', 'attributes.age lt 40'] });
    expect(await why('dave')).toMatchObject({ member: true, reasons: ['tags contains "vip"', 'not: attributes.city exists'] });
    expect(await why('bob')).toMatchObject({ member: false, reasons: ['not: tags contains "vip"'] });
    expect(await why('zed')).toMatchObject({ member: false, reasons: ['no customer profile'] });
    // The same answer through the interface other modules call.
    expect(await app.app.services.audiences.checkMember(t.tenantId, id, 'alice')).toEqual({ member: true, reasons: ['tags contains "vip"', 'attributes.age lt 40'] });
    await expect(app.app.services.audiences.checkMember(t.tenantId, 'aud_missing', 'alice')).rejects.toMatchObject({ code: 'audience_not_found' });
  });

  it('values reach SQL only as parameters', async () => {
    const sneaky = "x' or 1=1 --";
    await seg(leaf('attributes.city', 'eq', sneaky), []);
    await seg(leaf(`attributes.city`, 'contains', sneaky), []);
    await seg(leaf('tags', 'in', [sneaky]), []);
    const metrics = (await app.call('GET', '/metrics', undefined, { key: null })).body as string;
    expect(metrics).toMatch(/marketing_audience_evaluated_total\{audience_type="SEGMENT",operation="count"\} [1-9]/);
  });
});
