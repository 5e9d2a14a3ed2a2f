/**
 * Twilio Programmable Messaging ('twilio').
 *
 * Send: POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP Basic auth
 * AccountSid:AuthToken, form fields To, From (or MessagingServiceSid), Body and StatusCallback,
 * with `I-Twilio-Idempotency-Token: recordId`. 201 with the message resource (`sid`) is an
 * acceptance; delivery arrives on the status callback.
 *
 * Callbacks (status: MessageSid, MessageStatus, ErrorCode; inbound: From, Body) are form posts
 * signed with `X-Twilio-Signature`: base64 HMAC-SHA1, keyed with the auth token, of the full URL
 * Twilio called followed by every POST parameter's name and value, sorted by name.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CallbackRequest, ChannelProvider, InboundMessage, ProviderKind, SendOutcome, StatusEvent } from './channel.js';
import { checkUrl, headerValue, isOutcome, parseJson, retryAfterMs, smsHttp, smsText, snippet, type HttpAnswer } from './sms-generic.js';

export const TWILIO_API = 'https://api.twilio.com';

export interface TwilioSmsConfig {
  /** AC followed by 32 hex digits. */
  account_sid: string;
  /** The sender: an E.164 number, an alphanumeric sender id, or a Messaging Service SID (MG...). */
  from: string;
  /** Where Twilio posts status changes (our status endpoint for this configuration). */
  status_callback_url?: string | undefined;
  /** Defaults to https://api.twilio.com. */
  base_url?: string | undefined;
}

export interface TwilioSmsSecrets {
  auth_token: string;
}

const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
const SERVICE_SID = /^MG[0-9a-fA-F]{32}$/;
const E164 = /^\+[1-9]\d{1,14}$/;
// An alphanumeric sender id: up to 11 letters, digits and spaces, at least one letter.
const ALPHA_SENDER = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/;

/** Twilio error codes that say the recipient number is wrong or not an SMS destination. */
const INVALID_NUMBER_CODES = new Set([21211, 21614]);
/** The recipient replied STOP: Twilio refuses every message to it until they send START. */
const UNSUBSCRIBED_CODE = 21610;

/**
 * The X-Twilio-Signature of a form post: base64 HMAC-SHA1 of the URL followed by each parameter's
 * name and value, by name (the values of a repeated name in order of value).
 */
export function twilioSignature(authToken: string, url: string, params: URLSearchParams | Record<string, string>): string {
  const pairs: [string, string][] = params instanceof URLSearchParams ? [...params.entries()] : Object.entries(params);
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  const data = url + pairs.map(([k, v]) => k + v).join('');
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/**
 * The URL forms Twilio may have signed: as received, and with the default port added or removed
 * (proxies differ in whether the port survives).
 */
function urlVariants(url: string): string[] {
  const match = /^(https?):\/\/([^/?#]*)(.*)$/is.exec(url);
  if (!match) return [url];
  const [, scheme = '', authority = '', rest = ''] = match;
  const defaultPort = `:${scheme.toLowerCase() === 'https' ? 443 : 80}`;
  // An IPv6 literal ends with "]" unless a port follows, so /:\d+$/ only ever sees a port.
  if (authority.endsWith(defaultPort)) return [url, `${scheme}://${authority.slice(0, -defaultPort.length)}${rest}`];
  if (!/:\d+$/.test(authority)) return [url, `${scheme}://${authority}${defaultPort}${rest}`];
  return [url];
}

/** The form parameters of a Twilio callback when its signature verifies with `authToken`; else null. */
export function verifyTwilioCallback(request: CallbackRequest, authToken: string): URLSearchParams | null {
  const signature = headerValue(request.headers, 'x-twilio-signature');
  if (!signature || typeof authToken !== 'string' || authToken.length === 0) return null;
  const params = new URLSearchParams(request.rawBody);
  const given = Buffer.from(signature, 'utf8');
  let ok = false;
  for (const url of urlVariants(request.url)) {
    const expected = Buffer.from(twilioSignature(authToken, url, params), 'utf8');
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
  }
  return ok ? params : null;
}

function classifyTwilio(answer: HttpAnswer): SendOutcome {
  const json = parseJson(answer.text) as { sid?: unknown; code?: unknown; message?: unknown } | undefined;
  const code = typeof json?.code === 'number' ? json.code : undefined;
  const detail = `HTTP ${answer.status}${code !== undefined ? ` twilio error ${code}` : ''}${
    typeof json?.message === 'string' ? `: ${json.message}` : json ? '' : answer.text ? `: ${snippet(answer.text)}` : ''
  }`;
  if (answer.status >= 200 && answer.status < 300) {
    if (typeof json?.sid === 'string') return { kind: 'accepted', delivered: false, providerMessageId: json.sid };
    return { kind: 'failed', error: `${detail}: no message sid in the answer` };
  }
  if (answer.status === 429 || code === 20429) {
    return { kind: 'throttled', retryAfterMs: retryAfterMs(headerValue(answer.headers, 'retry-after')), error: detail };
  }
  if (answer.status >= 500) return { kind: 'retry', error: detail };
  if (code !== undefined && INVALID_NUMBER_CODES.has(code)) return { kind: 'invalid_address', error: detail };
  if (code === UNSUBSCRIBED_CODE) return { kind: 'invalid_address', error: 'unsubscribed' };
  return { kind: 'failed', error: detail };
}

const TWILIO_STATUS: Record<string, StatusEvent['status']> = { delivered: 'delivered', undelivered: 'failed', failed: 'failed' };

/** The status callback URL of one message: the configured one with `record_id` added. */
function withRecordId(callbackUrl: string, recordId: string): string {
  const url = new URL(callbackUrl);
  url.searchParams.set('record_id', recordId);
  return url.toString();
}

function recordIdOf(requestUrl: string): string | undefined {
  try {
    return new URL(requestUrl).searchParams.get('record_id') ?? undefined;
  } catch {
    return undefined;
  }
}

export const twilioSmsKind: ProviderKind<TwilioSmsConfig, TwilioSmsSecrets> = {
  kind: 'twilio',
  channel: 'sms',

  check(config, secrets) {
    if (typeof config?.account_sid !== 'string' || !ACCOUNT_SID.test(config.account_sid)) return 'account_sid must be AC followed by 32 hex digits';
    const from = config.from;
    if (typeof from !== 'string' || !(E164.test(from) || SERVICE_SID.test(from) || ALPHA_SENDER.test(from))) {
      return 'from must be an E.164 number, an alphanumeric sender id or a Messaging Service SID (MG...)';
    }
    const urlError = checkUrl('status_callback_url', config.status_callback_url) ?? checkUrl('base_url', config.base_url);
    if (urlError) return urlError;
    if (typeof secrets?.auth_token !== 'string' || secrets.auth_token.length === 0) return 'auth_token is required';
    return null;
  },

  create(config, secrets, deps): ChannelProvider {
    const http = smsHttp(deps);
    const base = (config.base_url ?? TWILIO_API).replace(/\/+$/, '');
    const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(config.account_sid)}/Messages.json`;
    const authorization = `Basic ${Buffer.from(`${config.account_sid}:${secrets.auth_token}`, 'utf8').toString('base64')}`;
    return {
      async send(message) {
        const text = smsText(message);
        if (text === null) return { kind: 'failed', error: `an sms provider cannot send ${message.content.channel} content` };
        const form = new URLSearchParams({ To: message.address, Body: text });
        form.set(SERVICE_SID.test(config.from) ? 'MessagingServiceSid' : 'From', config.from);
        // The record id rides on the callback URL (Twilio signs the URL with it), so a report that
        // comes before the send's answer is written still finds its record.
        if (config.status_callback_url) form.set('StatusCallback', withRecordId(config.status_callback_url, message.recordId));
        const answer = await http.post(url, {
          authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          'i-twilio-idempotency-token': message.recordId,
        }, form.toString());
        return isOutcome(answer) ? answer : classifyTwilio(answer);
      },
      close: () => http.close(),
    };
  },

  parseStatus(request, _config, secrets) {
    const params = verifyTwilioCallback(request, secrets?.auth_token);
    if (!params) return null;
    const sid = params.get('MessageSid') ?? params.get('SmsSid');
    const status = TWILIO_STATUS[params.get('MessageStatus') ?? params.get('SmsStatus') ?? ''];
    if (!sid || !status) return [];
    const errorCode = params.get('ErrorCode');
    const original = params.get('MessageStatus') ?? params.get('SmsStatus');
    const error = status === 'failed' ? (errorCode ? `twilio error ${errorCode}` : String(original)) : undefined;
    const recordId = recordIdOf(request.url);
    return [{ providerMessageId: sid, recordId, status, error }];
  },

  parseInbound(request, _config, secrets) {
    const params = verifyTwilioCallback(request, secrets?.auth_token);
    if (!params) return null;
    const from = params.get('From');
    const body = params.get('Body');
    const messages: InboundMessage[] = from !== null && body !== null ? [{ from, text: body }] : [];
    return messages;
  },
};
