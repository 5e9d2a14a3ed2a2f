import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { must, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import type { SmsPeer } from './channels/testing/sms-peers.js';
import { countBy, createSmsCampaign, getRun, outreachOf, recordsOf, seedCustomers, smsProvider, triggerRun } from './testing/outreach-fixture.js';

/** Frequency caps from the tenant settings, reserved at send time: exact under concurrent runs and drains. */

const peers: SmsPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

async function windowsOf(app: TestApp, t: TenantFixture) {
  const r = await sql<{ customer_id: string; n: number }>`select customer_id, n from outreach_contact_window where tenant_id = ${t.tenantId}`.execute(app.database.db);
  return Object.fromEntries(r.rows.map((w) => [w.customer_id, w.n]));
}

const capOne = (t: TenantFixture) => t.call('PUT', '/v1/outreach/settings', { frequency_cap: { count: 1, period: 'day' } }, { key: t.admin });

describe('outreach runs: frequency cap', () => {
  it('skips everyone in a second campaign the same day (frequency_capped); a transactional one passes', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    expect(must(await capOne(t), 200).body.frequency_cap).toEqual({ count: 1, period: 'day' });
    await seedCustomers(t, 5, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const outreach = outreachOf(app);

    const first = await triggerRun(t, (await createSmsCampaign(t, 'VIP')).campaign_id);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, first.run_id))).toEqual({ sent: 5 });

    const second = await triggerRun(t, (await createSmsCampaign(t, 'VIP')).campaign_id);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, second.run_id), true)).toEqual({ 'skipped:frequency_capped': 5 });
    expect((await getRun(t, second.run_id)).stats).toMatchObject({ planned: 5, attempted: 0, sent: 0, skipped: 5, skipped_by_reason: { frequency_capped: 5 }, remaining: 0 });
    expect(peer.messages).toHaveLength(5);

    // A simulation under the cap only looks: it predicts the caps (and reserves nothing, see below).
    const sim = await triggerRun(t, (await createSmsCampaign(t, 'VIP')).campaign_id, 'simulation');
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, sim.run_id), true)).toEqual({ 'skipped:frequency_capped': 5 });

    const tx = await triggerRun(t, (await createSmsCampaign(t, 'VIP', { transactional: true })).campaign_id);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, tx.run_id))).toEqual({ sent: 5 });
    expect(peer.messages).toHaveLength(10);

    // One reservation per customer and day, whatever else ran.
    const windows = await sql<{ n: number }>`select n from outreach_contact_window where tenant_id = ${t.tenantId}`.execute(app.database.db);
    expect(windows.rows.map((w) => w.n)).toEqual([1, 1, 1, 1, 1]);
  });

  it('holds under a race: two campaigns to the same 200 customers, 4 concurrent drains, cap 1 -> 200 messages, 200 capped', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    must(await capOne(t), 200);
    await seedCustomers(t, 200, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const outreach = outreachOf(app);
    const [a, b] = await Promise.all([createSmsCampaign(t, 'VIP'), createSmsCampaign(t, 'VIP')]);
    const [runA, runB] = await Promise.all([triggerRun(t, a!.campaign_id), triggerRun(t, b!.campaign_id)]);

    await Promise.all([outreach.dispatcher.drain({ tenantId: t.tenantId }), outreach.dispatcher.drain({ tenantId: t.tenantId }), outreach.dispatcher.drain({ tenantId: t.tenantId }), outreach.dispatcher.drain({ tenantId: t.tenantId })]);

    expect(peer.requests).toBe(200);
    expect(peer.messages).toHaveLength(200);
    expect(new Set(peer.messages.map((m) => m.to)).size).toBe(200);
    const records = [...(await recordsOf(app, runA.run_id)), ...(await recordsOf(app, runB.run_id))];
    expect(countBy(records, true)).toEqual({ sent: 200, 'skipped:frequency_capped': 200 });
    // Each customer: one record sent, the other capped.
    const byCustomer = new Map<string, string[]>();
    for (const r of records) byCustomer.set(r.customer_id, [...(byCustomer.get(r.customer_id) ?? []), r.status].sort());
    expect(byCustomer.size).toBe(200);
    for (const statuses of byCustomer.values()) expect(statuses).toEqual(['sent', 'skipped']);
    const [viewA, viewB] = await Promise.all([getRun(t, runA.run_id), getRun(t, runB.run_id)]);
    expect(viewA.stats.sent + viewB.stats.sent).toBe(200);
    expect((viewA.stats.skipped_by_reason.frequency_capped ?? 0) + (viewB.stats.skipped_by_reason.frequency_capped ?? 0)).toBe(200);
    expect(viewA.status).toBe('completed');
    expect(viewB.status).toBe('completed');
    const total = await sql<{ n: number; rows: number }>`select sum(n)::int as n, count(*)::int as rows from outreach_contact_window where tenant_id = ${t.tenantId}`.execute(app.database.db);
    expect(total.rows[0]).toEqual({ n: 200, rows: 200 });
  });

  it('gives the reservation back when a message fails for good', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    must(await capOne(t), 200);
    await seedCustomers(t, 3, 'VIP');
    must(await t.call('PUT', '/v1/customers/u00000', { tags: ['VIP', 'FIRST'] }), 200);
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const outreach = outreachOf(app);

    // The provider refuses u00000's message for good (a 400 that is not about the number).
    peer.failNext(1, 400);
    const first = await triggerRun(t, (await createSmsCampaign(t, 'FIRST')).campaign_id);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, first.run_id), true)).toEqual({ 'failed:provider_refused': 1 });
    expect(await windowsOf(app, t)).toEqual({ u00000: 0 });

    // The same day: u00000 may still be messaged once, like the others.
    const second = await triggerRun(t, (await createSmsCampaign(t, 'VIP')).campaign_id);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, second.run_id))).toEqual({ sent: 3 });
    expect(await windowsOf(app, t)).toEqual({ u00000: 1, u00001: 1, u00002: 1 });
    const third = await triggerRun(t, (await createSmsCampaign(t, 'VIP')).campaign_id);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, third.run_id), true)).toEqual({ 'skipped:frequency_capped': 3 });
    expect(peer.messages).toHaveLength(3);
  });

  it('keeps the reservation across a retry after a temporary failure (the retry is sent, counted once)', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    must(await capOne(t), 200);
    await seedCustomers(t, 1, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const outreach = outreachOf(app);
    const run = await triggerRun(t, (await createSmsCampaign(t, 'VIP')).campaign_id);
    peer.failNext(1);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, run.run_id), true)).toEqual({ 'deferred:provider_unavailable': 1 });
    expect(await windowsOf(app, t)).toEqual({ u00000: 1 });

    await app.database.db.updateTable('outreach_record').set({ next_attempt_at: new Date() }).where('run_id', '=', run.run_id).execute();
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    const records = await recordsOf(app, run.run_id);
    expect(countBy(records, true)).toEqual({ sent: 1 });
    expect(records[0]!.attempts).toBe(2);
    expect(peer.messages).toHaveLength(1);
    expect(await windowsOf(app, t)).toEqual({ u00000: 1 });
    expect((await getRun(t, run.run_id)).stats).toMatchObject({ planned: 1, attempted: 1, sent: 1, skipped: 0, deferred: 0 });
  });
});
