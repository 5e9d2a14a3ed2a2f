import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';
import { testApp } from '../../../test/helpers/test-app.js';
import { standardWebhookSecret, verifyWebhookSignature } from '../../platform/webhook.js';
import { closeServer, listenOnLoopback, readBody } from './channels/testing/peer-http.js';
import { createCampaign, createProvider, drain, getRun, makeDue, recordIdOf, recordsOf, runCampaign } from './testing/e2e-helpers.js';
import { seedCustomers } from './testing/outreach-fixture.js';

/** The webhook channel end to end: a campaign's JSON rendered per customer, POSTed signed to a local receiver. */

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
});

interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
}

/** A local receiver that keeps what it gets; `answer` picks the status of each reply (default 204). */
async function startReceiver() {
  const received: Received[] = [];
  const receiver = { url: '', received, answer: (_raw: string): number => 204 };
  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const raw = body.toString('utf8');
      received.push({ headers: req.headers, raw });
      res.writeHead(receiver.answer(raw)).end();
    });
  });
  receiver.url = `${await listenOnLoopback(server)}/hooks/outreach`;
  closers.push(() => closeServer(server));
  return receiver;
}

describe('outreach e2e: webhook channel', () => {
  it('posts the JSON content rendered per customer, signed, with webhook-id = the record id', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 3, 'crm', (i) => ({ tier: i === 0 ? 'gold' : 'silver' }));
    const receiver = await startReceiver();
    const secret = 'whook-secret-0123456789abcdef';
    await createProvider(t, { name: 'crm hook', kind: 'webhook', config: { url: receiver.url }, secrets: { secret } });
    const content = { json: { greeting: 'Hello {{ customer.name }}', tier: '{{ customer.attributes.tier }}', ids: ['{{ customer.user_id }}', 42], flag: true } };
    const { campaign_id } = await createCampaign(t, { channel: 'webhook', target_tags: ['crm'], content });
    const runId = await runCampaign(app, t, campaign_id);

    expect(receiver.received).toHaveLength(3);
    const records = await recordsOf(app, runId);
    expect(records.map((r) => r.status)).toEqual(['delivered', 'delivered', 'delivered']);
    const verifier = new Webhook(standardWebhookSecret(secret));
    for (const r of records) {
      const rid = recordIdOf(runId, r.seq);
      const hit = receiver.received.find((x) => x.headers['webhook-id'] === rid);
      expect(hit, `a delivery with webhook-id ${rid}`).toBeDefined();
      // Both signatures verify over the exact bytes received: Standard Webhooks and the older header.
      const payload = verifier.verify(hit!.raw, hit!.headers as Record<string, string>);
      expect(verifyWebhookSignature(secret, hit!.headers['x-marketing-signature'] as string, hit!.raw)).toBe(true);
      expect(verifyWebhookSignature('another-secret-0123456789', hit!.headers['x-marketing-signature'] as string, hit!.raw)).toBe(false);
      const i = Number(r.customer_id.slice(-1));
      expect(payload).toEqual({
        type: 'outreach.message',
        record_id: rid,
        campaign_id,
        customer_id: r.customer_id,
        tenant_id: t.tenantId,
        content: { greeting: `Hello 客户${i}`, tier: i === 0 ? 'gold' : 'silver', ids: [r.customer_id, 42], flag: true },
      });
    }
    // A body changed in transit does not verify.
    const first = receiver.received[0]!;
    expect(() => verifier.verify(first.raw.replace('Hello', 'Hallo'), first.headers as Record<string, string>)).toThrow();
    const run = await getRun(t, runId);
    expect(run.stats).toMatchObject({ planned: 3, attempted: 3, sent: 3, delivered: 3, failed: 0, remaining: 0 });
  });

  it('a receiver that answers 503 gets the record again later with the same webhook-id; a 400 fails it for good', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    await seedCustomers(t, 2, 'crm');
    let calls = 0;
    // u00000's first delivery is answered 503 (down for a moment), then 204; u00001's is always refused with 400.
    const receiver = await startReceiver();
    const answers = new Map<string, number[]>([['u00000', [503, 204]], ['u00001', [400]]]);
    const secret = 'whook-secret-0123456789abcdef';
    await createProvider(t, { name: 'crm hook', kind: 'webhook', config: { url: receiver.url }, secrets: { secret } });
    const { campaign_id } = await createCampaign(t, { channel: 'webhook', target_tags: ['crm'], content: { json: { hello: '{{ customer.name }}' } } });
    receiver.answer = (raw) => {
      calls += 1;
      const list = answers.get((JSON.parse(raw) as { customer_id: string }).customer_id)!;
      return list.length > 1 ? list.shift()! : list[0]!;
    };
    const runId = await runCampaign(app, t, campaign_id);
    expect(calls).toBe(2);
    const [r0, r1] = await recordsOf(app, runId);
    expect(r0).toMatchObject({ customer_id: 'u00000', status: 'deferred', reason: 'provider_unavailable' });
    expect(r1).toMatchObject({ customer_id: 'u00001', status: 'failed', reason: 'provider_refused' });

    expect(await makeDue(app, runId)).toBe(1);
    await drain(app, t);
    expect(calls).toBe(3);
    expect((await recordsOf(app, runId))[0]).toMatchObject({ status: 'delivered', attempts: 2 });
    const ids = receiver.received.filter((x) => (JSON.parse(x.raw) as { customer_id: string }).customer_id === 'u00000').map((x) => x.headers['webhook-id']);
    expect(ids).toEqual([recordIdOf(runId, r0!.seq), recordIdOf(runId, r0!.seq)]);
    expect((await getRun(t, runId)).stats).toMatchObject({ planned: 2, attempted: 2, delivered: 1, failed: 1, deferred: 0, remaining: 0 });
  });
});
