import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import type { SmsPeer } from './channels/testing/sms-peers.js';
import { countBy, createSmsCampaign, getRun, outreachOf, recordsOf, seedCustomers, smsProvider, triggerRun } from './testing/outreach-fixture.js';

/** Limits checked when a record is about to be sent, not when the run starts: opt-out and quiet hours. */

const peers: SmsPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

const hhmm = (d: Date) => `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;

describe('outreach runs: opt-out at send time', () => {
  it('skips a customer who opted out after the trigger, before the send', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 5, 'VIP');
    must(await t.call('PUT', '/v1/customers/u00004', { consent: { sms: 'opt_out' } }), 200);
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const c = await createSmsCampaign(t, 'VIP');
    const run = await triggerRun(t, c.campaign_id);
    const outreach = outreachOf(app);

    await outreach.dispatcher.tick({ tenantId: t.tenantId }); // the fan-out only: every record is pending
    expect(countBy(await recordsOf(app, run.run_id))).toEqual({ pending: 5 });
    must(await t.call('PUT', '/v1/customers/u00001', { consent: { sms: 'opt_out' } }), 200);
    // Consent of another channel does not stop an SMS.
    must(await t.call('PUT', '/v1/customers/u00002', { consent: { email: 'opt_out' } }), 200);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });

    const records = await recordsOf(app, run.run_id);
    expect(countBy(records, true)).toEqual({ sent: 3, 'skipped:opted_out': 2 });
    expect(records.filter((r) => r.status === 'skipped').map((r) => r.customer_id)).toEqual(['u00001', 'u00004']);
    expect(peer.messages.map((m) => m.to).sort()).toEqual(['+8613800000000', '+8613800000002', '+8613800000003']);
    const done = await getRun(t, run.run_id);
    expect(done.stats).toMatchObject({ planned: 5, attempted: 3, sent: 3, skipped: 2, skipped_by_reason: { opted_out: 2 }, remaining: 0 });

    // A transactional campaign does not override an opt-out either.
    const tx = await createSmsCampaign(t, 'VIP', { transactional: true });
    const txRun = await triggerRun(t, tx.campaign_id);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, txRun.run_id), true)).toEqual({ sent: 3, 'skipped:opted_out': 2 });
    expect(peer.messages).toHaveLength(6);
  });
});

describe('outreach runs: quiet hours', () => {
  it("defers customers inside quiet hours to the window's end and sends those outside at once", async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const now = new Date();
    const start = new Date(now.getTime() - 60 * 60_000);
    const end = new Date(now.getTime() + 60 * 60_000);
    must(await t.call('PUT', '/v1/outreach/settings', { quiet_hours: { start: hhmm(start), end: hhmm(end) } }, { key: t.admin }), 200);
    // u00000..u00003 in UTC (inside the window); u00004, u00005 twelve hours away (outside).
    await seedCustomers(t, 6, 'VIP', (i) => ({ time_zone: i < 4 ? 'UTC' : 'Etc/GMT-12' }));
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const c = await createSmsCampaign(t, 'VIP');
    const run = await triggerRun(t, c.campaign_id);
    const outreach = outreachOf(app);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });

    const records = await recordsOf(app, run.run_id);
    expect(countBy(records, true)).toEqual({ 'deferred:quiet_hours_deferred': 4, sent: 2 });
    expect(peer.messages.map((m) => m.to).sort()).toEqual(['+8613800000004', '+8613800000005']);
    const windowEnd = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), end.getUTCDate(), end.getUTCHours(), end.getUTCMinutes()));
    for (const r of records.filter((x) => x.status === 'deferred')) expect(r.next_attempt_at.toISOString()).toBe(windowEnd.toISOString());
    const view = await getRun(t, run.run_id);
    expect(view.status).toBe('sending');
    expect(view.stats).toMatchObject({ planned: 6, sent: 2, deferred: 4, remaining: 4 });

    // Due again inside the window (forced): deferred again, nothing sent, counted once.
    await app.database.db.updateTable('outreach_record').set({ next_attempt_at: new Date() }).where('run_id', '=', run.run_id).where('status', '=', 'deferred').execute();
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(peer.messages).toHaveLength(2);
    expect((await getRun(t, run.run_id)).stats).toMatchObject({ sent: 2, deferred: 4 });

    // A transactional campaign ignores quiet hours.
    const tx = await createSmsCampaign(t, 'VIP', { transactional: true });
    const txRun = await triggerRun(t, tx.campaign_id);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, txRun.run_id))).toEqual({ sent: 6 });

    // The window ends (the run's quiet hours taken away, the records due): the four are sent once.
    await sql`update outreach_run set snapshot = jsonb_set(snapshot, '{quiet_hours}', 'null'::jsonb) where run_id = ${run.run_id}`.execute(app.database.db);
    await app.database.db.updateTable('outreach_record').set({ next_attempt_at: new Date() }).where('run_id', '=', run.run_id).where('status', '=', 'deferred').execute();
    const before = peer.messages.length;
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(peer.messages.length - before).toBe(4);
    expect(countBy(await recordsOf(app, run.run_id))).toEqual({ sent: 6 });
    const done = await getRun(t, run.run_id);
    expect(done.status).toBe('completed');
    expect(done.stats).toMatchObject({ planned: 6, attempted: 6, sent: 6, deferred: 0, remaining: 0 });
  });

  it("uses the tenant's default_time_zone for customers without a valid time_zone", async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const now = Date.now();
    const quiet = { start: hhmm(new Date(now - 3_600_000)), end: hhmm(new Date(now + 3_600_000)) };
    // The window is around the current UTC time; the tenant's customers live twelve hours ahead by default.
    must(await t.call('PUT', '/v1/outreach/settings', { quiet_hours: quiet, default_time_zone: 'Etc/GMT-12' }, { key: t.admin }), 200);
    await seedCustomers(t, 3, 'VIP', (i) => (i === 0 ? { time_zone: 'UTC' } : i === 1 ? { time_zone: 'Not/AZone' } : {}));
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const run = await triggerRun(t, (await createSmsCampaign(t, 'VIP')).campaign_id);
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    const records = await recordsOf(app, run.run_id);
    expect(records.map((r) => `${r.customer_id}:${r.status}`)).toEqual(['u00000:deferred', 'u00001:sent', 'u00002:sent']);
    expect(peer.messages).toHaveLength(2);
    must(await t.call('POST', `/v1/outreach/runs/${run.run_id}/cancel`), 200);
  });
});

describe('outreach runs: the profile and the campaign end at send time', () => {
  it('skips a profile erased after the fan-out (no_profile) and everything once end_time has passed (campaign_ended)', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 4, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const outreach = outreachOf(app);

    const run = await triggerRun(t, (await createSmsCampaign(t, 'VIP')).campaign_id);
    await outreach.dispatcher.tick({ tenantId: t.tenantId }); // the fan-out
    must(await t.call('DELETE', '/v1/customers/u00003'), 204);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, run.run_id), true)).toEqual({ sent: 3, 'skipped:no_profile': 1 });
    expect(peer.messages).toHaveLength(3);

    const end = new Date(Date.now() + 1_500);
    const ending = await triggerRun(t, (await createSmsCampaign(t, 'VIP', { end_time: end.toISOString() })).campaign_id);
    await outreach.dispatcher.tick({ tenantId: t.tenantId }); // the fan-out
    await new Promise((r) => setTimeout(r, Math.max(0, end.getTime() - Date.now()) + 100));
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, ending.run_id), true)).toEqual({ 'skipped:campaign_ended': 3 });
    expect(peer.messages).toHaveLength(3);
    const view = await getRun(t, ending.run_id);
    expect(view.status).toBe('completed');
    expect(view.stats).toMatchObject({ planned: 3, attempted: 0, skipped: 3, skipped_by_reason: { campaign_ended: 3 }, remaining: 0 });
  });
});
