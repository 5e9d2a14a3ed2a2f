import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';
import { testApp } from '../../../test/helpers/test-app.js';
import { standardWebhookSecret, verifyWebhookSignature } from '../../platform/webhook.js';
import { closeServer, listenOnLoopback, readBody } from './channels/testing/peer-http.js';
import { createCampaign, createProvider, getRun, recordIdOf, recordsOf, runCampaign } from './testing/e2e-helpers.js';
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

async function startReceiver(answer: () => number = () => 204) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      received.push({ headers: req.headers, raw: body.toString('utf8') });
      res.writeHead(answer()).end();
    });
  });
  const origin = await listenOnLoopback(server);
  closers.push(() => closeServer(server));
  return { url: `${origin}/hooks/outreach`, received };
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
});
