/**
 * Helpers of the end-to-end outreach tests (e2e-*.test.ts): providers and campaigns created
 * through the API, runs triggered and drained through the real send loop, and the records and
 * counters read back (records straight from the table: the API has no record listing).
 */
import { sql } from 'kysely';
import { must, type Reply, type TenantFixture, type TestApp } from '../../../../test/helpers/test-app.js';
import type { CallbackRequest } from '../channels/channel.js';
import { type SmtpPeer, startSmtpPeer } from '../channels/testing/smtp-peer.js';
import { outreachOf, seedCustomers } from './outreach-fixture.js';

/** The public base of tracked links in the test configuration. */
export const PUBLIC_BASE = 'http://localhost:8105';

/**
 * The origin the public callback routes see under `app.inject` (request.protocol and
 * request.hostname): a provider signs the URL it called, so test callbacks are signed for this.
 */
export const INJECT_ORIGIN = 'http://localhost';

export interface RecordRow {
  seq: number;
  customer_id: string;
  status: string;
  reason: string | null;
  address: string | null;
  attempts: number;
  provider_message_id: string | null;
  error_message: string | null;
  response: unknown;
  next_attempt_at: Date;
}

/** The path of a tracked URL (`http://localhost:8105/t/...` -> `/t/...`); throws for another origin. */
export function pathOf(url: string): string {
  if (!url.startsWith(`${PUBLIC_BASE}/`)) throw new Error(`not a tracked URL of this service: ${url}`);
  return url.slice(PUBLIC_BASE.length);
}

/**
 * A rate high enough that a test's drains never wait for the provider's budget: every step of the
 * send loop reserves a tenth of a second's worth of permits, even a step that finds nothing due.
 */
export const TEST_RATE = 100_000;

export async function createProvider(t: TenantFixture, body: Record<string, unknown>): Promise<{ provider_id: string; callback_url: string; inbound_url: string }> {
  return must(await t.call('POST', '/v1/outreach/providers', { rate_per_second: TEST_RATE, is_default: true, ...body }, { key: t.admin }), 201).body;
}

export async function createCampaign(t: TenantFixture, body: Record<string, unknown>): Promise<{ campaign_id: string }> {
  return must(await t.call('POST', '/v1/outreach/campaigns', { name: 'e2e campaign', ...body }), 201).body;
}

/** Triggers an actual run and drains the send loop; the run id. */
export async function runCampaign(app: TestApp, t: TenantFixture, campaignId: string): Promise<string> {
  const run = must(await t.call('POST', `/v1/outreach/campaigns/${campaignId}/trigger`, { execution_type: 'actual' }), 202).body as { run_id: string };
  await drain(app, t);
  return run.run_id;
}

/** Runs the send loop over the tenant's runs until nothing of theirs is due. */
export function drain(app: TestApp, t: TenantFixture): Promise<number> {
  return outreachOf(app).dispatcher.drain({ tenantId: t.tenantId });
}

/** A record through the API (`GET /v1/outreach/records/:record_id`; addresses masked). */
export async function apiRecord(t: TenantFixture, recordId: string) {
  return must(await t.call('GET', `/v1/outreach/records/${recordId}`), 200).body;
}

export async function getRun(t: TenantFixture, runId: string) {
  return must(await t.call('GET', `/v1/outreach/runs/${runId}`), 200).body;
}

export async function campaignStats(t: TenantFixture, campaignId: string) {
  return must(await t.call('GET', `/v1/outreach/campaigns/${campaignId}/stats`), 200).body;
}

export async function recordsOf(app: TestApp, runId: string): Promise<RecordRow[]> {
  const r = await sql<RecordRow>`
    select seq, customer_id, status, reason, address, attempts, provider_message_id, error_message, response, next_attempt_at
    from outreach_record where run_id = ${runId} order by seq`.execute(app.database.db);
  return r.rows;
}

export async function recordOf(app: TestApp, runId: string, customerId: string): Promise<RecordRow> {
  const row = (await recordsOf(app, runId)).find((r) => r.customer_id === customerId);
  if (!row) throw new Error(`no record of ${customerId} in ${runId}`);
  return row;
}

/** `{status: n}` over the run's records. */
export async function statusCounts(app: TestApp, runId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of await recordsOf(app, runId)) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
}

export const recordIdOf = (runId: string, seq: number) => `${runId}-${seq}`;

/**
 * Makes the run's deferred records due (instead of waiting for their next attempt). A second in
 * the past: the send loop compares with the process clock in milliseconds, and the database's
 * now() (microseconds, its own clock) can be a little ahead of it.
 */
export async function makeDue(app: TestApp, runId: string): Promise<number> {
  const r = await sql`update outreach_record set next_attempt_at = now() - interval '1 second' where run_id = ${runId} and status = 'deferred'`.execute(app.database.db);
  return Number(r.numAffectedRows ?? 0);
}

/** The tenant's suppression list on a channel. */
export async function suppressions(app: TestApp, tenantId: string, channel: string): Promise<{ address: string; reason: string }[]> {
  const r = await sql<{ address: string; reason: string }>`
    select address, reason from outreach_suppression where tenant_id = ${tenantId} and channel = ${channel} order by address collate "C"`.execute(app.database.db);
  return r.rows;
}

/** POSTs a provider callback built by a peer helper to our keyless endpoint, as the provider would. */
export function postCallback(app: TestApp, path: string, request: CallbackRequest): Promise<Reply> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  return app.call('POST', path, undefined, { key: null, payload: request.rawBody, headers });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An e-mail campaign's content: the name rendered with Liquid and one literal (tracked) link. */
export const EMAIL_CONTENT = {
  subject: 'Hello {{ customer.name }}',
  html: '<p>Dear {{ customer.name }},</p><p><a href="https://shop.example.test/sale">Our sale</a></p>',
  text: 'Dear {{ customer.name }}, our sale: https://shop.example.test/sale',
};

/**
 * A tenant with `count` customers tagged "news" (u00000.., c{i}@example.test), an SMTP peer (pushed
 * on `peers` for the caller to close), the tenant's default smtp provider on it, and a draft
 * e-mail campaign to the tag.
 */
export async function emailSetup(app: TestApp, count: number, peers: SmtpPeer[]): Promise<{ t: TenantFixture; peer: SmtpPeer; campaignId: string }> {
  const t = await app.newTenant();
  await seedCustomers(t, count, 'news');
  const peer = await startSmtpPeer();
  peers.push(peer);
  await createProvider(t, { name: 'relay', kind: 'smtp', config: { host: peer.host, port: peer.port, from: 'Shop <news@shop.example.test>' }, secrets: {} });
  const { campaign_id } = await createCampaign(t, { channel: 'email', target_tags: ['news'], content: EMAIL_CONTENT });
  return { t, peer, campaignId: campaign_id };
}
