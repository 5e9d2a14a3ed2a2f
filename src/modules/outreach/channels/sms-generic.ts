/**
 * A generic SMS gateway reached over signed JSON webhooks ('sms_generic'), and the small HTTP layer
 * the SMS adapters share (sms-twilio.ts and sms-aliyun.ts import it from here).
 *
 * Send: POST {url} with `{"id": recordId, "to": "+E164", "text": "..."}`, `Idempotency-Key:
 * recordId` and the Standard Webhooks headers (`webhook-id` = recordId, `webhook-timestamp`,
 * `webhook-signature`) signed with the configured secret. The gateway answers 2xx
 * `{"message_id": "..."}`; delivery arrives later on our status endpoint.
 *
 * Callbacks from the gateway are signed the same way (HMAC-SHA256 over "id.timestamp.body",
 * timestamps older than 5 minutes refused):
 * - status: `{"message_id"?, "id"?, "status": "delivered"|"failed"|"undelivered", "error"?}` or an
 *   array of them; `message_id` is the gateway's id, `id` our record id (as we sent it);
 * - inbound: `{"from": "+E164", "text": "..."}` or an array of them.
 */
import { isIP } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { Agent, request, type Dispatcher } from 'undici';
import { publicOnlyAgent, isPrivateAddress } from '../../../platform/network-guard.js';
import { standardWebhookHeaders, webhookKey } from '../../../platform/webhook.js';
import type { CallbackRequest, ChannelProvider, InboundMessage, OutboundMessage, ProviderDeps, ProviderKind, SendOutcome, StatusEvent } from './channel.js';

const USER_AGENT = 'marketing-hub-outreach/1';
// Provider answers are small; a larger body is cut (a misconfigured URL may serve anything).
const MAX_ANSWER_BYTES = 64 * 1024;
const SNIPPET_CHARS = 200;

// ---------------------------------------------------------------------------------------------
// Shared HTTP layer of the SMS adapters.

/** What a provider answered (the body read up to 64 KiB). */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface SmsHttp {
  /**
   * POSTs `body` to `url`. Resolves with the provider's answer, or, when there is none, with the
   * outcome already classified: `retry` for network errors and the timeout, `failed` for a
   * destination refused as private (allowPrivateNetworks off). Never rejects for the network.
   */
  post(url: string, headers: Record<string, string>, body: string): Promise<HttpAnswer | SendOutcome>;
  close(): Promise<void>;
}

/**
 * The HTTP client of one provider instance. With private networks allowed it pools its own
 * connections (released by close()); otherwise it goes through `publicOnlyAgent`, which checks
 * every address it connects to, and refuses literal private IPs before any connection.
 */
export function smsHttp(deps: ProviderDeps): SmsHttp {
  const own = deps.allowPrivateNetworks ? new Agent({ keepAliveTimeout: 30_000 }) : undefined;
  const dispatcher: Dispatcher = own ?? publicOnlyAgent;
  return {
    async post(url, headers, body) {
      const target = new URL(url);
      const host = target.hostname.replace(/^\[|\]$/g, '');
      // A literal address never goes through a lookup, so the agent cannot see it: check here.
      if (!deps.allowPrivateNetworks && isIP(host) !== 0 && isPrivateAddress(host)) {
        return { kind: 'failed', error: `refused: ${target.host} is a private address (private networks are not allowed)` };
      }
      const controller = new AbortController();
      const { signal } = controller;
      // The deadline covers the answer's body too; cleared at once so thousands of sends leave no timers.
      const timer = setTimeout(() => controller.abort(), deps.timeoutMs);
      try {
        const res = await request(target, {
          method: 'POST',
          headers: { 'user-agent': USER_AGENT, ...headers },
          body,
          dispatcher,
          signal,
        });
        return { status: res.statusCode, headers: res.headers, text: await readLimited(res.body) };
      } catch (err) {
        if (signal.aborted) return { kind: 'retry', error: `no answer from ${target.host} within ${deps.timeoutMs} ms` };
        const code = errorCode(err);
        if (code === 'EPRIVATEADDRESS') {
          return { kind: 'failed', error: `refused: ${target.host} resolves to a private address (private networks are not allowed)` };
        }
        return { kind: 'retry', error: `network error calling ${target.host}: ${code ?? (err instanceof Error ? err.message : String(err))}` };
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await own?.close();
    },
  };
}

/** True when `value` is the outcome of a call that got no answer (see SmsHttp.post). */
export function isOutcome(value: HttpAnswer | SendOutcome): value is SendOutcome {
  return 'kind' in value;
}

async function readLimited(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= MAX_ANSWER_BYTES) break; // leaving the loop destroys the stream
  }
  return Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString('utf8');
}

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** One header of a request or answer, by case-insensitive name (the first value of a list). */
export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/** Retry-After in ms: delta seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A short, single-line excerpt of an answer body for error messages. */
export function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > SNIPPET_CHARS ? `${flat.slice(0, SNIPPET_CHARS)}…` : flat;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The error of a check() for an optional http(s) URL field; null when absent or fine. */
export function checkUrl(name: string, value: unknown, required = false): string | null {
  if (value === undefined && !required) return null;
  if (typeof value !== 'string' || value.length === 0) return `${name} is required`;
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${name} must be an http(s) URL`;
  } catch {
    return `${name} must be a URL`;
  }
  return null;
}

export function smsText(message: OutboundMessage): string | null {
  return message.content.channel === 'sms' ? message.content.text : null;
}

export function asList(body: unknown): Record<string, unknown>[] {
  const items = Array.isArray(body) ? body : [body];
  return items.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null && !Array.isArray(item));
}

// ---------------------------------------------------------------------------------------------
// The generic gateway.

export interface GenericSmsConfig {
  /** The gateway's send endpoint. */
  url: string;
}

export interface GenericSmsSecrets {
  /** Signs our requests and verifies the gateway's callbacks (Standard Webhooks; `whsec_...` or 16+ characters). */
  secret: string;
}

/**
 * Verifies a Standard Webhooks signature of a callback with `secret` (timestamp within 5 minutes).
 * Returns the parsed JSON body (undefined when it is not JSON), or null when it does not verify.
 */
export function verifyGenericCallback(request: CallbackRequest, secret: string): { body: unknown } | null {
  const id = headerValue(request.headers, 'webhook-id');
  const timestamp = headerValue(request.headers, 'webhook-timestamp');
  const signature = headerValue(request.headers, 'webhook-signature');
  if (!id || !timestamp || !signature || typeof secret !== 'string' || secret.length === 0) return null;
  try {
    new Webhook(webhookKey(secret), { format: 'raw' }).verify(
      request.rawBody,
      { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature },
      { jsonParse: false },
    );
  } catch {
    return null;
  }
  return { body: parseJson(request.rawBody) };
}

function classifyGeneric(answer: HttpAnswer): SendOutcome {
  const json = parseJson(answer.text) as { message_id?: unknown; error?: unknown } | undefined;
  const detail = typeof json?.error === 'string' ? json.error : snippet(answer.text);
  const status = answer.status;
  if (status >= 200 && status < 300) {
    const id = json?.message_id;
    return { kind: 'accepted', delivered: false, providerMessageId: typeof id === 'string' || typeof id === 'number' ? String(id) : undefined };
  }
  if (status === 429) return { kind: 'throttled', retryAfterMs: retryAfterMs(headerValue(answer.headers, 'retry-after')), error: `HTTP 429${detail ? `: ${detail}` : ''}` };
  if (status >= 500) return { kind: 'retry', error: `HTTP ${status}${detail ? `: ${detail}` : ''}` };
  if ((status === 400 || status === 422) && json?.error === 'invalid_number') return { kind: 'invalid_address', error: 'invalid_number' };
  return { kind: 'failed', error: `HTTP ${status}${detail ? `: ${detail}` : ''}` };
}

const GENERIC_STATUS: Record<string, StatusEvent['status']> = { delivered: 'delivered', failed: 'failed', undelivered: 'failed' };

export const genericSmsKind: ProviderKind<GenericSmsConfig, GenericSmsSecrets> = {
  kind: 'sms_generic',
  channel: 'sms',

  check(config, secrets) {
    const url = checkUrl('url', config?.url, true);
    if (url) return url;
    if (typeof secrets?.secret !== 'string' || secrets.secret.length < 16) return 'secret must have at least 16 characters';
    return null;
  },

  create(config, secrets, deps): ChannelProvider {
    const http = smsHttp(deps);
    return {
      async send(message) {
        const text = smsText(message);
        if (text === null) return { kind: 'failed', error: `an sms provider cannot send ${message.content.channel} content` };
        const body = JSON.stringify({ id: message.recordId, to: message.address, text });
        const timestamp = Math.floor(Date.now() / 1000);
        const answer = await http.post(config.url, {
          'content-type': 'application/json',
          'idempotency-key': message.recordId,
          ...standardWebhookHeaders(secrets.secret, message.recordId, timestamp, body),
        }, body);
        return isOutcome(answer) ? answer : classifyGeneric(answer);
      },
      close: () => http.close(),
    };
  },

  parseStatus(request, _config, secrets) {
    const verified = verifyGenericCallback(request, secrets?.secret);
    if (!verified) return null;
    const events: StatusEvent[] = [];
    for (const item of asList(verified.body)) {
      const status = typeof item.status === 'string' ? GENERIC_STATUS[item.status] : undefined;
      const providerMessageId = typeof item.message_id === 'string' ? item.message_id : undefined;
      const recordId = typeof item.id === 'string' ? item.id : undefined;
      if (!status || (!providerMessageId && !recordId)) continue;
      const error = typeof item.error === 'string' ? item.error : status === 'failed' ? String(item.status) : undefined;
      events.push({ providerMessageId, recordId, status, error });
    }
    return events;
  },

  parseInbound(request, _config, secrets) {
    const verified = verifyGenericCallback(request, secrets?.secret);
    if (!verified) return null;
    const messages: InboundMessage[] = [];
    for (const item of asList(verified.body)) {
      if (typeof item.from === 'string' && typeof item.text === 'string') messages.push({ from: item.from, text: item.text });
    }
    return messages;
  },
};
