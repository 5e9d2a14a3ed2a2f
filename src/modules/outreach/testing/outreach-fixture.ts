import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { must, type Reply, type TenantFixture, type TestApp } from '../../../../test/helpers/test-app.js';
import { type SmsPeer, startGenericSmsPeer } from '../channels/testing/sms-peers.js';
import type { Outreach } from '../outreach.module.js';
import type { StatsView } from '../run.stats.js';

/** The product document's SMS, verbatim. */
export const PRODUCT_SMS = '亲爱的[客户姓名]，您有一份6月专属好礼待领取！详情请访问[链接]。退订请回复TD。';

export function outreachOf(app: TestApp): Outreach {
  return (app.app as unknown as { services: { outreach: Outreach } }).services.outreach;
}

/** Profiles with a tag, a name and a phone (+861380000xxxx), in one call per customer. */
export async function seedCustomers(t: TenantFixture, count: number, tag: string, extra: (i: number) => Record<string, unknown> = () => ({})) {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = `u${String(i).padStart(5, '0')}`;
    ids.push(id);
    const r = await t.call('PUT', `/v1/customers/${id}`, { tags: [tag], attributes: { name: `客户${i}`, phone: `+86138${String(i).padStart(8, '0')}`, email: `c${i}@example.test`, ...extra(i) } });
    if (r.status !== 200) must(r, 201);
  }
  return ids;
}

/** A generic-JSON SMS peer and a provider of the tenant pointing at it (default for sms). */
export async function smsProvider(t: TenantFixture, options: { rate?: number; peer?: SmsPeer } = {}) {
  const secret = randomBytes(24).toString('hex');
  const peer = options.peer ?? (await startGenericSmsPeer({ secret }));
  const provider = must(
    await t.call(
      'POST',
      '/v1/outreach/providers',
      { name: 'sms', kind: 'sms_generic', config: { url: peer.url }, secrets: { secret }, rate_per_second: options.rate ?? 1000, is_default: true },
      { key: t.admin },
    ),
    201,
  ).body as { provider_id: string };
  return { peer, secret, providerId: provider.provider_id };
}

export async function createSmsCampaign(t: TenantFixture, tag: string, extra: Record<string, unknown> = {}) {
  return must(
    await t.call('POST', '/v1/outreach/campaigns', {
      name: '六月会员关怀短信',
      channel: 'sms',
      target_tags: [tag],
      content: { text: PRODUCT_SMS },
      link_url: 'https://shop.example.test/june',
      ...extra,
    }),
    201,
  ).body as { campaign_id: string; status: string };
}

// --- Helpers of the run tests (run-*.test.ts, campaign.test.ts) ---

/** Asserts a refusal: the status and the stable error code; returns the error body. */
export function refused(reply: Reply, status: number, code: string): { code: string; message: string; details: Record<string, unknown> } {
  const body = reply.body as { error?: { code: string; message: string; details: Record<string, unknown> } } | undefined;
  if (reply.status !== status || body?.error?.code !== code) {
    throw new Error(`expected HTTP ${status} ${code}, got ${reply.status}: ${JSON.stringify(reply.body)}`);
  }
  return body.error;
}

/** Triggers a campaign (actual by default); returns the run view. */
export async function triggerRun(t: TenantFixture, campaignId: string, executionType: 'actual' | 'simulation' = 'actual') {
  return must(await t.call('POST', `/v1/outreach/campaigns/${campaignId}/trigger`, { execution_type: executionType }), 202).body as RunView;
}

export interface RunView {
  run_id: string;
  status: string;
  triggered_by: string;
  planned: number;
  provider_id: string | null;
  stats: StatsView;
  variants: Record<string, StatsView>;
  samples: { record_id: string; customer_id: string; address: string; content: Record<string, unknown> }[];
  predicted_duration_seconds: number | null;
  rate_per_second: number;
  ab: { winner: string | null; decide_at: string; metric: string } | null;
}

export async function getRun(t: TenantFixture, runId: string): Promise<RunView> {
  return must(await t.call('GET', `/v1/outreach/runs/${runId}`), 200).body as RunView;
}

export interface RecordRow {
  seq: number;
  customer_id: string;
  status: string;
  reason: string | null;
  variant: string | null;
  attempts: number;
  next_attempt_at: Date;
}

/** The records of a run, by seq (straight from the table). */
export async function recordsOf(app: TestApp, runId: string): Promise<RecordRow[]> {
  return app.database.db
    .selectFrom('outreach_record')
    .select(['seq', 'customer_id', 'status', 'reason', 'variant', 'attempts', 'next_attempt_at'])
    .where('run_id', '=', runId)
    .orderBy('seq')
    .execute() as Promise<RecordRow[]>;
}

/** Records of a run counted by `status` or `status:reason`. */
export function countBy(records: readonly RecordRow[], withReason = false): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) {
    const k = withReason && r.reason ? `${r.status}:${r.reason}` : r.status;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** Drains the tenant's runs until `done()` holds (a slow provider rate ends a drain early), at most `timeoutMs`. */
export async function drainUntil(app: TestApp, tenantId: string, done: () => Promise<boolean>, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    await outreachOf(app).dispatcher.drain({ tenantId });
    if (await done()) return;
    if (Date.now() > until) throw new Error('drainUntil: timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A local webhook receiver answering 200 (a webhook's 2xx is final: records go straight to delivered). */
export async function startWebhookReceiver() {
  const received: { id: string | undefined; body: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ id: req.headers['webhook-id'] as string | undefined, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/outreach`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A webhook provider of the tenant (default for the webhook channel) pointing at `url`. */
export async function webhookProvider(t: TenantFixture, url: string) {
  return must(
    await t.call(
      'POST',
      '/v1/outreach/providers',
      { name: 'hook', kind: 'webhook', config: { url }, secrets: { secret: randomBytes(24).toString('hex') }, rate_per_second: 1000, is_default: true },
      { key: t.admin },
    ),
    201,
  ).body as { provider_id: string };
}

/** The key id of one of the tenant's keys (created_by / updated_by name it). */
export async function keyIdOf(app: TestApp, t: TenantFixture, key: string): Promise<string> {
  const prefix = key.split('_').slice(0, 2).join('_');
  const body = must(await app.call('GET', `/v1/tenants/${t.tenantId}/api-keys`), 200).body as { keys?: { key_id: string; prefix: string }[]; api_keys?: { key_id: string; prefix: string }[] };
  const keys = body.keys ?? body.api_keys ?? [];
  const found = keys.find((k) => k.prefix === prefix);
  if (!found) throw new Error(`no key with prefix ${prefix}: ${JSON.stringify(body)}`);
  return found.key_id;
}
