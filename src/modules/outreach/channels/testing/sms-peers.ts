/**
 * Local stand-ins for the SMS providers, for tests and benchmarks: one node:http server per wire
 * format that checks a request the way the real provider does, records what it accepted, and can
 * be told to misbehave. They share nothing with the adapters (signatures are recomputed here from
 * the protocol), so a test against a peer catches a protocol mistake of the adapter.
 *
 *   const peer = await startTwilioPeer({ accountSid, authToken });
 *   // configure the adapter with base_url: peer.url
 *   peer.throttleNext(2, '3');       // the next 2 sends answer 429 with Retry-After: 3
 *   peer.failNext(1);                // the next request answers 503
 *   peer.invalidNumbers.add('+15550000000');
 *   await peer.down(); await peer.up();   // refuse connections, then listen again on the same port
 *   peer.messages; peer.requests;    // accepted messages (deduplicated), requests received
 *   await peer.close();
 *
 * Signed callbacks to post to our endpoints: genericCallback, twilioCallback, aliyunCallback
 * (each returns a CallbackRequest; postCallback sends one over HTTP).
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { standardWebhookHeaders, standardWebhookSecret } from '../../../../platform/webhook.js';
import type { CallbackRequest } from '../channel.js';

/** One message a peer accepted. */
export interface PeerMessage {
  /** The provider's id for it: message_id (generic), sid (Twilio), BizId (Aliyun). */
  id: string;
  /** The recipient as the provider received it (Aliyun: without "+" and, for +86, the country code). */
  to: string;
  text: string;
  /** Idempotency-Key (generic), I-Twilio-Idempotency-Token (Twilio), OutId (Aliyun). */
  key: string | undefined;
  /** Every field of the request as the provider read it. */
  fields: Record<string, string>;
}

export interface SmsPeer {
  /** What to configure: the send URL (generic `url`) or the API base (Twilio and Aliyun `base_url`). */
  readonly url: string;
  readonly port: number;
  /** Accepted messages in order; a request repeating an idempotency key adds nothing. */
  readonly messages: PeerMessage[];
  /** HTTP requests received (refused and failed ones included). */
  readonly requests: number;
  /** Recipients (E.164) answered with the provider's invalid-number error. */
  readonly invalidNumbers: Set<string>;
  /** The next `n` requests that pass authentication are throttled (Retry-After: `retryAfter` when given). */
  throttleNext(n: number, retryAfter?: string): void;
  /** The next `n` requests answer `status` (default 503) before anything is checked. */
  failNext(n: number, status?: number): void;
  /** The next `n` requests get no answer until the peer goes down or closes (timeouts). */
  stallNext(n: number): void;
  /** Stops listening and drops open connections: the provider is down (connection refused). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Forgets messages, counters and pending misbehaviour. */
  reset(): void;
  close(): Promise<void>;
}

interface PeerRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
}
interface PeerAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}
interface PeerControl {
  messages: PeerMessage[];
  invalidNumbers: Set<string>;
  /** Consumes one pending throttle; the Retry-After value ('' for none), or null when not throttled. */
  throttled(): string | null;
}

async function startPeer(
  path: string,
  handle: (req: PeerRequest, control: PeerControl) => PeerAnswer,
  failure: (status: number) => unknown,
): Promise<SmsPeer> {
  const messages: PeerMessage[] = [];
  const invalidNumbers = new Set<string>();
  let requests = 0;
  let throttles: { left: number; retryAfter: string } = { left: 0, retryAfter: '' };
  let failures = { left: 0, status: 503 };
  let stalls = 0;
  const control: PeerControl = {
    messages,
    invalidNumbers,
    throttled() {
      if (throttles.left <= 0) return null;
      throttles.left--;
      return throttles.retryAfter;
    },
  };
  const send = (res: ServerResponse, answer: PeerAnswer) => {
    const text = JSON.stringify(answer.body);
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(text);
  };
  const server = createServer((req, res) => {
    requests++;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (stalls > 0) {
        stalls--;
        return; // no answer: closeAllConnections ends it
      }
      if (failures.left > 0) {
        failures.left--;
        return send(res, { status: failures.status, body: failure(failures.status) });
      }
      const url = new URL(req.url ?? '/', 'http://peer');
      let answer: PeerAnswer;
      try {
        answer = handle({ method: req.method ?? 'GET', path: url.pathname, headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') }, control);
      } catch {
        answer = { status: 400, body: { error: 'malformed_request' } }; // e.g. a body that is not JSON
      }
      send(res, answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    url: `http://127.0.0.1:${port}${path}`,
    port,
    messages,
    get requests() {
      return requests;
    },
    invalidNumbers,
    throttleNext: (n, retryAfter = '') => void (throttles = { left: n, retryAfter }),
    failNext: (n, status = 503) => void (failures = { left: n, status }),
    stallNext: (n) => void (stalls = n),
    down: stop,
    up: () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      }),
    reset() {
      messages.length = 0;
      requests = 0;
      stalls = 0;
      throttles = { left: 0, retryAfter: '' };
      failures = { left: 0, status: 503 };
    },
    close: stop,
  };
}

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};
const retryHeaders = (retryAfter: string): Record<string, string> => (retryAfter ? { 'retry-after': retryAfter } : {});
const E164 = /^\+[1-9]\d{1,14}$/;

// ---------------------------------------------------------------------------------------------
// Generic gateway: Standard Webhooks signature, Idempotency-Key, JSON {id, to, text}.

/** A generic SMS gateway on POST /sms that verifies our Standard Webhooks signature with `secret`. */
export function startGenericSmsPeer(options: { secret: string }): Promise<SmsPeer> {
  const verifier = new Webhook(standardWebhookSecret(options.secret));
  const byKey = new Map<string, PeerMessage>();
  let next = 0;
  return startPeer('/sms', (req, control) => {
    if (req.method !== 'POST' || req.path !== '/sms') return { status: 404, body: { error: 'not_found' } };
    try {
      verifier.verify(req.raw, req.headers as Record<string, string>);
    } catch {
      return { status: 401, body: { error: 'invalid_signature' } };
    }
    const retryAfter = control.throttled();
    if (retryAfter !== null) return { status: 429, headers: retryHeaders(retryAfter), body: { error: 'rate_limited' } };
    const key = header(req.headers, 'idempotency-key');
    if (!key) return { status: 400, body: { error: 'missing_idempotency_key' } };
    const seen = byKey.get(key);
    if (seen) return { status: 200, body: { message_id: seen.id } };
    const json = JSON.parse(req.raw) as { id?: unknown; to?: unknown; text?: unknown };
    if (typeof json.to !== 'string' || typeof json.text !== 'string') return { status: 400, body: { error: 'invalid_request' } };
    if (!E164.test(json.to) || control.invalidNumbers.has(json.to)) return { status: 400, body: { error: 'invalid_number' } };
    const message: PeerMessage = { id: `gm_${++next}`, to: json.to, text: json.text, key, fields: { id: String(json.id), to: json.to, text: json.text } };
    byKey.set(key, message);
    control.messages.push(message);
    return { status: 200, body: { message_id: message.id } };
  }, () => ({ error: 'unavailable' }));
}

/** A generic gateway's callback (status or inbound payload) signed as the gateway signs it. */
export function genericCallback(url: string, secret: string, payload: unknown, options: { id?: string; timestamp?: number } = {}): CallbackRequest {
  const rawBody = JSON.stringify(payload);
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const headers = { 'content-type': 'application/json', ...standardWebhookHeaders(secret, options.id ?? `evt_${randomUUID()}`, timestamp, rawBody) };
  return { url, headers, rawBody, body: payload };
}

// ---------------------------------------------------------------------------------------------
// Twilio: Basic auth, form fields, I-Twilio-Idempotency-Token, X-Twilio-Signature on callbacks.

const twilioError = (status: number, code: number, message: string): PeerAnswer => ({
  status,
  body: { code, message, more_info: `twilio error ${code}`, status },
});

/** Twilio's Messages API for one account; `stoppedNumbers` answer 21610 (recipient sent STOP). */
export async function startTwilioPeer(options: { accountSid: string; authToken: string }): Promise<SmsPeer & { stoppedNumbers: Set<string> }> {
  const stoppedNumbers = new Set<string>();
  const byToken = new Map<string, PeerMessage>();
  const resource = (m: PeerMessage) => ({
    sid: m.id, account_sid: options.accountSid, to: m.to, from: m.fields.From ?? null, messaging_service_sid: m.fields.MessagingServiceSid ?? null,
    body: m.text, status: 'queued', num_segments: '1', direction: 'outbound-api', api_version: '2010-04-01',
  });
  const peer = await startPeer('', (req, control) => {
    const match = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(req.path);
    if (req.method !== 'POST' || !match) return twilioError(404, 20404, 'The requested resource was not found');
    const auth = /^Basic (.+)$/.exec(header(req.headers, 'authorization') ?? '');
    const [user, ...rest] = auth ? Buffer.from(auth[1] as string, 'base64').toString('utf8').split(':') : [];
    if (user !== options.accountSid || rest.join(':') !== options.authToken) return twilioError(401, 20003, 'Authenticate');
    if (decodeURIComponent(match[1] as string) !== options.accountSid) return twilioError(404, 20404, 'The requested resource was not found');
    const retryAfter = control.throttled();
    if (retryAfter !== null) return { ...twilioError(429, 20429, 'Too Many Requests'), headers: retryHeaders(retryAfter) };
    if (!(header(req.headers, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded')) return twilioError(400, 20001, 'Unsupported content type');
    const token = header(req.headers, 'i-twilio-idempotency-token');
    const seen = token ? byToken.get(token) : undefined;
    if (seen) return { status: 201, body: resource(seen) };
    const fields = Object.fromEntries(new URLSearchParams(req.raw));
    if (!fields.To) return twilioError(400, 21604, "A 'To' phone number is required.");
    if (!fields.From && !fields.MessagingServiceSid) return twilioError(400, 21603, "A 'From' phone number is required.");
    if (!fields.Body) return twilioError(400, 21602, 'Message body is required.');
    if (!E164.test(fields.To) || control.invalidNumbers.has(fields.To)) return twilioError(400, 21211, `The 'To' number ${fields.To} is not a valid phone number.`);
    if (stoppedNumbers.has(fields.To)) return twilioError(400, 21610, 'Attempt to send to unsubscribed recipient');
    const message: PeerMessage = { id: `SM${randomBytes(16).toString('hex')}`, to: fields.To, text: fields.Body, key: token, fields };
    if (token) byToken.set(token, message);
    control.messages.push(message);
    return { status: 201, body: resource(message) };
  }, (status) => ({ code: 20500, message: 'Internal Server Error', status }));
  return Object.assign(peer, { stoppedNumbers });
}

/** X-Twilio-Signature as Twilio computes it: base64 HMAC-SHA1(token, url + sorted name+value pairs). */
function twilioSign(authToken: string, url: string, params: Record<string, string>): string {
  const names = Object.keys(params).sort();
  return createHmac('sha1', authToken).update(url + names.map((n) => `${n}${params[n]}`).join('')).digest('base64');
}

/**
 * A Twilio callback as Twilio posts it to `url`: status (`{MessageSid, MessageStatus, ErrorCode?}`)
 * or incoming message (`{From, Body, ...}`); AccountSid and ApiVersion are added when missing.
 */
export function twilioCallback(url: string, authToken: string, params: Record<string, string>, accountSid?: string): CallbackRequest {
  const fields = { ...(accountSid ? { AccountSid: accountSid } : {}), ApiVersion: '2010-04-01', ...params };
  const rawBody = new URLSearchParams(fields).toString();
  return {
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSign(authToken, url, fields) },
    rawBody,
    body: fields,
  };
}

// ---------------------------------------------------------------------------------------------
// Aliyun Dysmsapi: RPC signature 1.0 over form parameters.

/** RFC 3986 encoding byte by byte, as Aliyun specifies (unreserved: A-Z a-z 0-9 - _ . ~). */
function aliyunEncode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const aliyunError = (status: number, code: string, message: string): PeerAnswer => ({ status, body: { RequestId: randomUUID(), Code: code, Message: message } });

/**
 * Dysmsapi SendSms for one AccessKey. It checks the parameters, the timestamp (15 minutes), the
 * nonce (never twice) and the signature. `templateParamName` (default content) names the
 * template variable recorded as the text. invalidNumbers are E.164 ('+8613800000000').
 */
export function startAliyunPeer(options: { accessKeyId: string; accessKeySecret: string; templateParamName?: string }): Promise<SmsPeer> {
  const nonces = new Set<string>();
  let next = 0;
  return startPeer('', (req, control) => {
    if (req.method !== 'POST' || req.path !== '/') return aliyunError(404, 'InvalidAction.NotFound', 'Specified api is not found');
    const params = Object.fromEntries(new URLSearchParams(req.raw));
    for (const name of ['Action', 'Version', 'AccessKeyId', 'Signature', 'SignatureMethod', 'SignatureVersion', 'SignatureNonce', 'Timestamp']) {
      if (!params[name]) return aliyunError(400, 'MissingParameter', `${name} is mandatory for this action.`);
    }
    if (params.Action !== 'SendSms' || params.Version !== '2017-05-25') return aliyunError(404, 'InvalidAction.NotFound', 'Specified api is not found');
    if (params.AccessKeyId !== options.accessKeyId) return aliyunError(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
    if (params.SignatureMethod !== 'HMAC-SHA1' || params.SignatureVersion !== '1.0') return aliyunError(400, 'InvalidParameter', 'SignatureMethod/SignatureVersion');
    const { Signature: signature, ...signed } = params;
    const query = Object.keys(signed).sort().map((k) => `${aliyunEncode(k)}=${aliyunEncode(signed[k] as string)}`).join('&');
    const expected = createHmac('sha1', `${options.accessKeySecret}&`).update(`POST&%2F&${aliyunEncode(query)}`).digest('base64');
    if (signature !== expected) return aliyunError(400, 'SignatureDoesNotMatch', 'Specified signature is not matched with our calculation.');
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(params.Timestamp as string)) return aliyunError(400, 'InvalidTimeStamp.Format', 'Specified time stamp or date value is not well formatted.');
    if (Math.abs(Date.parse(params.Timestamp as string) - Date.now()) > 15 * 60_000) return aliyunError(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');
    if (nonces.has(params.SignatureNonce as string)) return aliyunError(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
    nonces.add(params.SignatureNonce as string);
    if (control.throttled() !== null) return aliyunError(200, 'isv.BUSINESS_LIMIT_CONTROL', '触发分钟级流控Permits:1');
    for (const name of ['PhoneNumbers', 'SignName', 'TemplateCode']) {
      if (!params[name]) return aliyunError(400, 'MissingParameter', `${name} is mandatory for this action.`);
    }
    const to = params.PhoneNumbers as string;
    const invalid = [...control.invalidNumbers].some((n) => n.replace(/^\+(86(?=1\d{10}$))?/, '') === to);
    if (!/^\d{5,20}$/.test(to) || invalid) return aliyunError(200, 'isv.MOBILE_NUMBER_ILLEGAL', '非法手机号');
    let templateParam: Record<string, unknown> = {};
    try {
      if (params.TemplateParam) templateParam = JSON.parse(params.TemplateParam) as Record<string, unknown>;
    } catch {
      return aliyunError(200, 'isv.INVALID_JSON_PARAM', 'JSON参数不合法，只接受字符串值');
    }
    const text = templateParam[options.templateParamName ?? 'content'];
    const id = `${Date.now()}${String(++next).padStart(6, '0')}^0`;
    control.messages.push({ id, to, text: typeof text === 'string' ? text : JSON.stringify(templateParam), key: params.OutId, fields: params });
    return { status: 200, body: { RequestId: randomUUID(), Code: 'OK', Message: 'OK', BizId: id } };
  }, (status) => ({ RequestId: randomUUID(), Code: status === 503 ? 'ServiceUnavailable' : 'InternalError', Message: 'The request has failed due to a temporary failure of the server.' }));
}

/**
 * An Aliyun push (SmsReport: `{phone_number, success, biz_id, out_id, err_code, err_msg,
 * report_time}`; SmsUp: `{phone_number, content, sign_name, send_time}`) to `url`, which carries
 * the `token` the tenant registered. Aliyun signs nothing.
 */
export function aliyunCallback(url: string, items: Record<string, unknown>[]): CallbackRequest {
  const rawBody = JSON.stringify(items);
  return { url, headers: { 'content-type': 'application/json' }, rawBody, body: items };
}

/** POSTs a built callback to its URL (our endpoint); the status and body text of the answer. */
export async function postCallback(request: CallbackRequest): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  const res = await fetch(request.url, { method: 'POST', headers, body: request.rawBody });
  return { status: res.status, text: await res.text() };
}
