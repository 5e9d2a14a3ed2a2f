import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { testDatabase } from '../../test/helpers/database.js';
import { ManualClock } from './clock.js';
import { createJobQueue, createJobRunner, getJob, type JobLog } from './jobs.js';
import { sendWebhook, signWebhook, standardWebhookSecret, verifyWebhookSignature, webhookKey, WebhookDeliveryError } from './webhook.js';

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

/**
 * A receiver's check with the published library, as its own code would call it. The library reads
 * the time from Date.now(), so Date alone is pinned to `now` for this synchronous call.
 */
function receiverVerifies(secret: string, got: Received, now?: Date): boolean {
  if (now) vi.useFakeTimers({ toFake: ['Date'], now });
  try {
    new Webhook(secret).verify(got.body, got.headers as Record<string, string>);
    return true;
  } catch {
    return false;
  } finally {
    if (now) vi.useRealTimers();
  }
}

/** A port nothing listens on: listen, note it, close. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Standard Webhooks signature', () => {
  it('matches the scheme\'s published example (secret, id, timestamp, body -> v1 signature)', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const got = new Webhook(webhookKey(secret), { format: 'raw' }).sign('msg_p5jXN8AQM9LWM0D4loKWxJek', new Date(1614265330_000), '{"test": 2432232314}');
    expect(got).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('keys a whsec_<base64> secret with its decoded bytes, any other secret with its UTF-8 bytes', () => {
    const standard = `whsec_${randomBytes(24).toString('base64')}`;
    expect(standardWebhookSecret(standard)).toBe(standard);
    expect(webhookKey(standard)).toEqual(Buffer.from(standard.slice(6), 'base64'));
    // Secrets the API accepted before (any 16+ characters), including whsec_-looking non-base64 ones.
    for (const plain of [SECRET, 'a plain secret, 16+ chars', 'whsec_', 'whsec_abc', 'clé-secrète-营销-0123']) {
      expect(webhookKey(plain)).toEqual(Buffer.from(plain, 'utf8'));
      expect(standardWebhookSecret(plain)).toBe(`whsec_${Buffer.from(plain, 'utf8').toString('base64')}`);
    }
  });
});

describe('signWebhook / verifyWebhookSignature (deprecated x-marketing-signature)', () => {
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
  it('sends Standard Webhooks headers that a receiver verifies with the published library', async () => {
    const r = await receiver(() => 200);
    const body = JSON.stringify({ event: 'reward_grant.delivered', grant_id: 'grt_7', text: '营销' });
    await sendWebhook({ url: r.url, secret: SECRET, body, deliveryId: 'grt_7:reward_grant.delivered' });
    const got = r.received[0]!;
    expect(got.headers['webhook-id']).toBe('grt_7:reward_grant.delivered');
    expect(got.headers['webhook-timestamp']).toMatch(/^\d{10}$/);
    expect(got.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    // Real time on both sides, as in production.
    expect(receiverVerifies(standardWebhookSecret(SECRET), got)).toBe(true);
    expect(new Webhook(standardWebhookSecret(SECRET)).verify(got.body, got.headers as Record<string, string>)).toEqual(JSON.parse(body));
    // A whsec_<base64> secret is pasted into the receiver as it is.
    const standard = `whsec_${randomBytes(32).toString('base64')}`;
    await sendWebhook({ url: r.url, secret: standard, body, deliveryId: 'dlv_s' });
    expect(receiverVerifies(standard, r.received[1]!)).toBe(true);
  });

  it('a receiver refuses a tampered body, another secret, another id, a stale or future timestamp', async () => {
    const r = await receiver(() => 200);
    const body = JSON.stringify({ event: 'reward_grant.delivered', amount: 100 });
    const sentAt = new Date();
    await sendWebhook({ url: r.url, secret: SECRET, body, deliveryId: 'dlv_t', clock: new ManualClock(sentAt) });
    const got = r.received[0]!;
    const secret = standardWebhookSecret(SECRET);
    expect(receiverVerifies(secret, got, sentAt)).toBe(true);
    expect(receiverVerifies(secret, { ...got, body: body.replace('100', '1000') }, sentAt)).toBe(false);
    expect(receiverVerifies(standardWebhookSecret(`${SECRET}x`), got, sentAt)).toBe(false);
    expect(receiverVerifies(secret, { ...got, headers: { ...got.headers, 'webhook-id': 'dlv_other' } }, sentAt)).toBe(false);
    // The library's tolerance is 5 minutes either side: a replay 6 minutes later fails.
    expect(receiverVerifies(secret, got, new Date(sentAt.getTime() + 299_000))).toBe(true);
    expect(receiverVerifies(secret, got, new Date(sentAt.getTime() + 360_000))).toBe(false);
    expect(receiverVerifies(secret, got, new Date(sentAt.getTime() - 360_000))).toBe(false);
  });

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
      verified.push(
        receiverVerifies(standardWebhookSecret(SECRET), req, clock.now()) &&
          verifyWebhookSignature(SECRET, req.headers['x-marketing-signature'] as string, req.body, { now: clock.now() }),
      );
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
    // webhook-id (and the deprecated header) is the same on every attempt; the timestamp is not.
    expect(new Set(r.received.map((x) => x.headers['webhook-id']))).toEqual(new Set([jobId]));
    expect(new Set(r.received.map((x) => x.headers['x-marketing-delivery-id']))).toEqual(new Set([jobId]));
    expect(new Set(r.received.map((x) => x.headers['webhook-timestamp'])).size).toBe(failures + 1);
    expect(r.received.every((x) => x.body === body)).toBe(true);
    expect(verified).toEqual(Array(failures + 1).fill(true));
  });
});
