import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import type { SmsPeer } from './channels/testing/sms-peers.js';
import { countBy, createSmsCampaign, drainUntil, getRun, outreachOf, recordsOf, refused, seedCustomers, smsProvider, triggerRun } from './testing/outreach-fixture.js';

/**
 * A run sends each customer exactly once, whoever drains it and however often; pause stops it,
 * resume finishes it, cancel ends it for good.
 */

const peers: SmsPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

describe('outreach runs: exactly once', () => {
  it('sends each customer once under 4 concurrent drains; a second fan-out and a duplicate record add nothing', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 60, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const c = await createSmsCampaign(t, 'VIP');
    const run = await triggerRun(t, c.campaign_id);
    const outreach = outreachOf(app);

    await Promise.all([outreach.dispatcher.drain(), outreach.dispatcher.drain(), outreach.dispatcher.drain(), outreach.dispatcher.drain()]);
    // Every request reached the peer once: no record was sent twice, not even with its idempotency key.
    expect(peer.requests).toBe(60);
    expect(peer.messages).toHaveLength(60);
    expect(new Set(peer.messages.map((m) => m.key)).size).toBe(60);
    expect(new Set(peer.messages.map((m) => m.to)).size).toBe(60);
    const records = await recordsOf(app, run.run_id);
    expect(countBy(records)).toEqual({ sent: 60 });
    expect(records.every((r) => r.attempts === 1)).toBe(true);
    expect(new Set(peer.messages.map((m) => m.key))).toEqual(new Set(records.map((r) => `${run.run_id}-${r.seq}`)));
    const done = await getRun(t, run.run_id);
    expect(done).toMatchObject({ status: 'completed', planned: 60 });
    expect(done.stats).toMatchObject({ planned: 60, attempted: 60, sent: 60, remaining: 0 });

    // The fan-out again: nothing for a resolved run, nothing either when forced back to resolving.
    expect(await outreach.runs.resolveRun(run.run_id)).toBe(0);
    await sql`update outreach_run set status = 'resolving' where run_id = ${run.run_id}`.execute(app.database.db);
    expect(await outreach.runs.resolveRun(run.run_id)).toBe(0);
    expect(await recordsOf(app, run.run_id)).toHaveLength(60);
    const again = await getRun(t, run.run_id);
    expect(again.stats).toMatchObject({ planned: 60, sent: 60 });
    await outreach.dispatcher.drain();
    expect(peer.requests).toBe(60);

    // The unique index refuses a second record for the same run, customer and channel.
    const insert = sql`
      insert into outreach_record (run_id, seq, tenant_id, campaign_id, customer_id, channel, status, next_attempt_at, updated_at)
      values (${run.run_id}, 1000, ${t.tenantId}, ${c.campaign_id}, 'u00000', 'sms', 'pending', now(), now())`;
    await expect(insert.execute(app.database.db)).rejects.toThrow(/duplicate key|unique/i);
    expect(await recordsOf(app, run.run_id)).toHaveLength(60);
  });
});

describe('outreach runs: pause, resume, cancel', () => {
  it('pauses mid-run (nothing more is sent), resumes to the end, each customer once', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 30, 'VIP');
    const { peer } = await smsProvider(t, { rate: 5 });
    peers.push(peer);
    const c = await createSmsCampaign(t, 'VIP');
    const run = await triggerRun(t, c.campaign_id);
    const outreach = outreachOf(app);

    await outreach.dispatcher.tick(); // the fan-out
    await outreach.dispatcher.tick(); // one second's worth at 5 per second
    const paused = must(await t.call('POST', `/v1/outreach/runs/${run.run_id}/pause`), 200).body;
    expect(paused.status).toBe('paused');
    expect(paused.paused_at).not.toBeNull();
    expect(must(await t.call('GET', `/v1/outreach/campaigns/${c.campaign_id}`), 200).body.status).toBe('paused');
    const before = peer.messages.length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(30);
    expect(countBy(await recordsOf(app, run.run_id))).toEqual({ sent: before, pending: 30 - before });
    // Pausing twice answers the same.
    expect(must(await t.call('POST', `/v1/outreach/runs/${run.run_id}/pause`), 200).body.status).toBe('paused');

    await new Promise((r) => setTimeout(r, 1100)); // the rate would allow more now
    await outreach.dispatcher.drain();
    expect(peer.messages).toHaveLength(before);
    expect((await getRun(t, run.run_id)).stats).toMatchObject({ planned: 30, sent: before, remaining: 30 - before });

    const resumed = must(await t.call('POST', `/v1/outreach/runs/${run.run_id}/resume`), 200).body;
    expect(resumed.status).toBe('sending');
    expect(resumed.paused_at).toBeNull();
    expect(must(await t.call('GET', `/v1/outreach/campaigns/${c.campaign_id}`), 200).body.status).toBe('active');
    await drainUntil(app, async () => (await getRun(t, run.run_id)).status === 'completed');
    expect(peer.requests).toBe(30);
    expect(peer.messages).toHaveLength(30);
    expect(new Set(peer.messages.map((m) => m.to)).size).toBe(30);
    expect(countBy(await recordsOf(app, run.run_id))).toEqual({ sent: 30 });
    expect((await getRun(t, run.run_id)).stats).toMatchObject({ planned: 30, attempted: 30, sent: 30, cancelled: 0, remaining: 0 });
    expect(must(await t.call('GET', `/v1/outreach/campaigns/${c.campaign_id}`), 200).body.status).toBe('completed');
    refused(await t.call('POST', `/v1/outreach/runs/${run.run_id}/pause`), 409, 'run_state_conflict');
    refused(await t.call('POST', `/v1/outreach/runs/${run.run_id}/cancel`), 409, 'run_state_conflict');
  });

  it('cancels mid-run: the rest is cancelled and counted, nothing is sent after, resume is refused', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 30, 'VIP');
    const { peer } = await smsProvider(t, { rate: 5 });
    peers.push(peer);
    const c = await createSmsCampaign(t, 'VIP');
    const run = await triggerRun(t, c.campaign_id);
    const outreach = outreachOf(app);

    await outreach.dispatcher.tick(); // the fan-out
    await outreach.dispatcher.tick(); // one second's worth at 5 per second
    const cancelled = must(await t.call('POST', `/v1/outreach/runs/${run.run_id}/cancel`), 200).body;
    expect(cancelled.status).toBe('cancelled');
    const sent = peer.messages.length;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(30);
    expect(cancelled.stats).toMatchObject({ planned: 30, sent, cancelled: 30 - sent, remaining: 0 });
    expect(countBy(await recordsOf(app, run.run_id), true)).toEqual({ sent, 'cancelled:run_cancelled': 30 - sent });
    expect(must(await t.call('GET', `/v1/outreach/campaigns/${c.campaign_id}`), 200).body.status).toBe('completed');

    await new Promise((r) => setTimeout(r, 1100));
    await outreach.dispatcher.drain();
    expect(peer.requests).toBe(sent);
    refused(await t.call('POST', `/v1/outreach/runs/${run.run_id}/resume`), 409, 'run_state_conflict');
    refused(await t.call('POST', `/v1/outreach/runs/${run.run_id}/pause`), 409, 'run_state_conflict');
    // Cancelling again answers the same run.
    expect(must(await t.call('POST', `/v1/outreach/runs/${run.run_id}/cancel`), 200).body.stats.cancelled).toBe(30 - sent);
    // The campaign can run again: a new run, the cancelled one stays as it is.
    const next = await triggerRun(t, c.campaign_id);
    expect(next.run_id).not.toBe(run.run_id);
    must(await t.call('POST', `/v1/outreach/runs/${next.run_id}/cancel`), 200);
    expect(peer.requests).toBe(sent);
  });
});
