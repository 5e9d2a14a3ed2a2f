/**
 * The SMTP provider kind: e-mail through the tenant's relay (their own MTA, or a provider's SMTP
 * endpoint), over a small pool of persistent connections.
 *
 * A relay's 250 is final for us (`delivered: true`); bounces arrive later through a status
 * callback or the bounce mailbox. The Message-ID is `<recordId@domain of From>`, so a message sent
 * again after a retry carries the same id and the relay or the recipient can tell it apart.
 *
 * With `allowPrivateNetworks` false the relay must be on a public address: a send first checks
 * what the host resolves to (a clear `failed` when private, with no connection made), and every
 * pooled connection is opened through `publicOnlyLookup`, so a host that changes its answer in
 * between (DNS rebinding) is refused too.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import nodemailer from 'nodemailer';
import { isPrivateAddress, PrivateAddressError, privateAddressOf, publicOnlyLookup } from '../../../platform/network-guard.js';
import type { ChannelProvider, OutboundMessage, ProviderDeps, ProviderKind, SendOutcome, StatusEvent } from './channel.js';
import { verifyGenericCallback } from './sms-generic.js';

export type SmtpConfig = {
  host: string;
  port: number;
  /** Implicit TLS from the first byte (usually port 465). */
  secure?: boolean;
  /** Refuse to send unless the relay upgrades with STARTTLS. */
  require_tls?: boolean;
  /** "Shop <news@shop.example>" or a bare address. */
  from: string;
  reply_to?: string;
  /** Open connections at most (default 5). */
  pool_max_connections?: number;
  /** Verify the relay's certificate (default true). */
  tls_reject_unauthorized?: boolean;
};

export type SmtpSecrets = { user?: string; pass?: string };

const DEFAULT_MAX_CONNECTIONS = 5;
const MAX_CONNECTIONS_LIMIT = 50;
const DEFAULT_THROTTLE_MS = 30_000;
// How long a "this host is public" answer is reused before the host is resolved again.
const GUARD_CACHE_MS = 30_000;

/** Syntax only: something@domain, no spaces, brackets or quotes, sane lengths. */
const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+$/u;
const DOMAIN_LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** True for a syntactically valid e-mail address (what can be handed to RCPT TO). */
export function isEmailAddress(address: string): boolean {
  if (address.length > 254 || !ADDRESS.test(address)) return false;
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (local.length > 64 || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return false;
  const labels = domain.split('.');
  return labels.length >= 2 && labels.every((label) => DOMAIN_LABEL.test(label)) && !/^\d+$/.test(labels[labels.length - 1] ?? '');
}

/** The address part of "Name <address>" or of a bare address; null when there is none. */
function mailboxAddress(value: string): string | null {
  const trimmed = value.trim();
  const angle = /<([^<>]*)>$/.exec(trimmed);
  const address = (angle ? angle[1] ?? '' : trimmed).trim();
  if (!angle && /[<>]/.test(trimmed)) return null;
  return isEmailAddress(address) ? address : null;
}

function readConfig(raw: Record<string, unknown>, secrets: Record<string, unknown>): SmtpConfig | string {
  const { host, port, from } = raw;
  if (typeof host !== 'string' || !(HOSTNAME.test(host) || isIP(host.replace(/^\[|\]$/g, '')) !== 0)) {
    return 'host must be a host name or an IP address';
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) return 'port must be an integer from 1 to 65535';
  if (typeof from !== 'string' || /[\r\n]/.test(from) || !mailboxAddress(from)) return 'from must be an e-mail address, optionally with a name: "Shop <news@shop.example>"';
  if (raw.reply_to !== undefined && (typeof raw.reply_to !== 'string' || /[\r\n]/.test(raw.reply_to) || !mailboxAddress(raw.reply_to))) {
    return 'reply_to must be an e-mail address';
  }
  for (const flag of ['secure', 'require_tls', 'tls_reject_unauthorized'] as const) {
    if (raw[flag] !== undefined && typeof raw[flag] !== 'boolean') return `${flag} must be true or false`;
  }
  const max = raw.pool_max_connections;
  if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > MAX_CONNECTIONS_LIMIT)) {
    return `pool_max_connections must be an integer from 1 to ${MAX_CONNECTIONS_LIMIT}`;
  }
  const { user, pass } = secrets;
  if (user !== undefined && typeof user !== 'string') return 'secrets.user must be a string';
  if (pass !== undefined && typeof pass !== 'string') return 'secrets.pass must be a string';
  if (Boolean(user) !== Boolean(pass)) return 'secrets.user and secrets.pass go together';
  return raw as SmtpConfig;
}

/** A relay's hint such as "try again in 60 seconds", in ms. */
function retryHintMs(response: string): number | undefined {
  const match = /\b(?:in|after)\s+(\d{1,5})\s*(seconds?|secs?|s|minutes?|mins?|m)\b/i.exec(response);
  if (!match) return undefined;
  const amount = Number(match[1]);
  return /^m/i.test(match[2] ?? '') ? amount * 60_000 : amount * 1000;
}

interface SmtpError {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  message?: string;
}

// The relay's certificate does not verify: every message would meet the same refusal.
const CERTIFICATE_PROBLEM = /certificate|self[- ]signed|unable to verify|altname/i;
const NETWORK_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** Classifies a failed SMTP send (a nodemailer error) into the pipeline's outcome. */
export function classifySmtpError(err: unknown): SendOutcome {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SmtpError;
  const reply = (e.response ?? e.message ?? String(err)).replace(/\s+/g, ' ').trim().slice(0, 300);
  const code = e.responseCode;
  if (typeof code === 'number') {
    const error = `SMTP ${e.command ? `${e.command} ` : ''}answered: ${reply}`;
    const enhanced = /^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})\b/.exec(reply)?.[1] ?? '';
    if (code === 421 || code === 454 || (code === 451 && /rate|throttl|too (?:many|fast)|slow down|limit/i.test(reply))) {
      return { kind: 'throttled', retryAfterMs: retryHintMs(reply) ?? DEFAULT_THROTTLE_MS, error };
    }
    if (code >= 400 && code < 500) return { kind: 'retry', error };
    if (code >= 500 && code < 600) {
      // A refused mailbox or address, unless the relay says it is a policy refusal (5.7.x: relaying
      // denied, blocked sender) that would fail every message and says nothing of this address.
      const addressReply = code === 550 || code === 551 || code === 553;
      if (addressReply && !enhanced.startsWith('5.7.') && (e.command === 'RCPT TO' || enhanced.startsWith('5.1.'))) {
        return { kind: 'invalid_address', error };
      }
      return { kind: 'failed', error };
    }
    return { kind: 'retry', error };
  }
  if (e.code === 'EPRIVATEADDRESS') return { kind: 'failed', error: `SMTP relay refused: it ${reply} (private networks are not allowed)` };
  if (e.code === 'EAUTH' || e.code === 'ENOAUTH') return { kind: 'failed', error: `SMTP authentication failed: ${reply}` };
  if (e.code === 'ETLS' || e.code === 'EREQUIRETLS' || CERTIFICATE_PROBLEM.test(reply)) return { kind: 'failed', error: `SMTP TLS failed: ${reply}` };
  if (e.code === 'EENVELOPE') return { kind: 'invalid_address', error: `SMTP envelope refused: ${reply}` };
  if (e.code && NETWORK_CODES.has(e.code)) return { kind: 'retry', error: `SMTP connection failed (${e.code}): ${reply}` };
  // Anything else (a stream error, an unexpected reply) is worth another try later.
  return { kind: 'retry', error: `SMTP send failed${e.code ? ` (${e.code})` : ''}: ${reply}` };
}

type SocketCallback = (err: Error | null, socketOptions?: { connection?: Socket } | false) => void;

/**
 * Opens the TCP connection for a pooled SMTP connection (nodemailer's getSocket hook), with the
 * network guard's lookup when private networks are not allowed. TLS (implicit or STARTTLS) is
 * then negotiated by nodemailer over this socket, with the configured host as the server name.
 */
function socketOpener(host: string, port: number, guarded: boolean, timeoutMs: number) {
  const target = host.replace(/^\[|\]$/g, '');
  return (_options: unknown, callback: SocketCallback): void => {
    if (guarded && isIP(target) && isPrivateAddress(target)) {
      setImmediate(() => callback(new PrivateAddressError(target)));
      return;
    }
    const socket = netConnect(guarded ? { host: target, port, lookup: publicOnlyLookup } : { host: target, port });
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('error', finish);
      if (err) {
        socket.destroy();
        callback(err);
      } else {
        callback(null, { connection: socket });
      }
    };
    const timer = setTimeout(() => finish(Object.assign(new Error(`connecting to ${host}:${port} timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    socket.once('connect', () => finish());
    socket.once('error', finish);
  };
}

function createSmtpProvider(config: SmtpConfig, secrets: SmtpSecrets, deps: ProviderDeps): ChannelProvider {
  const fromAddress = mailboxAddress(config.from) ?? '';
  const domain = fromAddress.slice(fromAddress.lastIndexOf('@') + 1).toLowerCase();
  const timeoutMs = deps.timeoutMs > 0 ? deps.timeoutMs : 10_000;
  const transport = nodemailer.createTransport({
    pool: true,
    host: config.host,
    port: config.port,
    secure: config.secure ?? false,
    requireTLS: config.require_tls ?? false,
    maxConnections: config.pool_max_connections ?? DEFAULT_MAX_CONNECTIONS,
    // A connection that closes under a message gets it requeued once (an idle connection the
    // relay dropped); beyond that the pipeline retries with its own backoff.
    maxRequeues: 1,
    idleTimeout: 30_000,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: Math.max(timeoutMs, 30_000),
    tls: { rejectUnauthorized: config.tls_reject_unauthorized ?? true },
    getSocket: socketOpener(config.host, config.port, !deps.allowPrivateNetworks, timeoutMs),
    ...(secrets.user && secrets.pass ? { auth: { user: secrets.user, pass: secrets.pass } } : {}),
  });

  // The clear refusal before a send: what the host resolves to, reused for a short while.
  let guardCache: { at: number; refusal: string | null } | undefined;
  async function refusal(): Promise<string | null> {
    if (deps.allowPrivateNetworks) return null;
    if (guardCache && Date.now() - guardCache.at < GUARD_CACHE_MS) return guardCache.refusal;
    const address = await privateAddressOf(`smtp://${config.host}:${config.port}`);
    const result = address
      ? `SMTP relay ${config.host}:${config.port} refused: it resolves to the private address ${address} (private networks are not allowed)`
      : null;
    guardCache = { at: Date.now(), refusal: result };
    return result;
  }

  return {
    async send(message: OutboundMessage): Promise<SendOutcome> {
      const content = message.content;
      if (content.channel !== 'email') return { kind: 'failed', error: `content for ${content.channel} cannot be sent by e-mail` };
      const to = message.address.trim();
      if (!isEmailAddress(to)) return { kind: 'invalid_address', error: `not an e-mail address: ${JSON.stringify(message.address.slice(0, 100))}` };
      let unsubscribe: string | undefined;
      if (message.unsubscribeUrl !== undefined) {
        try {
          unsubscribe = new URL(message.unsubscribeUrl).href;
        } catch {
          return { kind: 'failed', error: 'the unsubscribe URL is not a valid URL' };
        }
      }
      try {
        const refused = await refusal();
        if (refused) return { kind: 'failed', error: refused };
      } catch (err) {
        return classifySmtpError(Object.assign(new Error(`cannot resolve ${config.host}`), { code: (err as { code?: string }).code ?? 'EDNS' }));
      }
      const localPart = message.recordId.replace(/[^A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]/g, '_');
      const headers: Record<string, string> = { 'X-Outreach-Record': message.recordId };
      if (unsubscribe) {
        headers['List-Unsubscribe'] = `<${unsubscribe}>`;
        headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
      }
      try {
        const info = await transport.sendMail({
          from: config.from,
          to,
          ...(config.reply_to ? { replyTo: config.reply_to } : {}),
          subject: content.subject,
          ...(content.html !== undefined ? { html: content.html } : {}),
          ...(content.text !== undefined ? { text: content.text } : {}),
          messageId: `<${localPart}@${domain}>`,
          headers,
        });
        return { kind: 'accepted', providerMessageId: info.messageId, delivered: true };
      } catch (err) {
        return classifySmtpError(err);
      }
    },
    close(): Promise<void> {
      transport.close();
      return Promise.resolve();
    },
  };
}

/** A provider configuration that failed its check: every send fails with the reason. */
function misconfigured(reason: string): ChannelProvider {
  return { send: () => Promise.resolve({ kind: 'failed', error: `SMTP provider misconfigured: ${reason}` }) };
}

export const smtpKind: ProviderKind = {
  kind: 'smtp',
  channel: 'email',
  check(config, secrets) {
    const result = readConfig(config, secrets);
    return typeof result === 'string' ? result : null;
  },
  create(config, secrets, deps) {
    const result = readConfig(config, secrets);
    if (typeof result === 'string') return misconfigured(result);
    return createSmtpProvider(result, secrets as SmtpSecrets, deps);
  },
  /**
   * Bounces, deliveries and opens reported by the mail system (a relay's or an ESP's event
   * webhook, or a bounce processor), signed with the Standard Webhooks scheme under
   * `secrets.callback_secret`: `{"events": [{"message_id": "<record_id@domain>" | "record_id",
   * "event": "delivered" | "bounced" | "failed" | "opened", "machine"?: true, "error"?: "..."}]}`.
   */
  parseStatus(request, _config, secrets) {
    const secret = (secrets as { callback_secret?: unknown }).callback_secret;
    const verified = typeof secret === 'string' ? verifyGenericCallback(request, secret) : null;
    if (!verified) return null;
    const body = verified.body as { events?: unknown } | unknown[] | null;
    const items = Array.isArray(body) ? body : Array.isArray((body as { events?: unknown })?.events) ? ((body as { events: unknown[] }).events) : [body];
    const events: StatusEvent[] = [];
    for (const raw of items) {
      const item = (raw ?? {}) as Record<string, unknown>;
      const status = item.event ?? item.status;
      if (status !== 'delivered' && status !== 'bounced' && status !== 'failed' && status !== 'opened') continue;
      const messageId = typeof item.message_id === 'string' ? item.message_id.replace(/^<|>$/g, '') : undefined;
      const recordId = typeof item.record_id === 'string' ? item.record_id : messageId?.split('@')[0];
      if (!recordId) continue;
      events.push({ recordId, status, machine: item.machine === true, error: typeof item.error === 'string' ? item.error : undefined });
    }
    return events;
  },
};
