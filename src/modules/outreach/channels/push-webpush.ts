/**
 * Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291). The
 * `web-push` package builds the request (encrypts the payload for the subscription's keys, signs
 * the VAPID JWT for the endpoint's origin); the request itself goes out through undici, so that a
 * subscription endpoint, which comes from a browser and so from anyone, cannot reach private
 * addresses (web-push's own https.request would need a TLS agent of its own for that).
 *
 * Answers: 200/201/202 -> accepted (final); 404/410 (subscription expired or unsubscribed) ->
 * invalid_address; 429 -> throttled; 413 (payload too large) and other 4xx -> failed;
 * 5xx and network errors -> retry. A subscription that is not JSON with an endpoint and keys is
 * invalid_address without any request.
 */
import { createECDH } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import webpush from 'web-push';
import type { ChannelProvider, OutboundMessage, ProviderDeps, ProviderKind, SendOutcome } from './channel.js';
import { classifyNetworkError, guardedDispatcher, parseRetryAfter, refusePrivateLiteral, snippet } from './push-http.js';

export interface WebPushConfig {
  /** Who to contact about these messages: a mailto: or https: URL (sent in the VAPID JWT). */
  subject: string;
  /** The VAPID public key: an uncompressed P-256 point, URL-safe base64 (87 characters). */
  public_key: string;
}

export interface WebPushSecrets {
  /** The VAPID private key: 32 bytes, URL-safe base64 (43 characters). */
  private_key: string;
}

export interface WebPushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** A push message is at most 4096 bytes; aes128gcm adds a 86-byte header, a 16-byte tag and a delimiter. */
export const WEB_PUSH_MAX_PAYLOAD_BYTES = 4096 - 86 - 16 - 1;
/** How long the push service keeps a message for an offline browser, in seconds. */
export const WEB_PUSH_TTL_S = 86_400;

/** A new VAPID key pair, URL-safe base64 `{ publicKey, privateKey }` (store it once, reuse it). */
export function generateVapidKeys(): { publicKey: string; privateKey: string } {
  return webpush.generateVAPIDKeys();
}

const URL_SAFE_B64 = /^[A-Za-z0-9_-]+$/;

function decodeKey(value: unknown, bytes: number): Buffer | null {
  if (typeof value !== 'string' || !URL_SAFE_B64.test(value)) return null;
  const decoded = Buffer.from(value, 'base64url');
  return decoded.length === bytes ? decoded : null;
}

function check(config: WebPushConfig, secrets: WebPushSecrets): string | null {
  const subject = config?.subject;
  if (typeof subject !== 'string' || !/^(mailto:\S+@\S+|https:\/\/\S+)$/.test(subject)) {
    return 'subject must be a mailto: address or an https: URL';
  }
  try {
    new URL(subject);
  } catch {
    return 'subject must be a mailto: address or an https: URL';
  }
  const publicKey = decodeKey(config.public_key, 65);
  if (!publicKey || publicKey[0] !== 0x04) return 'public_key must be a VAPID public key (65-byte uncompressed P-256 point, URL-safe base64 without padding)';
  const privateKey = decodeKey(secrets?.private_key, 32);
  if (!privateKey) return 'private_key must be a VAPID private key (32 bytes, URL-safe base64 without padding)';
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(privateKey);
    if (!ecdh.getPublicKey().equals(publicKey)) return 'public_key and private_key are not one VAPID key pair';
  } catch {
    return 'private_key is not a valid P-256 private key';
  }
  return null;
}

/** The subscription in `address`, or why it cannot be one. */
export function parseSubscription(address: string): WebPushSubscription | string {
  let value: unknown;
  try {
    value = JSON.parse(address);
  } catch {
    return 'the subscription is not JSON';
  }
  const sub = value as { endpoint?: unknown; keys?: { p256dh?: unknown; auth?: unknown } } | null;
  if (!sub || typeof sub !== 'object' || typeof sub.endpoint !== 'string') return 'the subscription has no endpoint';
  let endpoint: URL;
  try {
    endpoint = new URL(sub.endpoint);
  } catch {
    return 'the subscription endpoint is not a URL';
  }
  if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') return 'the subscription endpoint is not an http(s) URL';
  const p256dh = decodeKey(sub.keys?.p256dh, 65);
  if (!p256dh || p256dh[0] !== 0x04) return 'the subscription has no valid keys.p256dh (65-byte P-256 point)';
  if (!decodeKey(sub.keys?.auth, 16)) return 'the subscription has no valid keys.auth (16 bytes)';
  return { endpoint: sub.endpoint, keys: { p256dh: sub.keys!.p256dh as string, auth: sub.keys!.auth as string } };
}

export function createWebPushProvider(config: WebPushConfig, secrets: WebPushSecrets, deps: ProviderDeps): ChannelProvider {
  const vapidDetails = { subject: config.subject, publicKey: config.public_key, privateKey: secrets.private_key };
  const ownAgent = deps.allowPrivateNetworks ? new Agent() : null;
  const dispatcher: Dispatcher = guardedDispatcher(deps, ownAgent);

  async function send(message: OutboundMessage): Promise<SendOutcome> {
    if (message.content.channel !== 'push_notification') throw new Error(`web_push cannot send ${message.content.channel} content`);
    const subscription = parseSubscription(message.address);
    if (typeof subscription === 'string') return { kind: 'invalid_address', error: subscription };
    // Real push services are all https; plain http only where private networks are allowed (tests, on-premise).
    if (!deps.allowPrivateNetworks && !subscription.endpoint.startsWith('https:')) {
      return { kind: 'invalid_address', error: 'the subscription endpoint is not an https URL' };
    }
    const { title, body, data } = message.content;
    const payload = JSON.stringify({ title, body, data: data ?? {}, record_id: message.recordId });
    if (Buffer.byteLength(payload) > WEB_PUSH_MAX_PAYLOAD_BYTES) {
      return { kind: 'failed', error: `the push payload is ${Buffer.byteLength(payload)} bytes; Web Push carries at most ${WEB_PUSH_MAX_PAYLOAD_BYTES}` };
    }
    let details: ReturnType<typeof webpush.generateRequestDetails>;
    try {
      details = webpush.generateRequestDetails(subscription, payload, {
        vapidDetails,
        TTL: WEB_PUSH_TTL_S,
        contentEncoding: 'aes128gcm',
        urgency: 'normal',
      });
    } catch (err) {
      // The keys passed the shape checks above, so a failure here is a point not on the curve.
      return { kind: 'invalid_address', error: `cannot encrypt for this subscription: ${err instanceof Error ? err.message : String(err)}` };
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(details.headers)) headers[name.toLowerCase()] = String(value);

    let status: number;
    let responseHeaders: Record<string, string | string[] | undefined>;
    let text: string;
    try {
      const refused = refusePrivateLiteral(subscription.endpoint, deps);
      if (refused) throw refused;
      const response = await request(subscription.endpoint, {
        method: 'POST',
        dispatcher,
        signal: AbortSignal.timeout(deps.timeoutMs),
        headers,
        body: details.body,
      });
      status = response.statusCode;
      responseHeaders = response.headers;
      text = await response.body.text();
    } catch (err) {
      return classifyNetworkError(err, 'the push service', 'invalid_address');
    }
    const description = `the push service answered HTTP ${status}${text ? `: ${snippet(text)}` : ''}`;
    if (status >= 200 && status < 300) {
      const location = responseHeaders.location;
      return { kind: 'accepted', delivered: true, providerMessageId: typeof location === 'string' ? location : undefined };
    }
    if (status === 404 || status === 410) return { kind: 'invalid_address', error: `${description} (the subscription expired or was withdrawn)` };
    if (status === 429) return { kind: 'throttled', retryAfterMs: parseRetryAfter(responseHeaders['retry-after'], Date.now()), error: description };
    if (status >= 500) return { kind: 'retry', error: description };
    // 400 malformed, 401/403 VAPID refused (key mismatch with the subscription), 413 too large.
    return { kind: 'failed', error: description };
  }

  return {
    send,
    async close(): Promise<void> {
      await ownAgent?.close();
    },
  };
}

export const webPushKind: ProviderKind<WebPushConfig, WebPushSecrets> = {
  kind: 'web_push',
  channel: 'push_notification',
  check,
  create: (config, secrets, deps) => createWebPushProvider(config, secrets, deps),
};
