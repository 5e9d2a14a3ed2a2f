import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { must, testApp } from '../../../test/helpers/test-app.js';
import type { SmsPeer } from './channels/testing/sms-peers.js';
import { countBy, createSmsCampaign, getRun, outreachOf, recordsOf, seedCustomers, smsProvider, triggerRun } from './testing/outreach-fixture.js';

/** A/B: test cells first, the rest held until the winner is known; or a plain split of everyone. */

const peers: SmsPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

const variant = (key: string, percent: number) => ({ key, percent, content: { text: `亲爱的[客户姓名]，${key}款好礼待领取，详情请访问[链接]` } });

describe('outreach runs: A/B with a winner', () => {
  it('sends the 30/30 cells, holds the other 40%, and sends the held records with the variant that got the clicks', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 100, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const outreach = outreachOf(app);
    const c = await createSmsCampaign(t, 'VIP', { content: undefined, variants: [variant('A', 30), variant('B', 30)], ab_winner: { metric: 'click_rate', test_hours: 1 } });
    const run = await triggerRun(t, c.campaign_id);
    expect(run.ab).toMatchObject({ metric: 'click_rate', winner: null });
    const decideAt = Date.parse(run.ab!.decide_at);
    expect(Math.abs(decideAt - (Date.now() + 3_600_000))).toBeLessThan(60_000);

    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    let records = await recordsOf(app, run.run_id);
    const cell = (key: string | null) => records.filter((r) => r.variant === key);
    const a = cell('A').length;
    const b = cell('B').length;
    const held = cell(null).length;
    expect(a + b + held).toBe(100);
    // The split is by a hash of run and customer: about 30 / 30 / 40, exactly what the records say.
    for (const n of [a, b]) expect(n).toBeGreaterThan(10);
    expect(held).toBeGreaterThan(20);
    expect(countBy(records)).toEqual({ sent: a + b, held });
    expect(cell(null).every((r) => r.status === 'held' && r.next_attempt_at.getTime() === decideAt)).toBe(true);
    expect(peer.messages).toHaveLength(a + b);
    const textOf = (customerId: string) => peer.messages.find((m) => m.to === `+86138${customerId.slice(1).padStart(8, '0')}`)?.text;
    for (const r of cell('A')) expect(textOf(r.customer_id)).toMatch(/^亲爱的客户\d+，A款好礼/);
    for (const r of cell('B')) expect(textOf(r.customer_id)).toMatch(/^亲爱的客户\d+，B款好礼/);

    let view = await getRun(t, run.run_id);
    expect(view.status).toBe('sending');
    expect(view.stats).toMatchObject({ planned: 100, sent: a + b, held, remaining: held });
    expect(view.variants.A).toMatchObject({ planned: a, sent: a, held: 0 });
    expect(view.variants.B).toMatchObject({ planned: b, sent: b, held: 0 });

    // Clicks on three B messages: two through the tracked link, one applied to the record.
    const bRecords = cell('B').slice(0, 3);
    for (const r of bRecords.slice(0, 2)) {
      const link = /http:\/\/localhost:8105(\/t\/\S+)$/.exec(textOf(r.customer_id)!)![1]!;
      const click = await app.call('GET', link, undefined, { key: null });
      expect(click.status).toBe(302);
      expect(click.headers.location).toBe('https://shop.example.test/june');
    }
    await outreach.events.applyToRecord(t.tenantId, `${run.run_id}-${bRecords[2]!.seq}`, { kind: 'clicked', linkId: 'x' });
    view = await getRun(t, run.run_id);
    expect(view.variants.B).toMatchObject({ clicked: 3, delivered: 3 });
    expect(view.variants.A).toMatchObject({ clicked: 0, delivered: 0 });

    // Not decided before its time.
    await outreach.dispatcher.drain({ tenantId: t.tenantId });
    expect(peer.messages).toHaveLength(a + b);

    const past = new Date(Date.now() - 60_000).toISOString();
    await sql`update outreach_run set snapshot = jsonb_set(snapshot, '{ab,decide_at}', to_jsonb(${past}::text)) where run_id = ${run.run_id}`.execute(app.database.db);
    await outreach.dispatcher.drain({ tenantId: t.tenantId });

    records = await recordsOf(app, run.run_id);
    expect(countBy(records)).toEqual({ sent: 100 - 3, clicked: 3 });
    expect(records.filter((r) => r.variant === 'B')).toHaveLength(b + held);
    expect(records.filter((r) => r.variant === 'A')).toHaveLength(a);
    expect(peer.messages).toHaveLength(100);
    expect(peer.requests).toBe(100);
    for (const r of records.filter((x) => x.variant === 'B')) expect(textOf(r.customer_id)).toMatch(/^亲爱的客户\d+，B款好礼/);

    view = await getRun(t, run.run_id);
    expect(view.status).toBe('completed');
    expect(view.ab).toMatchObject({ winner: 'B', metric: 'click_rate', released: held });
    expect(view.stats).toMatchObject({ planned: 100, sent: 100, held: 0, remaining: 0, clicked: 3 });
    expect(view.variants.A).toMatchObject({ planned: a, sent: a });
    expect(view.variants.B).toMatchObject({ planned: b + held, sent: b + held, clicked: 3 });
    const stats = must(await t.call('GET', `/v1/outreach/campaigns/${c.campaign_id}/stats`), 200).body;
    expect(stats).toMatchObject({ runs: 1, planned: 100, sent: 100, clicked: 3 });
    expect(stats.variants.B.planned).toBe(b + held);
  });
});

describe('outreach runs: A/B split without a winner', () => {
  it('splits everyone 50/50; the counts add up to planned', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 80, 'VIP');
    const { peer } = await smsProvider(t);
    peers.push(peer);
    const c = await createSmsCampaign(t, 'VIP', { content: undefined, variants: [variant('A', 50), variant('B', 50)] });
    const run = await triggerRun(t, c.campaign_id);
    expect(run.ab).toBeNull();
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });

    const records = await recordsOf(app, run.run_id);
    const a = records.filter((r) => r.variant === 'A').length;
    const b = records.filter((r) => r.variant === 'B').length;
    expect(a + b).toBe(80);
    expect(a).toBeGreaterThan(20);
    expect(b).toBeGreaterThan(20);
    expect(countBy(records)).toEqual({ sent: 80 });
    expect(peer.messages).toHaveLength(80);
    expect(peer.messages.filter((m) => m.text.includes('A款好礼'))).toHaveLength(a);
    expect(peer.messages.filter((m) => m.text.includes('B款好礼'))).toHaveLength(b);
    const view = await getRun(t, run.run_id);
    expect(view.status).toBe('completed');
    expect(view.stats).toMatchObject({ planned: 80, sent: 80, held: 0 });
    expect(view.variants.A).toMatchObject({ planned: a, sent: a });
    expect(view.variants.B).toMatchObject({ planned: b, sent: b });
  });
});
