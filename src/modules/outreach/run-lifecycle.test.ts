import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import type { SmsPeer } from './channels/testing/sms-peers.js';
import { claimDue } from './record.statements.js';
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

    await Promise.all([outreach.dispatcher.drain({ tenantId: t.tenantId }), outreach.dispatcher.drain({ tenantId: t.tenantId }), outreach.dispatcher.drain({ tenantId: t.tenantId }), outreach.dispatcher.drain({ tenantId: t.tenantId })]);
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
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(peer.requests).toBe(60);

    // The unique index refuses a second record for the same run, customer and channel.
    const insert = sql`
      insert into outreach_record (run_id, seq, tenant_id, campaign_id, customer_id, channel, status, next_attempt_at, updated_at)
      values (${run.run_id}, 1000, ${t.tenantId}, ${c.campaign_id}, 'u00000', 'sms', 'pending', now(), now())`;
    await expect(insert.execute(app.database.db)).rejects.toThrow(/duplicate key|unique/i);
    expect(await recordsOf(app, run.run_id)).toHaveLength(60);
  });

  it('a worker that died holding records: after its lease they are sent by another, once', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 6, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const run = await triggerRun(t, (await createSmsCampaign(t, 'VIP')).campaign_id);
    await outreachOf(app).dispatcher.tick({ tenantId: t.tenantId }); // the fan-out
    // The dead worker claimed three records with a short lease and never wrote an outcome.
    const now = new Date();
    const claimed = await claimDue(app.database.db, run.run_id, now, new Date(now.getTime() + 300), 3);
    expect(claimed.map((r) => r.seq)).toEqual([1, 2, 3]);
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    expect(peer.requests).toBe(3);
    expect(countBy(await recordsOf(app, run.run_id))).toEqual({ sent: 3, sending: 3 });
    expect((await getRun(t, run.run_id)).status).toBe('sending');

    await new Promise((r) => setTimeout(r, 350));
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    const records = await recordsOf(app, run.run_id);
    expect(countBy(records)).toEqual({ sent: 6 });
    expect(records.map((r) => r.attempts)).toEqual([2, 2, 2, 1, 1, 1]);
    expect(peer.requests).toBe(6);
    expect(new Set(peer.messages.map((m) => m.key)).size).toBe(6);
    expect((await getRun(t, run.run_id)).stats).toMatchObject({ planned: 6, attempted: 6, sent: 6, remaining: 0 });
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

    await outreach.dispatcher.tick({ tenantId: t.tenantId }); // the fan-out
    await outreach.dispatcher.tick({ tenantId: t.tenantId }); // one second's worth at 5 per second
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
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(peer.messages).toHaveLength(before);
    expect((await getRun(t, run.run_id)).stats).toMatchObject({ planned: 30, sent: before, remaining: 30 - before });

    const resumed = must(await t.call('POST', `/v1/outreach/runs/${run.run_id}/resume`), 200).body;
    expect(resumed.status).toBe('sending');
    expect(resumed.paused_at).toBeNull();
    expect(must(await t.call('GET', `/v1/outreach/campaigns/${c.campaign_id}`), 200).body.status).toBe('active');
    await drainUntil(app, t.tenantId, async () => (await getRun(t, run.run_id)).status === 'completed');
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

    await outreach.dispatcher.tick({ tenantId: t.tenantId }); // the fan-out
    await outreach.dispatcher.tick({ tenantId: t.tenantId }); // one second's worth at 5 per second
    const cancelled = must(await t.call('POST', `/v1/outreach/runs/${run.run_id}/cancel`), 200).body;
    expect(cancelled.status).toBe('cancelled');
    const sent = peer.messages.length;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(30);
    expect(cancelled.stats).toMatchObject({ planned: 30, sent, cancelled: 30 - sent, remaining: 0 });
    expect(countBy(await recordsOf(app, run.run_id), true)).toEqual({ sent, 'cancelled:run_cancelled': 30 - sent });
    expect(must(await t.call('GET', `/v1/outreach/campaigns/${c.campaign_id}`), 200).body.status).toBe('completed');

    await new Promise((r) => setTimeout(r, 1100));
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
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

describe('outreach runs: races', () => {
  it('lets exactly one of 5 concurrent actual triggers start a run', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 2, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const c = await createSmsCampaign(t, 'VIP');
    const replies = await Promise.all(Array.from({ length: 5 }, () => t.call('POST', `/v1/outreach/campaigns/${c.campaign_id}/trigger`, { execution_type: 'actual' })));
    expect(replies.map((r) => r.status).sort()).toEqual([202, 409, 409, 409, 409]);
    for (const r of replies.filter((x) => x.status === 409)) expect(r.body.error.code).toBe('campaign_running');
    const runs = must(await t.call('GET', '/v1/outreach/runs', undefined, { query: { campaign_id: c.campaign_id } }), 200).body;
    expect(runs.pagination.total).toBe(1);
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    expect(peer.requests).toBe(2);
  });

  it('cancels while drains run: every record is either sent or cancelled, and the counters agree', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 150, 'VIP');
    // 50 a second: the 150 messages take about three seconds, the cancel comes in the middle.
    const { peer } = await smsProvider(t, { rate: 50 });
    peers.push(peer);
    const c = await createSmsCampaign(t, 'VIP');
    const run = await triggerRun(t, c.campaign_id);
    const outreach = outreachOf(app);
    await outreach.dispatcher.tick({ tenantId: t.tenantId }); // the fan-out
    let stop = false;
    const loop = async () => {
      while (!stop) {
        await outreach.dispatcher.drain({ tenantId: t.tenantId });
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const cancel = (async () => {
      await new Promise((r) => setTimeout(r, 1200));
      const reply = await t.call('POST', `/v1/outreach/runs/${run.run_id}/cancel`);
      stop = true;
      return reply;
    })();
    const [, , reply] = await Promise.all([loop(), loop(), cancel]);
    must(reply, 200);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });

    const counts = countBy(await recordsOf(app, run.run_id));
    const sent = counts.sent ?? 0;
    const cancelled = counts.cancelled ?? 0;
    expect(sent + cancelled).toBe(150);
    expect(sent).toBeGreaterThan(0);
    expect(cancelled).toBeGreaterThan(0);
    expect(peer.requests).toBe(sent);
    expect(new Set(peer.messages.map((m) => m.to)).size).toBe(sent);
    const view = await getRun(t, run.run_id);
    expect(view.status).toBe('cancelled');
    expect(view.stats).toMatchObject({ planned: 150, attempted: sent, sent, cancelled, remaining: 0 });
  });

  it('pauses a run before its fan-out; resume fans out and sends', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 4, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const run = await triggerRun(t, (await createSmsCampaign(t, 'VIP')).campaign_id);
    expect(must(await t.call('POST', `/v1/outreach/runs/${run.run_id}/pause`), 200).body.status).toBe('paused');
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    expect(await recordsOf(app, run.run_id)).toHaveLength(0);
    expect(must(await t.call('POST', `/v1/outreach/runs/${run.run_id}/resume`), 200).body.status).toBe('resolving');
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    expect(countBy(await recordsOf(app, run.run_id))).toEqual({ sent: 4 });
    expect(peer.requests).toBe(4);
    expect((await getRun(t, run.run_id)).status).toBe('completed');
  });
});
