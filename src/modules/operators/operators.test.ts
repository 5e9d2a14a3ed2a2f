import { describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { asBrowser, PASSWORD, signIn, signInRaw, uniqueEmail } from '../../../test/helpers/console-session.js';
import { must, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';

async function newOperator(t: TenantFixture, role: 'admin' | 'operator' | 'viewer', password = PASSWORD) {
  const email = uniqueEmail(role);
  const created = must(await t.call('POST', '/v1/operators', { email, password, role, name: `The ${role}` }, { key: t.admin }), 201).body;
  return { email, created };
}

describe('console sign-in', () => {
  it('signs in: the operator, a CSRF token and an HttpOnly SameSite=Strict cookie; never the password', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { email, created } = await newOperator(t, 'admin');
    expect(created).toMatchObject({ tenant_id: t.tenantId, email, role: 'admin', disabled: false });
    expect(JSON.stringify(created)).not.toMatch(/password|argon/i);

    // The e-mail is case-insensitive.
    const answer = await signInRaw(app.app, { email: email.toUpperCase(), password: PASSWORD, tenant_id: t.tenantId });
    expect(answer.status).toBe(200);
    expect(answer.body.operator).toMatchObject({ operator_id: created.operator_id, tenant_id: t.tenantId, role: 'admin' });
    expect(answer.body.csrf_token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(JSON.stringify(answer.body)).not.toMatch(/password|argon/i);
    const cookie = String(answer.headers['set-cookie']);
    expect(cookie).toMatch(/^mh_session=[A-Za-z0-9_-]{40,}; HttpOnly; SameSite=Strict; Path=\/$/);
    expect(cookie).not.toContain('Secure');

    const browser = { cookie: /^mh_session=([^;]+)/.exec(cookie)![1]!, csrf: answer.body.csrf_token as string, operator: answer.body.operator };
    const session = await asBrowser(app.app, browser, 'GET', '/v1/console/session');
    expect(session.status).toBe(200);
    expect(session.body).toEqual(answer.body);
    // The session table holds a hash of the cookie, never the value.
    const rows = await app.database.db.selectFrom('operator_session').selectAll().where('operator_id', '=', created.operator_id).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.session_hash).not.toContain(browser.cookie);
  });

  it('answers an unknown e-mail, a wrong password and another tenant alike: 401 invalid_credentials', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const other = await app.newTenant();
    const { email } = await newOperator(t, 'viewer');
    const answers = await Promise.all([
      signInRaw(app.app, { email, password: 'wrong password!', tenant_id: t.tenantId }),
      signInRaw(app.app, { email: uniqueEmail('nobody'), password: PASSWORD, tenant_id: t.tenantId }),
      signInRaw(app.app, { email, password: PASSWORD, tenant_id: other.tenantId }),
      signInRaw(app.app, { email, password: PASSWORD }),
    ]);
    for (const a of answers) {
      expect(a.status).toBe(401);
      expect(a.body.error).toMatchObject({ code: 'invalid_credentials', message: 'Wrong e-mail or password' });
      expect(a.headers['set-cookie']).toBeUndefined();
    }
    expect((await signInRaw(app.app, { email, password: 'short' , tenant_id: t.tenantId })).status).toBe(401);
    expect((await signInRaw(app.app, { email: 'no-at-sign', password: PASSWORD })).status).toBe(400);
  });

  it('answers in Chinese when asked (Accept-Language: zh-CN), with the same code', async () => {
    const app = await testApp();
    const answer = await signInRaw(app.app, { email: uniqueEmail('zh'), password: PASSWORD }, { headers: { 'accept-language': 'zh-CN' } });
    expect(answer.status).toBe(401);
    expect(answer.body.error).toMatchObject({ code: 'invalid_credentials', message: '邮箱或密码错误' });
  });

  it('without a cookie: 401 not_signed_in; a made-up cookie too', async () => {
    const app = await testApp();
    const none = await app.app.inject({ method: 'GET', url: '/v1/console/session' });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe('not_signed_in');
    const made = await app.app.inject({ method: 'GET', url: '/v1/campaigns', headers: { cookie: 'mh_session=made-up-value-0123456789' } });
    expect(made.statusCode).toBe(401);
    expect(made.json().error.code).toBe('not_signed_in');
  });
});

describe('a session acts as its operator', () => {
  it('maps admin / operator / viewer onto admin / service / readonly keys, with the same refusals', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const admin = await signIn(app.app, (await newOperator(t, 'admin')).email, PASSWORD, t.tenantId);
    const operator = await signIn(app.app, (await newOperator(t, 'operator')).email, PASSWORD, t.tenantId);
    const viewer = await signIn(app.app, (await newOperator(t, 'viewer')).email, PASSWORD, t.tenantId);
    const campaign = { campaign_name: 'C', campaign_type: 'PROMOTION', product_code: t.productCode, start_time: '2020-01-01T00:00:00Z', end_time: '2099-01-01T00:00:00Z' };

    expect((await asBrowser(app.app, admin, 'POST', '/v1/apps', { product_code: 'console2', name: 'Two' })).status).toBe(201);
    expect((await asBrowser(app.app, operator, 'POST', '/v1/campaigns', campaign)).status).toBe(201);
    const opAdmin = await asBrowser(app.app, operator, 'POST', '/v1/apps', { product_code: 'console3', name: 'Three' });
    const keyAdmin = await t.call('POST', '/v1/apps', { product_code: 'console3', name: 'Three' }, { key: t.service });
    expect(opAdmin.status).toBe(403);
    expect(opAdmin.body.error.code).toBe(keyAdmin.body.error.code);

    const viewerWrite = await asBrowser(app.app, viewer, 'POST', '/v1/campaigns', campaign);
    const readonlyWrite = await t.call('POST', '/v1/campaigns', campaign, { key: t.readonly });
    expect(viewerWrite.status).toBe(403);
    expect(viewerWrite.body.error.code).toBe('read_only_key');
    expect(readonlyWrite.body.error.code).toBe('read_only_key');
    expect((await asBrowser(app.app, viewer, 'GET', '/v1/campaigns')).body.campaigns.length).toBeGreaterThan(0);
    // The operators routes need the admin role.
    expect((await asBrowser(app.app, viewer, 'GET', '/v1/operators')).status).toBe(403);
    expect((await asBrowser(app.app, admin, 'GET', '/v1/operators')).body.operators).toHaveLength(3);
  });

  it('refuses a change without the X-CSRF-Token of the session (403 csrf_token_invalid); reads need none', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const admin = await signIn(app.app, (await newOperator(t, 'admin')).email, PASSWORD, t.tenantId);
    const other = await signIn(app.app, (await newOperator(t, 'admin')).email, PASSWORD, t.tenantId);
    for (const csrf of [false, 'x', other.csrf, `${admin.csrf}x`] as const) {
      const answer = await asBrowser(app.app, admin, 'POST', '/v1/apps', { product_code: 'nocsrf', name: 'N' }, { csrf });
      expect(answer.status).toBe(403);
      expect(answer.body.error.code).toBe('csrf_token_invalid');
    }
    expect((await asBrowser(app.app, admin, 'GET', '/v1/apps', undefined, { csrf: false })).status).toBe(200);
    expect((await asBrowser(app.app, admin, 'DELETE', '/v1/console/session', undefined, { csrf: false })).status).toBe(403);
  });

  it('an Authorization header wins over the cookie', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const admin = await signIn(app.app, (await newOperator(t, 'admin')).email, PASSWORD, t.tenantId);
    const answer = await asBrowser(app.app, admin, 'POST', '/v1/apps', { product_code: 'both', name: 'B' }, { headers: { authorization: `Bearer ${t.readonly}` } });
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe('insufficient_role');
  });

  it('keeps the tenant wall: an operator of A reads and changes nothing of B', async () => {
    const app = await testApp();
    const a = await app.newTenant();
    const b = await app.newTenant();
    const admin = await signIn(app.app, (await newOperator(a, 'admin')).email, PASSWORD, a.tenantId);
    const bCampaign = await newCampaign(b);
    const bOperator = (await newOperator(b, 'viewer')).created;
    expect((await asBrowser(app.app, admin, 'GET', `/v1/campaigns/${bCampaign.campaign_id}`)).status).toBe(404);
    expect(JSON.stringify((await asBrowser(app.app, admin, 'GET', '/v1/campaigns')).body)).not.toContain(bCampaign.campaign_id);
    expect((await asBrowser(app.app, admin, 'GET', `/v1/operators/${bOperator.operator_id}`)).status).toBe(404);
    expect((await asBrowser(app.app, admin, 'PATCH', `/v1/operators/${bOperator.operator_id}`, { disabled: true })).status).toBe(404);
    expect((await asBrowser(app.app, admin, 'DELETE', `/v1/operators/${bOperator.operator_id}`)).status).toBe(404);
    expect(JSON.stringify((await asBrowser(app.app, admin, 'GET', '/v1/operators')).body)).not.toContain(bOperator.operator_id);
    const foreign = await asBrowser(app.app, admin, 'POST', '/v1/operators', { email: uniqueEmail(), password: PASSWORD, tenant_id: b.tenantId });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe('tenant_mismatch');
    const platform = await asBrowser(app.app, admin, 'POST', '/v1/operators', { email: uniqueEmail(), password: PASSWORD, tenant_id: null });
    expect(platform.status).toBe(403);
    expect((await asBrowser(app.app, admin, 'GET', `/v1/tenants/${b.tenantId}`)).status).toBeGreaterThanOrEqual(403);
    expect((await asBrowser(app.app, admin, 'GET', '/v1/tenants')).status).toBe(403);
  });

  it('a platform operator acts as the master key', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const email = uniqueEmail('platform');
    must(await app.call('POST', '/v1/operators', { email, password: PASSWORD, role: 'admin', tenant_id: null }), 201);
    const platform = await signIn(app.app, email, PASSWORD, null);
    expect(platform.operator.tenant_id).toBeNull();
    expect((await asBrowser(app.app, platform, 'GET', '/v1/tenants')).status).toBe(200);
    const created = await asBrowser(app.app, platform, 'POST', '/v1/operators', { email: uniqueEmail(), password: PASSWORD, tenant_id: t.tenantId, role: 'operator' });
    expect(created.status).toBe(201);
    expect(created.body.tenant_id).toBe(t.tenantId);
    // The master scope is refused tenant routes, as the master key is.
    expect((await asBrowser(app.app, platform, 'GET', '/v1/campaigns')).body.error.code).toBe('tenant_key_required');
  });
});

describe('sessions end', () => {
  it('on sign-out: the cookie is cleared and no longer admitted', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const admin = await signIn(app.app, (await newOperator(t, 'admin')).email, PASSWORD, t.tenantId);
    const out = await asBrowser(app.app, admin, 'DELETE', '/v1/console/session');
    expect(out.status).toBe(200);
    expect(out.body).toEqual({ signed_out: true });
    expect(String(out.headers['set-cookie'])).toMatch(/^mh_session=; .*Max-Age=0/);
    const after = await asBrowser(app.app, admin, 'GET', '/v1/apps');
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('not_signed_in');
  });

  it('on a password change: the other sessions end, this one stays; the old password no longer signs in', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { email } = await newOperator(t, 'operator');
    const one = await signIn(app.app, email, PASSWORD, t.tenantId);
    const two = await signIn(app.app, email, PASSWORD, t.tenantId);
    const wrong = await asBrowser(app.app, one, 'POST', '/v1/console/password', { current_password: 'not it at all', new_password: 'a brand new secret' });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.code).toBe('current_password_invalid');
    const short = await asBrowser(app.app, one, 'POST', '/v1/console/password', { current_password: PASSWORD, new_password: 'short' });
    expect(short.status).toBe(400);
    const changed = await asBrowser(app.app, one, 'POST', '/v1/console/password', { current_password: PASSWORD, new_password: 'a brand new secret' });
    expect(changed.status).toBe(200);
    expect((await asBrowser(app.app, one, 'GET', '/v1/apps')).status).toBe(200);
    expect((await asBrowser(app.app, two, 'GET', '/v1/apps')).status).toBe(401);
    expect((await signInRaw(app.app, { email, password: PASSWORD, tenant_id: t.tenantId })).status).toBe(401);
    await signIn(app.app, email, 'a brand new secret', t.tenantId);
  });

  it('when the operator is disabled, has its password reset, or is deleted', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { email, created } = await newOperator(t, 'viewer');
    let viewer = await signIn(app.app, email, PASSWORD, t.tenantId);
    must(await t.call('PATCH', `/v1/operators/${created.operator_id}`, { disabled: true }, { key: t.admin }), 200);
    expect((await asBrowser(app.app, viewer, 'GET', '/v1/apps')).status).toBe(401);
    expect((await signInRaw(app.app, { email, password: PASSWORD, tenant_id: t.tenantId })).body.error.code).toBe('invalid_credentials');

    must(await t.call('PATCH', `/v1/operators/${created.operator_id}`, { disabled: false, role: 'admin', name: 'Renamed' }, { key: t.admin }), 200);
    viewer = await signIn(app.app, email, PASSWORD, t.tenantId);
    expect(viewer.operator.role).toBe('admin');
    must(await t.call('PATCH', `/v1/operators/${created.operator_id}`, { password: 'reset by the admin' }, { key: t.admin }), 200);
    expect((await asBrowser(app.app, viewer, 'GET', '/v1/apps')).status).toBe(401);
    viewer = await signIn(app.app, email, 'reset by the admin', t.tenantId);

    expect((await t.call('PATCH', `/v1/operators/${created.operator_id}`, {}, { key: t.admin })).status).toBe(400);
    expect((await t.call('PATCH', `/v1/operators/${created.operator_id}`, { name: 'x' }, { key: t.service })).status).toBe(403);
    must(await t.call('DELETE', `/v1/operators/${created.operator_id}`, undefined, { key: t.admin }), 200);
    expect((await asBrowser(app.app, viewer, 'GET', '/v1/apps')).status).toBe(401);
    expect((await t.call('GET', `/v1/operators/${created.operator_id}`, undefined, { key: t.admin })).status).toBe(404);
  });
});

describe('operators', () => {
  it('a signed-in admin cannot disable, delete or demote its own account (409 operator_own_account)', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const admin = await signIn(app.app, (await newOperator(t, 'admin')).email, PASSWORD, t.tenantId);
    const self = `/v1/operators/${admin.operator.operator_id}`;
    for (const body of [{ disabled: true }, { role: 'viewer' }]) {
      const answer = await asBrowser(app.app, admin, 'PATCH', self, body);
      expect(answer.status).toBe(409);
      expect(answer.body.error.code).toBe('operator_own_account');
    }
    expect((await asBrowser(app.app, admin, 'DELETE', self)).body.error.code).toBe('operator_own_account');
    // Its name and password it may change; another admin may do the rest.
    expect((await asBrowser(app.app, admin, 'PATCH', self, { name: 'Me', role: 'admin' })).status).toBe(200);
    must(await t.call('PATCH', self, { role: 'viewer' }, { key: t.admin }), 200);
  });


  it('e-mails are unique per tenant, case-insensitively, under parallel creates', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const other = await app.newTenant();
    const email = uniqueEmail('dup');
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => t.call('POST', '/v1/operators', { email: i % 2 ? email.toUpperCase() : email, password: PASSWORD }, { key: t.admin })),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409).every((a) => a.body.error.code === 'operator_email_taken')).toBe(true);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(11);
    // Another tenant may have the same e-mail.
    must(await other.call('POST', '/v1/operators', { email, password: PASSWORD }, { key: other.admin }), 201);
    // A short password is refused by the schema.
    expect((await t.call('POST', '/v1/operators', { email: uniqueEmail(), password: 'short' }, { key: t.admin })).status).toBe(400);
  });
});

describe('audit log', () => {
  it("records operators' and keys' changes with the route and entity; a tenant reads only its own", async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const other = await app.newTenant();
    const { created } = await newOperator(t, 'operator');
    const operator = await signIn(app.app, created.email, PASSWORD, t.tenantId);
    const byOperator = (await asBrowser(app.app, operator, 'POST', '/v1/campaigns', { campaign_name: 'A', campaign_type: 'PROMOTION', product_code: t.productCode, start_time: '2020-01-01T00:00:00Z', end_time: '2099-01-01T00:00:00Z' })).body;
    must(await asBrowser(app.app, operator, 'POST', `/v1/campaigns/${byOperator.campaign_id}/publish`), 200);
    const byKey = await newCampaign(t);
    // A refused change is not recorded.
    expect((await asBrowser(app.app, operator, 'POST', '/v1/apps', { product_code: 'nope', name: 'N' })).status).toBe(403);

    const mine = must(await t.call('GET', '/v1/audit-log', undefined, { key: t.admin, query: { operator_id: created.operator_id } }), 200).body;
    // The sign-in is there too (an event entry); the changes are the request entries.
    mine.entries = mine.entries.filter((e: { event: string | null }) => e.event === null);
    expect(mine.entries.map((e: { route: string }) => e.route).sort()).toEqual(['/v1/campaigns', '/v1/campaigns/:campaign_id/publish']);
    for (const entry of mine.entries) {
      expect(entry).toMatchObject({ tenant_id: t.tenantId, actor_kind: 'operator', operator_id: created.operator_id, key_id: null, entity_id: byOperator.campaign_id });
      expect(entry.status).toBeLessThan(400);
      expect(entry.request_id).toBeTruthy();
    }
    const all = must(await t.call('GET', '/v1/audit-log', undefined, { key: t.admin, query: { route: '/v1/campaigns' } }), 200).body.entries;
    const keyEntry = all.find((e: { entity_id: string }) => e.entity_id === byKey.campaign_id);
    expect(keyEntry).toMatchObject({ actor_kind: 'api_key', operator_id: null, method: 'POST', status: 201 });
    expect(keyEntry.key_id).toMatch(/^key_/);
    // The operator's creation by the admin key is there too, with the created operator's id.
    const ops = must(await t.call('GET', '/v1/audit-log', undefined, { key: t.admin, query: { route: '/v1/operators' } }), 200).body.entries;
    expect(ops.map((e: { entity_id: string }) => e.entity_id)).toContain(created.operator_id);

    expect(JSON.stringify(must(await other.call('GET', '/v1/audit-log', undefined, { key: other.admin }), 200).body)).not.toContain(t.tenantId);
    expect((await other.call('GET', '/v1/audit-log', undefined, { key: other.admin, query: { tenant_id: t.tenantId } })).status).toBe(403);
    const master = must(await app.call('GET', '/v1/audit-log', undefined, { query: { tenant_id: t.tenantId, page_size: 100 } }), 200).body;
    expect(master.entries.length).toBeGreaterThanOrEqual(4);
    expect(master.entries.every((e: { tenant_id: string }) => e.tenant_id === t.tenantId)).toBe(true);
  });
});
