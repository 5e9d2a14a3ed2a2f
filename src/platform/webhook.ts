/**
 * Signed webhook delivery, in the Standard Webhooks scheme so that receivers in any language can
 * verify with a published library: `webhook-id` (the delivery id, the same on every retry, what a
 * receiver deduplicates on), `webhook-timestamp` (unix seconds of this attempt) and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`. Signing the id and
 * the timestamp with the body means a captured request can be neither replayed later nor
 * relabelled as another delivery.
 *
 * The older `x-marketing-signature` / `x-marketing-delivery-id` pair is still sent for one release
 * (deprecated) so receivers built on it keep working while they move over.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type Clock, systemClock } from './clock.js';
import { Agent, fetch as undiciFetch } from 'undici';
import { PrivateAddressError, privateAddressOf, publicOnlyAgent } from './network-guard.js';

export const WEBHOOK_ID_HEADER = 'webhook-id';
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';
/** @deprecated Sent alongside the Standard Webhooks headers for one release; use `webhook-signature`. */
export const SIGNATURE_HEADER = 'x-marketing-signature';
/** @deprecated Same value as `webhook-id`, sent for one release. */
export const DELIVERY_ID_HEADER = 'x-marketing-delivery-id';
export const WEBHOOK_USER_AGENT = 'marketing-hub-webhooks/1';
const DEFAULT_TIMEOUT_MS = 10_000;
// Enough of an error body to say what went wrong (a JSON error, a proxy's title), no more.
const ERROR_BODY_SNIPPET_CHARS = 200;

const STANDARD_SECRET_PREFIX = 'whsec_';
// Standard (padded) base64, as the scheme's libraries decode it.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The HMAC key of a tenant's configured secret. A Standard Webhooks secret (`whsec_` + base64) is
 * used as that scheme defines it, the decoded bytes, so the tenant can paste the same string into
 * a receiver's library. Any other secret (the API has accepted any 16+ characters) keys with its
 * UTF-8 bytes, which is what receivers get from `standardWebhookSecret`.
 */
export function webhookKey(secret: string): Buffer {
  if (secret.startsWith(STANDARD_SECRET_PREFIX)) {
    const encoded = secret.slice(STANDARD_SECRET_PREFIX.length);
    if (encoded.length > 0 && BASE64.test(encoded)) return Buffer.from(encoded, 'base64');
  }
  return Buffer.from(secret, 'utf8');
}

/**
 * The `whsec_...` string a receiver passes to a Standard Webhooks library (`new Webhook(s)`) to
 * verify deliveries signed with the configured `secret`: the secret itself when it already has
 * that form, else `whsec_` + base64 of its UTF-8 bytes.
 */
export function standardWebhookSecret(secret: string): string {
  return `${STANDARD_SECRET_PREFIX}${webhookKey(secret).toString('base64')}`;
}

/** The Standard Webhooks headers of one attempt: id, timestamp, `v1,<base64 signature>`. */
export function standardWebhookHeaders(secret: string, deliveryId: string, timestampSeconds: number, body: string): Record<string, string> {
  // The scheme's signature, HMAC-SHA256 of `id.timestamp.body`, computed with node:crypto: the
  // library's signer hashes in JavaScript (about 12 us a message, measured in bench/outreach.ts),
  // and outreach signs every SMS it sends. Receivers verify it with the library as before.
  const mac = createHmac('sha256', webhookKey(secret)).update(`${deliveryId}.${timestampSeconds}.${body}`).digest('base64');
  const signature = `v1,${mac}`;
  return {
    [WEBHOOK_ID_HEADER]: deliveryId,
    [WEBHOOK_TIMESTAMP_HEADER]: String(timestampSeconds),
    [WEBHOOK_SIGNATURE_HEADER]: signature,
  };
}

/**
 * @deprecated The `x-marketing-signature` scheme, kept for one release: hex HMAC-SHA256 of
 * `${timestampSeconds}.${body}` keyed with the secret's UTF-8 bytes as configured.
 */
export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
}

/** A failed delivery; `status` is set when the receiver answered (non-2xx), absent on network errors. */
export class WebhookDeliveryError extends Error {
  readonly status: number | undefined;

  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WebhookDeliveryError';
    this.status = options.status;
  }
}

export interface SendWebhookInput {
  url: string;
  secret: string;
  /** The exact bytes that are signed and sent (JSON text). */
  body: string;
  /** Stable across retries of one delivery, so the receiver can drop duplicates. */
  deliveryId: string;
  timeoutMs?: number;
  clock?: Clock;
  /**
   * When false, a URL whose host resolves to a loopback, private or link-local address is refused
   * (WebhookBlockedError) before any request is made. Deliveries of tenant-configured URLs pass
   * the `webhooks.allow_private_networks` setting (default false).
   */
  allowPrivateNetworks?: boolean;
}

/** The URL points into a network tenants must not reach; retrying will not help. */
export class WebhookBlockedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookBlockedError';
  }
}

/**
 * How one delivery attempt ended, for the delivery counters: `delivered` (2xx), `rejected` (the
 * receiver answered another status), `unreachable` (no answer: connection, DNS or timeout),
 * `blocked` (a private address the settings forbid; never retried).
 */
export type WebhookOutcome = 'delivered' | 'rejected' | 'unreachable' | 'blocked';

/** The outcome of an attempt that threw (see WebhookOutcome). */
export function webhookOutcomeOf(err: unknown): WebhookOutcome {
  if (err instanceof WebhookBlockedError) return 'blocked';
  return err instanceof WebhookDeliveryError && err.status !== undefined ? 'rejected' : 'unreachable';
}

/**
 * POSTs a signed webhook. Resolves with the status on 2xx; throws a WebhookDeliveryError on any
 * other status, a network failure or the timeout (default 10 s, covering the response body too).
 * Redirects are not followed: a signed payload must not travel to a host nobody configured.
 */
const defaultAgent = new Agent();

export async function sendWebhook(input: SendWebhookInput): Promise<{ status: number }> {
  const timeoutMs = input.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timestamp = Math.floor((input.clock ?? systemClock).now().getTime() / 1000);
  const target = describeTarget(input.url);
  if (input.allowPrivateNetworks === false) {
    let address: string | null;
    try {
      address = await privateAddressOf(input.url);
    } catch (err) {
      throw new WebhookDeliveryError(`webhook to ${target} failed: cannot resolve host (${networkReason(err)})`, { cause: err });
    }
    if (address) {
      throw new WebhookBlockedError(`webhook to ${target} refused: it resolves to the private address ${address} (set webhooks.allow_private_networks to allow)`);
    }
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    let response: Awaited<ReturnType<typeof undiciFetch>>;
    try {
      response = await undiciFetch(input.url, {
        // Without private networks allowed, the connection checks the addresses it connects to.
        dispatcher: input.allowPrivateNetworks === false ? publicOnlyAgent : defaultAgent,
        method: 'POST',
        body: input.body,
        redirect: 'manual',
        signal: controller.signal,
        headers: {
          'content-type': 'application/json',
          ...standardWebhookHeaders(input.secret, input.deliveryId, timestamp, input.body),
          [SIGNATURE_HEADER]: `t=${timestamp},v1=${signWebhook(input.secret, timestamp, input.body)}`,
          [DELIVERY_ID_HEADER]: input.deliveryId,
          'user-agent': WEBHOOK_USER_AGENT,
        },
      });
    } catch (err) {
      if (controller.signal.aborted) {
        throw new WebhookDeliveryError(`webhook to ${target} timed out after ${timeoutMs} ms`, { cause: err });
      }
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof PrivateAddressError) {
        // The host changed its answer between the check above and the connection (DNS rebinding).
        throw new WebhookBlockedError(`webhook to ${target} refused: it ${cause.message} (set webhooks.allow_private_networks to allow)`);
      }
      throw new WebhookDeliveryError(`webhook to ${target} failed: ${networkReason(err)}`, { cause: err });
    }
    if (response.status >= 200 && response.status < 300) {
      // The body is not used; cancel it so the connection is released at once.
      await response.body?.cancel().catch(() => {});
      return { status: response.status };
    }
    const snippet = await readSnippet(response);
    const redirect = response.status >= 300 && response.status < 400 ? ' (redirects are not followed)' : '';
    throw new WebhookDeliveryError(
      `webhook to ${target} answered HTTP ${response.status}${redirect}${snippet ? `: ${snippet}` : ''}`,
      { status: response.status },
    );
  } finally {
    clearTimeout(timer);
  }
}

/**
 * @deprecated For receivers of the old `x-marketing-signature` header; new receivers verify the
 * Standard Webhooks headers with a published library. True when `header` carries a v1 signature of `body` with `secret` and a
 * timestamp within `toleranceSeconds` of `now` (either side, for clock skew). Several v1 values
 * are accepted (any may match), so a sender can sign with an old and a new secret during rotation.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | null | undefined,
  body: string,
  options: { toleranceSeconds?: number; now?: Date } = {},
): boolean {
  if (!header) return false;
  const toleranceSeconds = options.toleranceSeconds ?? 300;
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,15}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) signatures.push(value.toLowerCase());
  }
  if (timestamp === undefined || signatures.length === 0) return false;
  const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body), 'hex');
  let ok = false;
  // Compare against every candidate (no early exit), each in constant time.
  for (const signature of signatures) {
    if (timingSafeEqual(expected, Buffer.from(signature, 'hex'))) ok = true;
  }
  return ok;
}

/** Scheme, host and port only: paths and query strings may carry tokens that logs must not show. */
function describeTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(invalid url)';
  }
}

function networkReason(err: unknown): string {
  // undici reports "fetch failed" and puts the useful part (ECONNREFUSED, ENOTFOUND) in `cause`.
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  if (cause?.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

async function readSnippet(response: Response): Promise<string> {
  try {
    const text = (await response.text()).replace(/\s+/g, ' ').trim();
    return text.length > ERROR_BODY_SNIPPET_CHARS ? `${text.slice(0, ERROR_BODY_SNIPPET_CHARS)}…` : text;
  } catch {
    return '';
  }
}
