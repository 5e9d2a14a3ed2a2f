import { describe, expect, it } from 'vitest';
import { newCampaign } from '../../../test/helpers/factories.js';
import { asBrowser, PASSWORD, signIn, signInRaw, uniqueEmail } from '../../../test/helpers/console-session.js';
import { must, type TenantFixture, testApp } from '../../../test/helpers/test-app.js';

async function newOperator(t: TenantFixture, role: 'admin' | 'operator') {
  const email = uniqueEmail(role);
  const created = must(await t.call('POST', '/v1/operators', { email, password: PASSWORD, role }, { key: t.admin }), 201).body;
  return { email, id: created.operator_id as string };
}

const campaign = (t: TenantFixture) => ({ campaign_name: 'Stamped', campaign_type: 'PROMOTION', product_code: t.productCode, start_time: '2020-01-01T00:00:00Z', end_time: '2099-01-01T00:00:00Z' });

describe('created_by / updated_by', () => {
  it('name the console operator of a change; an API key leaves them as they were (null on create)', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const ann = await newOperator(t, 'operator');
    const bob = await newOperator(t, 'operator');
    const asAnn = await signIn(app.app, ann.email, PASSWORD, t.tenantId);
    const asBob = await signIn(app.app, bob.email, PASSWORD, t.tenantId);

    const made = must(await asBrowser(app.app, asAnn, 'POST', '/v1/campaigns', campaign(t)), 201).body;
    expect(made).toMatchObject({ created_by: ann.id, updated_by: ann.id });
    const edited = must(await asBrowser(app.app, asBob, 'PUT', `/v1/campaigns/${made.campaign_id}`, { campaign_name: 'Renamed' }), 200).body;
    expect(edited).toMatchObject({ created_by: ann.id, updated_by: bob.id });
    // An API key's change: the columns keep the last operator (its key is in the audit log).
    const byKey = must(await t.call('PUT', `/v1/campaigns/${made.campaign_id}`, { campaign_name: 'By key' }), 200).body;
    expect(byKey).toMatchObject({ campaign_name: 'By key', created_by: ann.id, updated_by: bob.id });
    expect(must(await t.call('GET', `/v1/campaigns/${made.campaign_id}`), 200).body).toMatchObject({ created_by: ann.id, updated_by: bob.id });

    const keyMade = await newCampaign(t);
    expect(keyMade).toMatchObject({ created_by: null, updated_by: null });
    must(await asBrowser(app.app, asAnn, 'POST', `/v1/campaigns/${keyMade.campaign_id}/publish`), 200);
    expect(must(await t.call('GET', `/v1/campaigns/${keyMade.campaign_id}`), 200).body).toMatchObject({ created_by: null, updated_by: ann.id });

    // A reward, made by an operator (the selfContained path runs in a transaction for it too).
    const reward = must(await asBrowser(app.app, asAnn, 'POST', '/v1/rewards', { reward_name: 'P', reward_type: 'POINTS', product_code: t.productCode, campaign_id: made.campaign_id, config: { generator: { points: 5 } } }), 201).body;
    expect(reward).toMatchObject({ created_by: ann.id, updated_by: ann.id });
    const renamed = must(await asBrowser(app.app, asBob, 'PUT', `/v1/rewards/${reward.reward_id}`, { reward_name: 'Q' }), 200).body;
    expect(renamed).toMatchObject({ created_by: ann.id, updated_by: bob.id });

    // Another table through the same trigger: an app made by an admin's session.
    const admin = await newOperator(t, 'admin');
    const asAdmin = await signIn(app.app, admin.email, PASSWORD, t.tenantId);
    must(await asBrowser(app.app, asAdmin, 'POST', '/v1/apps', { product_code: 'stamped', name: 'S' }), 201);
    const row = await app.database.db.selectFrom('app').selectAll().where('tenant_id', '=', t.tenantId).where('product_code', '=', 'stamped').executeTakeFirstOrThrow();
    expect(row as unknown as Record<string, unknown>).toMatchObject({ created_by: admin.id, updated_by: admin.id });
  });
});

describe('console sign-in events in the audit log', () => {
  it('records sign-in, failed sign-in, lock-out (once) and sign-out, filtered by event', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const op = await newOperator(t, 'operator');
    const ip = '10.9.8.7';
    expect((await signInRaw(app.app, { email: op.email, password: 'wrong password!', tenant_id: t.tenantId }, { ip })).status).toBe(401);
    const nobody = uniqueEmail('nobody');
    expect((await signInRaw(app.app, { email: nobody, password: PASSWORD, tenant_id: t.tenantId }, { ip })).status).toBe(401);
    const session = await signIn(app.app, op.email, PASSWORD, t.tenantId);
    must(await asBrowser(app.app, session, 'DELETE', '/v1/console/session'), 200);
    // Lock the account out: 5 failures in all, then two refusals, recorded once.
    for (let i = 0; i < 4; i++) await signInRaw(app.app, { email: op.email, password: 'wrong password!', tenant_id: t.tenantId });
    expect((await signInRaw(app.app, { email: op.email, password: PASSWORD, tenant_id: t.tenantId })).status).toBe(429);
    expect((await signInRaw(app.app, { email: op.email, password: PASSWORD, tenant_id: t.tenantId })).status).toBe(429);

    const events = must(await t.call('GET', '/v1/audit-log', undefined, { key: t.admin, query: { event: 'any', page_size: 50 } }), 200).body.entries;
    const kinds = events.map((e: { event: string }) => e.event);
    expect(kinds.filter((k: string) => k === 'sign_in')).toHaveLength(1);
    expect(kinds.filter((k: string) => k === 'sign_out')).toHaveLength(1);
    expect(kinds.filter((k: string) => k === 'sign_in_failed')).toHaveLength(6);
    expect(kinds.filter((k: string) => k === 'locked_out')).toHaveLength(1);
    const signInEntry = events.find((e: { event: string }) => e.event === 'sign_in');
    expect(signInEntry).toMatchObject({ tenant_id: t.tenantId, actor_kind: 'operator', operator_id: op.id, route: '/v1/console/session', method: 'POST', status: 200 });
    expect(signInEntry.details.email).toBe(op.email.toLowerCase());
    const unknown = events.find((e: { details: { email: string } }) => e.details?.email === nobody.toLowerCase());
    expect(unknown).toMatchObject({ actor_kind: 'anonymous', operator_id: null, event: 'sign_in_failed', status: 401, details: { ip } });
    const locked = must(await t.call('GET', '/v1/audit-log', undefined, { key: t.admin, query: { event: 'locked_out', operator_id: op.id } }), 200).body.entries;
    expect(locked).toHaveLength(1);
    expect(locked[0]).toMatchObject({ status: 429, entity_id: op.id });
  });
});
