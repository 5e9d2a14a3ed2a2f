/**
 * The contract between the outreach send pipeline and a provider adapter (SMTP, an SMS API, FCM,
 * Web Push, the tenant's webhook). The pipeline owns records, rate limits, retries and counters;
 * an adapter only turns one rendered message into one provider call and classifies the answer.
 *
 * An adapter never throws for an answer of the provider: every outcome is a `SendOutcome`. It
 * throws only for a bug. Network errors and timeouts are `retry` (the provider may be down; the
 * record is sent later with the same idempotency key).
 */

export type OutreachChannel = 'sms' | 'email' | 'push_notification' | 'webhook';

/** The rendered content, by channel (what template.render produces). */
export type RenderedContent =
  | { channel: 'sms'; text: string }
  | { channel: 'email'; subject: string; html?: string | undefined; text?: string | undefined }
  | { channel: 'push_notification'; title: string; body: string; data?: Record<string, string> | undefined }
  | { channel: 'webhook'; json: unknown };

export interface OutboundMessage {
  /** The outreach record's id: the idempotency key given to the provider (and the e-mail Message-ID's left part). */
  recordId: string;
  tenantId: string;
  customerId: string;
  campaignId: string;
  /**
   * Where to: an E.164 phone for sms, an e-mail address, an FCM registration token or a Web Push
   * subscription as JSON text ({endpoint, keys: {p256dh, auth}}) for push, unused for webhook.
   */
  address: string;
  content: RenderedContent;
  /** E-mail only: the one-click unsubscribe URL (RFC 8058) for List-Unsubscribe. */
  unsubscribeUrl?: string | undefined;
}

export type SendOutcome =
  /**
   * The provider accepted the message. `delivered: true` when acceptance is final (an SMTP relay's
   * 250, a webhook's 2xx, FCM's 200): the record goes straight to delivered. Otherwise it waits
   * for a status callback naming `providerMessageId` (or the record id).
   */
  | { kind: 'accepted'; providerMessageId?: string | undefined; delivered: boolean }
  /** Throttled (HTTP 429, SMTP 421/454, a provider's own flow-control code): not a failure; defer. */
  | { kind: 'throttled'; retryAfterMs?: number | undefined; error: string }
  /** A temporary failure (5xx, network, timeout): retried with backoff, same idempotency key. */
  | { kind: 'retry'; error: string }
  /** The address is wrong or unreachable for good (bad number, 550 no such user, unregistered token). */
  | { kind: 'invalid_address'; error: string }
  /** Refused for good for another reason (bad credentials, content rejected): failed. */
  | { kind: 'failed'; error: string };

/** One channel adapter instance, created per provider configuration (it may pool connections). */
export interface ChannelProvider {
  send(message: OutboundMessage): Promise<SendOutcome>;
  /** Releases pooled connections. */
  close?(): Promise<void>;
}

/** A status report a provider sent to our callback endpoint. */
export interface StatusEvent {
  /** The provider's id for the message, as returned in `accepted`, or our record id. */
  providerMessageId?: string | undefined;
  recordId?: string | undefined;
  status: 'delivered' | 'failed' | 'bounced' | 'opened' | 'clicked';
  /** Opens the provider flags as made by a machine (mail privacy proxies, scanners). */
  machine?: boolean | undefined;
  error?: string | undefined;
}

/** An inbound message (an SMS reply such as "TD"). */
export interface InboundMessage {
  /** The sender's address (E.164 phone). */
  from: string;
  text: string;
}

/** What the callback endpoint hands an adapter: the request as received. */
export interface CallbackRequest {
  /** The full public URL the provider called (signatures such as Twilio's cover it). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** The raw body bytes as text (signatures cover them). */
  rawBody: string;
  /** Parsed body: JSON, or form fields for application/x-www-form-urlencoded. */
  body: unknown;
}

/** What the service hands every adapter it creates. */
export interface ProviderDeps {
  /**
   * False (the default setting): an HTTP adapter must not reach loopback, private or link-local
   * addresses (use `publicOnlyAgent` of platform/network-guard as the undici dispatcher, or check
   * with `privateAddressOf` first). Tests and on-premise providers set it true.
   */
  allowPrivateNetworks: boolean;
  /** Per-call timeout in ms for the provider's answer (default 10,000). */
  timeoutMs: number;
}

/** A kind of provider: how to build it from its stored configuration, and how to read its callbacks. */
export interface ProviderKind<Config = Record<string, unknown>, Secrets = Record<string, unknown>> {
  kind: string;
  channel: OutreachChannel;
  /** Checks a configuration before it is stored; returns an error message, or null when fine. */
  check(config: Config, secrets: Secrets): string | null;
  create(config: Config, secrets: Secrets, deps: ProviderDeps): ChannelProvider;
  /**
   * Verifies and parses a status callback. Returns null when the signature does not verify
   * (the endpoint answers 401). Kinds without callbacks leave it out.
   */
  parseStatus?(request: CallbackRequest, config: Config, secrets: Secrets): StatusEvent[] | null;
  /** Verifies and parses inbound messages (SMS replies); null when the signature does not verify. */
  parseInbound?(request: CallbackRequest, config: Config, secrets: Secrets): InboundMessage[] | null;
}
