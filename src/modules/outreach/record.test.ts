import { CompiledQuery, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { must, type TenantFixture, type TestApp, testApp } from '../../../test/helpers/test-app.js';
import type { SmsPeer } from './channels/testing/sms-peers.js';
import { maskAddress, parseRecordId } from './record.service.js';
import { createSmsCampaign, outreachOf, seedCustomers, smsProvider } from './testing/outreach-fixture.js';

const peers: SmsPeer[] = [];
afterAll(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

const RECORD_KEYS = [
  'address',
  'attempts',
  'campaign_id',
  'channel',
  'clicked_at',
  'converted_at',
  'customer_id',
  'delivered_at',
  'error_message',
  'failed_at',
  'machine_opened_at',
  'opened_at',
  'provider_message_id',
  'reason',
  'record_id',
  'response',
  'run_id',
  'sent_at',
  'status',
  'updated_at',
  'variant',
];

function refused(reply: { status: number; body: any }, status: number, code: string) {
  expect({ status: reply.status, code: reply.body?.error?.code }).toEqual({ status, code });
}

/** A tenant with 5 VIP customers, one campaign, an actual run (5 sent) and then a simulation (5 would_send). */
async function scenario(app: TestApp) {
  const t = await app.newTenant();
  await seedCustomers(t, 5, 'VIP');
  const { peer } = await smsProvider(t);
  peers.push(peer);
  const campaign = await createSmsCampaign(t, 'VIP');
  const actual = must(await t.call('POST', `/v1/outreach/campaigns/${campaign.campaign_id}/trigger`, { execution_type: 'actual' }), 202).body;
  await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
  const simulation = must(await t.call('POST', `/v1/outreach/campaigns/${campaign.campaign_id}/trigger`, { execution_type: 'simulation' }), 202).body;
  await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
  expect(peer.messages).toHaveLength(5);
  return { t, campaignId: campaign.campaign_id, actualRun: actual.run_id as string, simulationRun: simulation.run_id as string };
}

const list = async (t: TenantFixture, query: Record<string, string | number>) => must(await t.call('GET', '/v1/outreach/records', undefined, { query }), 200).body;

describe('GET /v1/outreach/records', () => {
  it('lists the records of a campaign through its runs, newest first, paged, with masked addresses', async () => {
    const app = await testApp();
    const { t, campaignId, actualRun, simulationRun } = await scenario(app);

    const page1 = await list(t, { campaign_id: campaignId, page_size: 3 });
    expect(page1.pagination).toEqual({ total: 10, page: 1, page_size: 3 });
    expect(page1.records).toHaveLength(3);
    // The latest run first, its last written record first.
    expect(page1.records.map((r: any) => r.record_id)).toEqual([`${simulationRun}-5`, `${simulationRun}-4`, `${simulationRun}-3`]);
    const page4 = await list(t, { campaign_id: campaignId, page_size: 3, page: 4 });
    expect(page4.records.map((r: any) => r.record_id)).toEqual([`${actualRun}-1`]);

    const sent = await list(t, { run_id: actualRun });
    expect(sent.pagination.total).toBe(5);
    const r = sent.records.find((x: any) => x.customer_id === 'u00003');
    expect(Object.keys(r).sort()).toEqual(RECORD_KEYS);
    expect(r).toMatchObject({ run_id: actualRun, campaign_id: campaignId, channel: 'sms', status: 'sent', attempts: 1, address: '**********0003', variant: null, reason: null });
    expect(r.sent_at).not.toBeNull();
    expect(r.provider_message_id).toEqual(expect.any(String));
    expect(JSON.stringify(sent)).not.toContain('+8613800000003');

    expect((await list(t, { status: 'would_send' })).pagination.total).toBe(5);
    expect((await list(t, { status: 'sent', customer_id: 'u00003' })).records.map((x: any) => x.record_id)).toEqual([r.record_id]);
    expect((await list(t, { customer_id: 'u00003' })).pagination.total).toBe(2);
    expect((await list(t, { channel: 'email' })).pagination.total).toBe(0);
    expect((await list(t, { campaign_id: 'oc_none' })).pagination.total).toBe(0);
    expect((await list(t, {})).pagination.total).toBe(10);

    // from / to on sent_at, else updated_at.
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
    expect((await list(t, { from: hourAgo, to: inAnHour })).pagination.total).toBe(10);
    expect((await list(t, { from: inAnHour })).pagination.total).toBe(0);
    expect((await list(t, { to: hourAgo })).pagination.total).toBe(0);
    expect((await list(t, { from: r.sent_at, run_id: actualRun })).records.map((x: any) => x.record_id)).toContain(r.record_id);

    refused(await t.call('GET', '/v1/outreach/records', undefined, { query: { status: 'lost' } }), 400, 'invalid_request');
    refused(await t.call('GET', '/v1/outreach/records', undefined, { query: { from: 'yesterday' } }), 400, 'invalid_request');
    // Instants the database cannot hold are refused before any query (the export too).
    refused(await t.call('GET', '/v1/outreach/records', undefined, { query: { from: '0000-01-01T00:00:00Z' } }), 400, 'invalid_request');
    refused(await t.call('GET', '/v1/outreach/records/export', undefined, { query: { to: '0000-01-01T00:00:00Z' } }), 400, 'invalid_request');
  });

  it("a record by id; another tenant sees none of them, by id, by filter or in its list", async () => {
    const app = await testApp();
    const { t, campaignId, actualRun } = await scenario(app);
    const one = must(await t.call('GET', `/v1/outreach/records/${actualRun}-2`, undefined, { key: t.readonly }), 200).body;
    expect(Object.keys(one).sort()).toEqual(RECORD_KEYS);
    expect(one).toMatchObject({ record_id: `${actualRun}-2`, run_id: actualRun, status: 'sent' });

    // A second campaign of the same tenant: the campaign filter keeps them apart.
    const second = await createSmsCampaign(t, 'VIP', { name: '七月' });
    must(await t.call('POST', `/v1/outreach/campaigns/${second.campaign_id}/trigger`, { execution_type: 'simulation' }), 202);
    await outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
    expect((await list(t, { campaign_id: campaignId })).pagination.total).toBe(10);
    const secondList = await list(t, { campaign_id: second.campaign_id });
    expect(secondList.pagination.total).toBe(5);
    expect(secondList.records.every((x: any) => x.campaign_id === second.campaign_id && x.status === 'would_send')).toBe(true);
    expect((await list(t, {})).pagination.total).toBe(15);

    const other = await app.newTenant();
    await seedCustomers(other, 2, 'VIP');
    const mine = await createSmsCampaign(other, 'VIP');
    must(await other.call('POST', `/v1/outreach/campaigns/${mine.campaign_id}/trigger`, { execution_type: 'simulation' }), 202);
    await outreachOf(app).dispatcher.drain({ tenantId: other.tenantId });

    refused(await other.call('GET', `/v1/outreach/records/${actualRun}-2`), 404, 'record_not_found');
    refused(await t.call('GET', `/v1/outreach/records/${actualRun}-99`), 404, 'record_not_found');
    refused(await t.call('GET', '/v1/outreach/records/not-a-record'), 404, 'record_not_found');
    expect((await list(other, { campaign_id: campaignId })).pagination.total).toBe(0);
    expect((await list(other, { run_id: actualRun })).pagination.total).toBe(0);
    expect((await list(other, { customer_id: 'u00001' })).pagination.total).toBe(1);
    const all = await list(other, {});
    expect(all.pagination.total).toBe(2);
    expect(all.records.every((x: any) => x.campaign_id === mine.campaign_id)).toBe(true);
    const csv = must(await other.call('GET', '/v1/outreach/records/export', undefined, { query: { run_id: actualRun } }), 200).body as string;
    expect(csv.trimEnd().split('\n')).toHaveLength(1);
  });

  it('reaches records through the primary key for a campaign, never a scan of the table', async () => {
    const app = await testApp();
    const { t, campaignId } = await scenario(app);
    const db = app.database.db;
    // The statement the list runs, caught on its way to the database.
    let proto = Object.getPrototypeOf(db.getExecutor());
    while (proto && !Object.prototype.hasOwnProperty.call(proto, 'executeQuery')) proto = Object.getPrototypeOf(proto);
    const original = proto.executeQuery;
    let caught: CompiledQuery | undefined;
    proto.executeQuery = function (this: unknown, compiled: CompiledQuery, ...rest: unknown[]) {
      if (/^select \* from "outreach_record"/.test(compiled.sql)) caught = compiled;
      return original.call(this, compiled, ...rest);
    };
    try {
      await list(t, { campaign_id: campaignId });
    } finally {
      proto.executeQuery = original;
    }
    expect(caught?.sql).toMatch(/run_id = any\(array\(\(select "run_id" from "outreach_run" where "tenant_id" = \$1 and "campaign_id" = \$2\)\)\)/);
    const plan = await db.transaction().execute(async (trx) => {
      await sql`set local enable_seqscan = off`.execute(trx);
      const rows = await trx.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${caught!.sql}`, [...caught!.parameters]));
      return rows.rows.map((row) => row['QUERY PLAN']).join('\n');
    });
    // An index led by run_id (the primary key, or the (run_id, customer_id, channel) unique one).
    expect(plan).toMatch(/(Index (Only )?Scan (Backward )?using|Bitmap Index Scan on) outreach_record_(pkey|once)/);
    expect(plan).toMatch(/Index Cond: \(run_id = ANY/);
    expect(plan).toMatch(/using outreach_run_(campaign|pkey) on outreach_run/);
    expect(plan).not.toMatch(/Seq Scan|outreach_record_customer/);
  });
});

describe('GET /v1/outreach/records/export', () => {
  it('streams the matching records as CSV with a header row, page by page', async () => {
    const app = await testApp();
    const { t, campaignId, actualRun } = await scenario(app);
    const reply = must(await t.call('GET', '/v1/outreach/records/export', undefined, { query: { campaign_id: campaignId }, key: t.readonly }), 200);
    expect(String(reply.headers['content-type'])).toMatch(/^text\/csv/);
    const lines = (reply.body as string).trimEnd().split('\n');
    expect(lines[0]).toBe(
      'record_id,run_id,campaign_id,customer_id,channel,variant,status,reason,error_message,address,attempts,provider_message_id,response,sent_at,delivered_at,failed_at,opened_at,machine_opened_at,clicked_at,converted_at,updated_at',
    );
    expect(lines).toHaveLength(11);
    const sent = lines.filter((l) => l.startsWith(`${actualRun}-`));
    expect(sent).toHaveLength(5);
    expect(sent.at(-1)).toMatch(new RegExp(`^${actualRun}-1,${actualRun},${campaignId},u00000,sms,,sent,,,\\*{10}0000,1,`));
    const filtered = must(await t.call('GET', '/v1/outreach/records/export', undefined, { query: { status: 'sent', customer_id: 'u00004' } }), 200).body as string;
    expect(filtered.trimEnd().split('\n')).toHaveLength(2);

    // The service reads one page at a time, by key.
    const records = (await import('./record.service.js')).createRecordService({ db: app.database.db });
    const pages: number[] = [];
    const actor = { kind: 'tenant' as const, tenantId: t.tenantId, keyId: 'k', role: 'readonly' as const, productCodes: null };
    const ids: string[] = [];
    for await (const r of await records.exportRecords(actor, { campaign_id: campaignId }, { pageSize: 3, onPage: (n) => pages.push(n) })) ids.push(r.record_id);
    expect(pages).toEqual([3, 3, 3, 1]);
    expect(new Set(ids).size).toBe(10);
    expect(ids).toEqual(lines.slice(1).map((l) => l.split(',')[0]));
  });
});

describe('record helpers', () => {
  it('masks addresses and parses record ids', () => {
    expect(maskAddress('+8613800000123')).toBe('**********0123');
    expect(maskAddress('c0@example.test')).toBe('c***@example.test');
    expect(maskAddress('alice.long@mail.example.test')).toBe('a***@mail.example.test');
    expect(maskAddress('abc')).toBe('***');
    expect(maskAddress('x'.repeat(150) + 'TAIL')).toBe(`${'*'.repeat(12)}TAIL`);
    expect(maskAddress(null)).toBeNull();
    expect(parseRecordId('run_01JABC-7')).toEqual({ runId: 'run_01JABC', seq: 7 });
    expect(parseRecordId('run_01JABC-0')).toBeNull();
    expect(parseRecordId('run_01JABC')).toBeNull();
    expect(parseRecordId('-7')).toBeNull();
  });
});
