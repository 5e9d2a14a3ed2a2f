import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { testApp } from '../../../test/helpers/test-app.js';
import type { SmsPeer } from './channels/testing/sms-peers.js';
import { countBy, createSmsCampaign, getRun, outreachOf, recordsOf, seedCustomers, smsProvider, triggerRun } from './testing/outreach-fixture.js';

/**
 * The send loop takes a bounded number of runs per pass. Runs that wait with nothing due (quiet
 * hours, an A/B test window of days) must not take those places: a new run is sent at once.
 */

const peers: SmsPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

describe('outreach send loop: waiting runs do not starve new ones', () => {
  it('sends a new run while 60 older runs wait for records due tomorrow', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 5, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const outreach = outreachOf(app);
    const db = app.database.db;

    // A template run to copy: 60 runs of an hour ago, sending, each with one record deferred to tomorrow.
    const model = await triggerRun(t, (await createSmsCampaign(t, 'VIP')).campaign_id, 'simulation');
    const hourAgo = new Date(Date.now() - 3_600_000);
    const tomorrow = new Date(Date.now() + 86_400_000);
    await sql`
      insert into outreach_run (tenant_id, run_id, campaign_id, execution_type, status, triggered_by, planned, snapshot, created_at, started_at)
      select tenant_id, run_id || '_w' || g, campaign_id, 'actual', 'sending', 'test', 1, snapshot, ${hourAgo}::timestamptz, ${hourAgo}::timestamptz
      from outreach_run, generate_series(1, 60) g where run_id = ${model.run_id}`.execute(db);
    await sql`
      insert into outreach_record (run_id, seq, tenant_id, campaign_id, customer_id, channel, status, reason, next_attempt_at, updated_at)
      select run_id, 1, tenant_id, campaign_id, 'u00000', 'sms', 'deferred', 'quiet_hours_deferred', ${tomorrow}::timestamptz, ${hourAgo}::timestamptz
      from outreach_run where tenant_id = ${t.tenantId} and triggered_by = 'test'`.execute(db);

    try {
      const run = await triggerRun(t, (await createSmsCampaign(t, 'VIP')).campaign_id);
      await outreach.dispatcher.drain({ tenantId: t.tenantId });
      expect(peer.messages).toHaveLength(5);
      expect(countBy(await recordsOf(app, run.run_id))).toEqual({ sent: 5 });
      expect((await getRun(t, run.run_id)).status).toBe('completed');
      // The simulation the runs were copied from completed too; the waiting ones still wait.
      expect((await getRun(t, model.run_id)).status).toBe('completed');
      const waiting = await sql<{ n: number }>`select count(*)::int as n from outreach_run where tenant_id = ${t.tenantId} and status = 'sending'`.execute(db);
      expect(waiting.rows[0]!.n).toBe(60);
    } finally {
      await sql`update outreach_run set status = 'cancelled' where tenant_id = ${t.tenantId} and triggered_by = 'test'`.execute(db);
    }
  });
});
