/**
 * The webhook provider kind: an outreach message handed to the tenant's own endpoint as a signed
 * JSON POST (Standard Webhooks headers, see platform/webhook.ts). The record id is the delivery
 * id, so a retried record arrives with the same `webhook-id` and the receiver can drop it.
 *
 * A 2xx is final (`delivered: true`). 429 is throttling; 5xx, timeouts and network errors are
 * retried; a refused private address and any other answer fail for good.
 */
import { sendWebhook, WebhookBlockedError, WebhookDeliveryError } from '../../../platform/webhook.js';
import type { ChannelProvider, OutboundMessage, ProviderDeps, ProviderKind, SendOutcome } from './channel.js';

export type WebhookConfig = { url: string };
export type WebhookSecrets = { secret: string };

export const WEBHOOK_MESSAGE_TYPE = 'outreach.message';
const MIN_SECRET_LENGTH = 16;
/** platform/webhook does not pass the receiver's Retry-After on; a 429 waits this long. */
const DEFAULT_THROTTLE_MS = 30_000;

function readConfig(config: Record<string, unknown>, secrets: Record<string, unknown>): { url: string; secret: string } | string {
  const { url } = config;
  if (typeof url !== 'string') return 'url must be an http(s) URL';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'url must be an http(s) URL';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'url must be an http(s) URL';
  const { secret } = secrets;
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) return `secret must be at least ${MIN_SECRET_LENGTH} characters`;
  return { url, secret };
}

/** Classifies what sendWebhook threw into the pipeline's outcome. */
export function classifyWebhookError(err: unknown): SendOutcome {
  const error = err instanceof Error ? err.message : String(err);
  if (err instanceof WebhookBlockedError) return { kind: 'failed', error };
  if (!(err instanceof WebhookDeliveryError)) return { kind: 'retry', error };
  const status = err.status;
  // No status: a network error, an unresolvable host or the timeout.
  if (status === undefined) return { kind: 'retry', error };
  if (status === 429) return { kind: 'throttled', retryAfterMs: DEFAULT_THROTTLE_MS, error };
  if (status >= 500 || status === 408) return { kind: 'retry', error };
  // Redirects (not followed) and other 4xx: the receiver refuses; sending again will not help.
  return { kind: 'failed', error };
}

function createWebhookProvider(url: string, secret: string, deps: ProviderDeps): ChannelProvider {
  return {
    async send(message: OutboundMessage): Promise<SendOutcome> {
      if (message.content.channel !== 'webhook') {
        return { kind: 'failed', error: `content for ${message.content.channel} cannot be sent to a webhook` };
      }
      const body = JSON.stringify({
        type: WEBHOOK_MESSAGE_TYPE,
        record_id: message.recordId,
        campaign_id: message.campaignId,
        customer_id: message.customerId,
        tenant_id: message.tenantId,
        content: message.content.json ?? null,
      });
      try {
        await sendWebhook({
          url,
          secret,
          body,
          deliveryId: message.recordId,
          timeoutMs: deps.timeoutMs,
          allowPrivateNetworks: deps.allowPrivateNetworks,
        });
        return { kind: 'accepted', delivered: true };
      } catch (err) {
        return classifyWebhookError(err);
      }
    },
  };
}

export const webhookKind: ProviderKind = {
  kind: 'webhook',
  channel: 'webhook',
  check(config, secrets) {
    const result = readConfig(config, secrets);
    return typeof result === 'string' ? result : null;
  },
  create(config, secrets, deps) {
    const result = readConfig(config, secrets);
    if (typeof result === 'string') {
      return { send: () => Promise.resolve({ kind: 'failed', error: `webhook provider misconfigured: ${result}` }) };
    }
    return createWebhookProvider(result.url, result.secret, deps);
  },
};
