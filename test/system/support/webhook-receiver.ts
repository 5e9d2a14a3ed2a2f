import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { standardWebhookHeaders, WEBHOOK_ID_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER } from '../../../src/platform/webhook.js';
import { freePort } from './postgres-instance.js';

/**
 * A local webhook receiver on a fixed free port that a test can take down and bring back (the
 * port closed in between: connections are refused, as when a receiver's process is gone). It
 * answers 200 to every correctly signed POST and records each by its `webhook-id`.
 */
export interface WebhookReceiver {
  url: string;
  /** Arrivals with a valid signature, in order: delivery id and when (performance.now()). */
  arrivals: { id: string; at: number }[];
  /** POSTs whose signature did not verify. */
  badSignatures: number;
  /** Delivery ids that arrived more than once. */
  duplicates(): string[];
  /** Closes the port and every open connection. */
  stop(): Promise<void>;
  /** Listens on the same port again. */
  start(): Promise<void>;
}

/** `answerAfterMs`: hold each answer that long (a slow receiver keeps deliveries in flight). */
export async function startWebhookReceiver(secret: string, options: { answerAfterMs?: number } = {}): Promise<WebhookReceiver> {
  const port = await freePort();
  const arrivals: { id: string; at: number }[] = [];
  let server: Server | null = null;
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${port}/hook`,
    arrivals,
    badSignatures: 0,
    duplicates() {
      const seen = new Map<string, number>();
      for (const a of arrivals) seen.set(a.id, (seen.get(a.id) ?? 0) + 1);
      return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
    },
    async stop() {
      const s = server;
      if (!s) return;
      server = null;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      s.closeAllConnections();
      await closed;
    },
    async start() {
      if (server) return;
      const s = createServer((req, res) => void receive(req, res));
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => resolve());
      });
      server = s;
    },
  };

  async function receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const header = (name: string) => req.headers[name] as string | undefined;
    // The Standard Webhooks signature over id, timestamp and body, as a receiver's library checks it.
    const id = header(WEBHOOK_ID_HEADER);
    const timestamp = Number(header(WEBHOOK_TIMESTAMP_HEADER));
    const signed = id && Number.isFinite(timestamp) && standardWebhookHeaders(secret, id, timestamp, body)[WEBHOOK_SIGNATURE_HEADER] === header(WEBHOOK_SIGNATURE_HEADER);
    if (!signed || !id) {
      receiver.badSignatures++;
      res.writeHead(401).end();
      return;
    }
    arrivals.push({ id, at: performance.now() });
    if (options.answerAfterMs) await new Promise((resolve) => setTimeout(resolve, options.answerAfterMs));
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  }

  await receiver.start();
  return receiver;
}
