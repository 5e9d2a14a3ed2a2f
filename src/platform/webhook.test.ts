import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { testDatabase } from '../../test/helpers/database.js';
import { ManualClock } from './clock.js';
import { createJobQueue, createJobRunner, getJob, type JobLog } from './jobs.js';
import { sendWebhook, signWebhook, verifyWebhookSignature, WebhookDeliveryError } from './webhook.js';

const SECRET = 'whsec_test_0123456789abcdef';
const unique = (prefix: string) => `${prefix}_${randomBytes(6).toString('hex')}`;
const quietLog: JobLog = { info: () => {}, warn: () => {}, error: () => {} };

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

type Answer = number | 'hang';

const receivers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

/** A real HTTP receiver on a free port; `answer(n)` picks the status of the n-th request (1-based). */
async function receiver(answer: (n: number, req: Received) => Answer = () => 200) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      const status = answer(received.length, r);
      if (status === 'hang') return;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (status >= 300 && status < 400) headers.location = 'http://127.0.0.1:1/elsewhere';
      res.writeHead(status, headers).end(JSON.stringify({ status }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const handle = {
    url: `http://127.0.0.1:${port}/hooks/marketing?token=secret-in-url`,
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

/** A port nothing listens on: listen, note it, close. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('signWebhook / verifyWebhookSignature', () => {
  const body = JSON.stringify({ event: 'reward.granted', grant_id: 'grt_1', amount: 100 });
  const now = new Date('2030-01-01T00:00:00Z');
  const t = Math.floor(now.getTime() / 1000);
  const header = `t=${t},v1=${signWebhook(SECRET, t, body)}`;

  it('signs `${t}.${body}` with HMAC-SHA256, hex', () => {
    expect(signWebhook(SECRET, t, body)).toBe(createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex'));
    expect(signWebhook(SECRET, t, body)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts a genuine signature within the tolerance, either side', () => {
    expect(verifyWebhookSignature(SECRET, header, body, { now })).toBe(true);
    expect(verifyWebhookSignature(SECRET, header, body, { now: new Date(now.getTime() + 300_000) })).toBe(true);
    expect(verifyWebhookSignature(SECRET, header, body, { now: new Date(now.getTime() - 300_000) })).toBe(true);
  });

  it('refuses a tampered body, another secret, an edited timestamp', () => {
    expect(verifyWebhookSignature(SECRET, header, body.replace('100', '1000'), { now })).toBe(false);
    expect(verifyWebhookSignature(`${SECRET}x`, header, body, { now })).toBe(false);
    expect(verifyWebhookSignature(SECRET, header.replace(`t=${t}`, `t=${t + 1}`), body, { now })).toBe(false);
  });

  it('refuses a signature older (or newer) than the tolerance', () => {
    expect(verifyWebhookSignature(SECRET, header, body, { now: new Date(now.getTime() + 301_000) })).toBe(false);
    expect(verifyWebhookSignature(SECRET, header, body, { now: new Date(now.getTime() - 301_000) })).toBe(false);
    expect(verifyWebhookSignature(SECRET, header, body, { now: new Date(now.getTime() + 3_600_000), toleranceSeconds: 3600 })).toBe(true);
  });

  it('refuses malformed headers', () => {
    for (const bad of [undefined, null, '', 'garbage', `t=${t}`, `v1=${signWebhook(SECRET, t, body)}`, `t=abc,v1=${signWebhook(SECRET, t, body)}`, `t=${t},v1=zz`]) {
      expect(verifyWebhookSignature(SECRET, bad, body, { now })).toBe(false);
    }
  });

  it('accepts any of several v1 signatures (secret rotation)', () => {
    const rotated = `t=${t},v1=${signWebhook('old-secret', t, body)},v1=${signWebhook(SECRET, t, body)}`;
    expect(verifyWebhookSignature(SECRET, rotated, body, { now })).toBe(true);
    expect(verifyWebhookSignature('other', rotated, body, { now })).toBe(false);
  });
});

describe('sendWebhook', () => {
  it('POSTs the body with signature, delivery id, content type and user agent', async () => {
    const r = await receiver(() => 204);
    const clock = new ManualClock('2030-01-01T00:00:00Z');
    const body = JSON.stringify({ event: 'test', n: 1, text: '营销' });
    expect(await sendWebhook({ url: r.url, secret: SECRET, body, deliveryId: 'dlv_1', clock })).toEqual({ status: 204 });
    expect(r.received).toHaveLength(1);
    const got = r.received[0]!;
    expect(got.body).toBe(body);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['user-agent']).toBe('marketing-hub-webhooks/1');
    expect(got.headers['x-marketing-delivery-id']).toBe('dlv_1');
    const signature = got.headers['x-marketing-signature'] as string;
    expect(signature).toMatch(/^t=1893456000,v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(SECRET, signature, got.body, { now: clock.now() })).toBe(true);
    expect(verifyWebhookSignature(SECRET, signature, got.body, { now: new Date(clock.now().getTime() + 600_000) })).toBe(false);
  });

  it('throws on a non-2xx answer, with the status and without the URL path or query', async () => {
    const r = await receiver(() => 500);
    const error = await sendWebhook({ url: r.url, secret: SECRET, body: '{}', deliveryId: 'dlv_2' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebhookDeliveryError);
    expect((error as WebhookDeliveryError).status).toBe(500);
    expect((error as Error).message).toMatch(/answered HTTP 500/);
    expect((error as Error).message).not.toMatch(/secret-in-url|hooks/);
  });

  it('does not follow redirects', async () => {
    const r = await receiver(() => 302);
    await expect(sendWebhook({ url: r.url, secret: SECRET, body: '{}', deliveryId: 'dlv_3' })).rejects.toThrow(/HTTP 302 \(redirects are not followed\)/);
    expect(r.received).toHaveLength(1);
  });

  it('throws when the connection is refused', async () => {
    const port = await closedPort();
    const error = await sendWebhook({ url: `http://127.0.0.1:${port}/`, secret: SECRET, body: '{}', deliveryId: 'dlv_4' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebhookDeliveryError);
    expect((error as WebhookDeliveryError).status).toBeUndefined();
    expect((error as Error).message).toMatch(/failed: ECONNREFUSED/);
  });

  it('throws when the receiver does not answer in time', async () => {
    const r = await receiver(() => 'hang');
    const started = Date.now();
    await expect(sendWebhook({ url: r.url, secret: SECRET, body: '{}', deliveryId: 'dlv_5', timeoutMs: 200 })).rejects.toThrow(
      /timed out after 200 ms/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('webhook delivery as a job', () => {
  it('retries through 503s until delivered: DONE, attempts = N + 1, the same delivery id every time', async () => {
    const failures = 3;
    const clock = new ManualClock('2030-01-01T00:00:00Z');
    const verified: boolean[] = [];
    const r = await receiver((n, req) => {
      verified.push(verifyWebhookSignature(SECRET, req.headers['x-marketing-signature'] as string, req.body, { now: clock.now() }));
      return n <= failures ? 503 : 200;
    });
    const { db } = await testDatabase();
    const queue = createJobQueue({ db, clock });
    const runner = createJobRunner({ db, clock, log: quietLog });
    const name = unique('webhooks');
    const tenantId = unique('t');
    runner.register(name, async (job) => {
      const { url, body } = job.payload as { url: string; body: string };
      // The job id is the delivery id: stable across retries, so the receiver can deduplicate.
      await sendWebhook({ url, secret: SECRET, body, deliveryId: job.jobId, clock, timeoutMs: 5_000 });
    });
    const body = JSON.stringify({ event: 'reward.granted', grant_id: 'grt_42' });
    const jobId = await db.transaction().execute((trx) => queue.enqueue(trx, { tenantId, queue: name, payload: { url: r.url, body } }));

    for (let i = 0; i < failures + 3; i++) {
      await runner.runDue();
      // Well past the longest backoff of these attempts (±20% of 1, 2, 4 s).
      clock.advance(10_000);
    }

    const job = (await getJob(db, tenantId, jobId))!;
    expect(job.status).toBe('DONE');
    expect(job.attempts).toBe(failures + 1);
    expect(job.last_error).toMatch(/answered HTTP 503/);
    expect(r.received).toHaveLength(failures + 1);
    expect(new Set(r.received.map((x) => x.headers['x-marketing-delivery-id']))).toEqual(new Set([jobId]));
    expect(r.received.every((x) => x.body === body)).toBe(true);
    expect(verified).toEqual(Array(failures + 1).fill(true));
  });
});
