import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { SIGNATURE_HEADER, standardWebhookSecret, verifyWebhookSignature, WebhookBlockedError, WebhookDeliveryError } from '../../../platform/webhook.js';
import type { OutboundMessage, ProviderDeps } from './channel.js';
import { classifyWebhookError, webhookKind } from './webhook.js';

const SECRET = 'tenant-webhook-secret-0123456789';
const deps: ProviderDeps = { allowPrivateNetworks: true, timeoutMs: 5_000 };

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}
type Answer = number | 'hang';

const receivers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

/** A local HTTP receiver; `answer(n)` picks the status of the n-th request (1-based). */
async function receiver(answer: (n: number) => Answer = () => 200) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = answer(received.length);
      if (status === 'hang') return;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (status === 429) headers['retry-after'] = '120';
      res.writeHead(status, headers).end(JSON.stringify({ status }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const handle = {
    url: `http://127.0.0.1:${port}/hooks/outreach`,
    port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  receivers.push(handle);
  return handle;
}

function message(overrides: Partial<OutboundMessage> = {}): OutboundMessage {
  return {
    recordId: 'rec_webhook_1',
    tenantId: 'ten_1',
    customerId: 'cus_1',
    campaignId: 'cmp_1',
    address: '',
    content: { channel: 'webhook', json: { offer: 'SPRING10', amount: 10, tags: ['a', 'b'] } },
    ...overrides,
  };
}

describe('webhookKind.check', () => {
  it('accepts an http(s) URL and a long enough secret', () => {
    expect(webhookKind.check({ url: 'https://hooks.shop.example/outreach' }, { secret: SECRET })).toBeNull();
    expect(webhookKind.check({ url: 'http://10.0.0.2:8080/x' }, { secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' })).toBeNull();
  });
  it.each([
    [{ url: 'ftp://hooks.shop.example' }, { secret: SECRET }, /url/],
    [{ url: 'not a url' }, { secret: SECRET }, /url/],
    [{}, { secret: SECRET }, /url/],
    [{ url: 'https://hooks.shop.example' }, { secret: 'short' }, /secret/],
    [{ url: 'https://hooks.shop.example' }, {}, /secret/],
  ])('refuses %j %j', (config, secrets, error) => {
    expect(webhookKind.check(config, secrets)).toMatch(error);
  });
});

describe('webhook provider against a local receiver', () => {
  it('posts the signed message body', async () => {
    const r = await receiver();
    const provider = webhookKind.create({ url: r.url }, { secret: SECRET }, deps);
    expect(await provider.send(message())).toEqual({ kind: 'accepted', delivered: true });
    expect(r.received).toHaveLength(1);
    const got = r.received[0]!;
    expect(JSON.parse(got.body)).toEqual({
      type: 'outreach.message',
      record_id: 'rec_webhook_1',
      campaign_id: 'cmp_1',
      customer_id: 'cus_1',
      tenant_id: 'ten_1',
      content: { offer: 'SPRING10', amount: 10, tags: ['a', 'b'] },
    });
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['webhook-id']).toBe('rec_webhook_1');
    // What a receiver does with a published Standard Webhooks library (throws when it does not verify).
    expect(new Webhook(standardWebhookSecret(SECRET)).verify(got.body, got.headers as Record<string, string>)).toMatchObject({ record_id: 'rec_webhook_1' });
    expect(verifyWebhookSignature(SECRET, got.headers[SIGNATURE_HEADER] as string, got.body)).toBe(true);
    expect(verifyWebhookSignature('another-secret-0123456789', got.headers[SIGNATURE_HEADER] as string, got.body)).toBe(false);
  });

  it('sends the same webhook-id when a record is retried', async () => {
    const r = await receiver((n) => (n === 1 ? 500 : 200));
    const provider = webhookKind.create({ url: r.url }, { secret: SECRET }, deps);
    expect((await provider.send(message())).kind).toBe('retry');
    expect((await provider.send(message())).kind).toBe('accepted');
    expect(r.received.map((x) => x.headers['webhook-id'])).toEqual(['rec_webhook_1', 'rec_webhook_1']);
    expect(r.received[0]!.body).toBe(r.received[1]!.body);
  });

  it.each([
    [429, 'throttled'],
    [500, 'retry'],
    [503, 'retry'],
    [408, 'retry'],
    [400, 'failed'],
    [404, 'failed'],
    [301, 'failed'],
  ])('classifies HTTP %i as %s', async (status, kind) => {
    const r = await receiver(() => status);
    const provider = webhookKind.create({ url: r.url }, { secret: SECRET }, deps);
    const outcome = await provider.send(message());
    expect(outcome.kind).toBe(kind);
    if (outcome.kind !== 'accepted') expect(outcome.error).toContain(String(status));
    if (outcome.kind === 'throttled') expect(outcome.retryAfterMs).toBe(30_000);
  });

  it('retries on a timeout and on a closed port', async () => {
    const r = await receiver(() => 'hang');
    const slow = webhookKind.create({ url: r.url }, { secret: SECRET }, { allowPrivateNetworks: true, timeoutMs: 200 });
    expect(await slow.send(message())).toMatchObject({ kind: 'retry', error: expect.stringContaining('timed out') });
    const port = r.port;
    await r.close();
    const down = webhookKind.create({ url: `http://127.0.0.1:${port}/x` }, { secret: SECRET }, deps);
    expect(await down.send(message())).toMatchObject({ kind: 'retry', error: expect.stringContaining('ECONNREFUSED') });
  });

  it('fails a private receiver when private networks are not allowed, without calling it', async () => {
    const r = await receiver();
    const provider = webhookKind.create({ url: r.url }, { secret: SECRET }, { allowPrivateNetworks: false, timeoutMs: 5_000 });
    expect(await provider.send(message())).toMatchObject({ kind: 'failed', error: expect.stringContaining('private address') });
    expect(r.received).toHaveLength(0);
  });

  it('fails content of another channel and a misconfigured provider', async () => {
    const r = await receiver();
    const provider = webhookKind.create({ url: r.url }, { secret: SECRET }, deps);
    expect((await provider.send(message({ content: { channel: 'sms', text: 'hi' } }))).kind).toBe('failed');
    const broken = webhookKind.create({ url: 'ftp://x' }, { secret: SECRET }, deps);
    expect(await broken.send(message())).toMatchObject({ kind: 'failed', error: expect.stringContaining('misconfigured') });
    expect(r.received).toHaveLength(0);
  });
});

describe('classifyWebhookError', () => {
  it('maps the platform errors', () => {
    expect(classifyWebhookError(new WebhookBlockedError('refused')).kind).toBe('failed');
    expect(classifyWebhookError(new WebhookDeliveryError('network')).kind).toBe('retry');
    expect(classifyWebhookError(new WebhookDeliveryError('slow down', { status: 429 }))).toEqual({ kind: 'throttled', retryAfterMs: 30_000, error: 'slow down' });
    expect(classifyWebhookError(new Error('unexpected')).kind).toBe('retry');
  });
});
