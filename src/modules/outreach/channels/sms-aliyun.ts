/**
 * Alibaba Cloud SMS, Dysmsapi SendSms ('aliyun_sms'), RPC style with signature version 1.0.
 *
 * Send: a form POST to {base}/ with the common parameters (Action, Version, Format, AccessKeyId,
 * SignatureMethod HMAC-SHA1, SignatureVersion 1.0, SignatureNonce, Timestamp) and SendSms's own
 * (PhoneNumbers, SignName, TemplateCode, TemplateParam, OutId = recordId), plus Signature: base64
 * HMAC-SHA1 keyed with "<AccessKeySecret>&" of "POST&%2F&" + percentEncode(the sorted, encoded
 * query). Aliyun sends a template, not free text: the rendered text fills one template variable
 * (`template_param_name`, default "content").
 *
 * Callbacks: Aliyun pushes delivery reports (SmsReport) and replies (SmsUp) as JSON arrays to the
 * URLs the tenant registers. They carry no signature, so the registered URL includes a secret
 * `token` query parameter that must equal `callback_token`.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { CallbackRequest, ChannelProvider, InboundMessage, ProviderKind, SendOutcome, StatusEvent } from './channel.js';
import { asList, checkUrl, headerValue, isOutcome, parseJson, retryAfterMs, smsHttp, smsText, snippet, type HttpAnswer } from './sms-generic.js';

export const ALIYUN_SMS_API = 'https://dysmsapi.aliyuncs.com';

export interface AliyunSmsConfig {
  access_key_id: string;
  /** The approved signature name shown in the message (【...】). */
  sign_name: string;
  /** The approved template, e.g. SMS_123456789, with one variable receiving the text. */
  template_code: string;
  /** The template variable that receives the rendered text (default "content"). */
  template_param_name?: string | undefined;
  region_id?: string | undefined;
  /** Defaults to https://dysmsapi.aliyuncs.com. */
  base_url?: string | undefined;
  /** The secret `token` query parameter of the report and reply URLs registered with Aliyun. */
  callback_token?: string | undefined;
}

export interface AliyunSmsSecrets {
  access_key_secret: string;
}

/**
 * Aliyun's percent-encoding (RFC 3986): everything but A-Z a-z 0-9 - _ . ~ is encoded as UTF-8
 * bytes in upper-case hex, so a space is %20 (never +), * is %2A and ~ stays.
 */
export function aliyunPercentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The canonicalized query: parameters sorted by name, each name=value percent-encoded, joined by &. */
export function aliyunCanonicalQuery(params: Record<string, string>): string {
  return Object.keys(params)
    .sort()
    .map((k) => `${aliyunPercentEncode(k)}=${aliyunPercentEncode(params[k] as string)}`)
    .join('&');
}

/** Signature version 1.0 of an RPC request: base64 HMAC-SHA1("<secret>&", "<METHOD>&%2F&" + encode(query)). */
export function aliyunSignature(accessKeySecret: string, method: 'GET' | 'POST', params: Record<string, string>): string {
  const stringToSign = `${method}&${aliyunPercentEncode('/')}&${aliyunPercentEncode(aliyunCanonicalQuery(params))}`;
  return createHmac('sha1', `${accessKeySecret}&`).update(stringToSign, 'utf8').digest('base64');
}

/** Aliyun wants mainland numbers without the country code, others as country code + number without "+". */
export function aliyunPhoneNumber(address: string): string {
  const digits = address.trim().replace(/^\+/, '');
  if (address.trim().startsWith('+86') && /^861\d{10}$/.test(digits)) return digits.slice(2);
  return digits;
}

/** ISO 8601 UTC without milliseconds, as Aliyun's Timestamp parameter wants it. */
function aliyunTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const RETRY_CODES = new Set(['ServiceUnavailable', 'InternalError', 'SignatureNonceUsed']);
const FAILED_PREFIXES = ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'Forbidden', 'InvalidTimeStamp'];

function classifyAliyun(answer: HttpAnswer): SendOutcome {
  const json = parseJson(answer.text) as { Code?: unknown; Message?: unknown; BizId?: unknown } | undefined;
  const code = typeof json?.Code === 'string' ? json.Code : undefined;
  const detail = code ? `${code}${typeof json?.Message === 'string' ? `: ${json.Message}` : ''}` : `HTTP ${answer.status}${answer.text ? `: ${snippet(answer.text)}` : ''}`;
  if (code === 'OK' && answer.status >= 200 && answer.status < 300) {
    return { kind: 'accepted', delivered: false, providerMessageId: typeof json?.BizId === 'string' ? json.BizId : undefined };
  }
  if (code === 'isv.BUSINESS_LIMIT_CONTROL') return { kind: 'throttled', retryAfterMs: 60_000, error: detail };
  if (code?.startsWith('Throttling') || answer.status === 429) {
    return { kind: 'throttled', retryAfterMs: retryAfterMs(headerValue(answer.headers, 'retry-after')), error: detail };
  }
  if (code === 'isv.MOBILE_NUMBER_ILLEGAL') return { kind: 'invalid_address', error: detail };
  if (code?.startsWith('isv.') || (code && FAILED_PREFIXES.some((p) => code.startsWith(p)))) return { kind: 'failed', error: detail };
  if ((code && RETRY_CODES.has(code)) || answer.status >= 500) return { kind: 'retry', error: detail };
  return { kind: 'failed', error: detail };
}

/** True when the `token` query parameter of the callback URL equals `expected` (constant time). */
export function verifyAliyunToken(request: CallbackRequest, expected: string | undefined): boolean {
  if (typeof expected !== 'string' || expected.length === 0) return false;
  let token: string | null;
  try {
    token = new URL(request.url, 'http://callback.invalid').searchParams.get('token');
  } catch {
    return false;
  }
  if (token === null) return false;
  const a = Buffer.from(token, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

function callbackItems(request: CallbackRequest): Record<string, unknown>[] {
  return asList(typeof request.body === 'object' && request.body !== null ? request.body : parseJson(request.rawBody));
}

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export const aliyunSmsKind: ProviderKind<AliyunSmsConfig, AliyunSmsSecrets> = {
  kind: 'aliyun_sms',
  channel: 'sms',

  check(config, secrets) {
    for (const field of ['access_key_id', 'sign_name', 'template_code'] as const) {
      if (typeof config?.[field] !== 'string' || config[field].trim().length === 0) return `${field} is required`;
    }
    if (config.template_param_name !== undefined && (typeof config.template_param_name !== 'string' || !PARAM_NAME.test(config.template_param_name))) {
      return 'template_param_name must be a template variable name';
    }
    if (config.region_id !== undefined && (typeof config.region_id !== 'string' || !/^[a-z0-9-]{2,40}$/.test(config.region_id))) {
      return 'region_id must be a region id such as cn-hangzhou';
    }
    const urlError = checkUrl('base_url', config.base_url);
    if (urlError) return urlError;
    if (config.callback_token !== undefined && (typeof config.callback_token !== 'string' || config.callback_token.length < 16)) {
      return 'callback_token must have at least 16 characters';
    }
    if (typeof secrets?.access_key_secret !== 'string' || secrets.access_key_secret.length === 0) return 'access_key_secret is required';
    return null;
  },

  create(config, secrets, deps): ChannelProvider {
    const http = smsHttp(deps);
    const url = `${(config.base_url ?? ALIYUN_SMS_API).replace(/\/+$/, '')}/`;
    const paramName = config.template_param_name ?? 'content';
    return {
      async send(message) {
        const text = smsText(message);
        if (text === null) return { kind: 'failed', error: `an sms provider cannot send ${message.content.channel} content` };
        const params: Record<string, string> = {
          Action: 'SendSms',
          Version: '2017-05-25',
          Format: 'JSON',
          RegionId: config.region_id ?? 'cn-hangzhou',
          AccessKeyId: config.access_key_id,
          SignatureMethod: 'HMAC-SHA1',
          SignatureVersion: '1.0',
          // Unique per call, retries included: Aliyun refuses a nonce it has seen (SignatureNonceUsed).
          SignatureNonce: randomUUID(),
          Timestamp: aliyunTimestamp(new Date()),
          PhoneNumbers: aliyunPhoneNumber(message.address),
          SignName: config.sign_name,
          TemplateCode: config.template_code,
          TemplateParam: JSON.stringify({ [paramName]: text }),
          OutId: message.recordId,
        };
        params.Signature = aliyunSignature(secrets.access_key_secret, 'POST', params);
        const body = Object.entries(params).map(([k, v]) => `${aliyunPercentEncode(k)}=${aliyunPercentEncode(v)}`).join('&');
        const answer = await http.post(url, { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body);
        return isOutcome(answer) ? answer : classifyAliyun(answer);
      },
      close: () => http.close(),
    };
  },

  parseStatus(request, config) {
    if (!verifyAliyunToken(request, config?.callback_token)) return null;
    const events: StatusEvent[] = [];
    for (const item of callbackItems(request)) {
      const recordId = typeof item.out_id === 'string' && item.out_id ? item.out_id : undefined;
      const providerMessageId = typeof item.biz_id === 'string' && item.biz_id ? item.biz_id : undefined;
      if (typeof item.success !== 'boolean' || (!recordId && !providerMessageId)) continue;
      if (item.success) {
        events.push({ recordId, providerMessageId, status: 'delivered' });
      } else {
        const code = typeof item.err_code === 'string' ? item.err_code : 'failed';
        const msg = typeof item.err_msg === 'string' && item.err_msg !== code ? `: ${item.err_msg}` : '';
        events.push({ recordId, providerMessageId, status: 'failed', error: `${code}${msg}` });
      }
    }
    return events;
  },

  parseInbound(request, config) {
    if (!verifyAliyunToken(request, config?.callback_token)) return null;
    const messages: InboundMessage[] = [];
    for (const item of callbackItems(request)) {
      if (typeof item.phone_number !== 'string' || typeof item.content !== 'string') continue;
      // Aliyun reports mainland numbers without the country code; the pipeline matches E.164.
      const phone = item.phone_number.trim();
      const from = phone.startsWith('+') ? phone : /^1\d{10}$/.test(phone) ? `+86${phone}` : `+${phone}`;
      messages.push({ from, text: item.content });
    }
    return messages;
  },
};
