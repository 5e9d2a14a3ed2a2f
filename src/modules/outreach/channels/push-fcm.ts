/**
 * Firebase Cloud Messaging, HTTP v1 API. The service account signs a JWT (RS256) that is exchanged
 * at the OAuth token endpoint for an access token (the JWT-bearer grant); the token is cached until
 * a minute before it expires, and one refresh runs at a time however many sends wait for it.
 *
 * Answers, by the API's error status and its FCM error code (`details[].errorCode`):
 * 200 -> accepted (final: FCM took it); 429 / RESOURCE_EXHAUSTED / QUOTA_EXCEEDED -> throttled;
 * UNREGISTERED, or INVALID_ARGUMENT about the registration token -> invalid_address; 401 -> the
 * cached token is dropped and the send tried once more, then failed; 403 (SENDER_ID_MISMATCH,
 * PERMISSION_DENIED) and other 4xx -> failed; 5xx and network errors -> retry.
 */
import { createPrivateKey, sign } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import type { ChannelProvider, OutboundMessage, ProviderDeps, ProviderKind, SendOutcome } from './channel.js';
import { classifyNetworkError, guardedDispatcher, parseRetryAfter, refusePrivateLiteral, snippet } from './push-http.js';

export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
export const FCM_DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
export const FCM_DEFAULT_BASE_URL = 'https://fcm.googleapis.com';
const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ASSERTION_LIFETIME_S = 3600;
/** A cached access token is replaced this long before the expiry its issuer announced. */
const REFRESH_MARGIN_MS = 60_000;

export interface FcmConfig {
  project_id: string;
  /** The OAuth token endpoint (default Google's). */
  token_uri?: string | undefined;
  /** The FCM API origin (default Google's). */
  base_url?: string | undefined;
  /** Passed through as the message's `android` / `apns` blocks (priority, TTL, headers). */
  android?: Record<string, unknown> | undefined;
  apns?: Record<string, unknown> | undefined;
}

/** The fields of the Google service-account JSON that signing needs. */
export interface FcmSecrets {
  client_email: string;
  /** PEM (PKCS#8 as Google issues it, or PKCS#1). */
  private_key: string;
  private_key_id?: string | undefined;
}

export interface FcmProviderOptions {
  /** Milliseconds since the epoch; tests move it to expire cached tokens. */
  now?: () => number;
}

const b64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

/** The signed assertion of the JWT-bearer grant (RFC 7523) for the FCM scope. */
export function serviceAccountAssertion(secrets: FcmSecrets, tokenUri: string, nowSeconds: number): string {
  const header = { alg: 'RS256', typ: 'JWT', ...(secrets.private_key_id ? { kid: secrets.private_key_id } : {}) };
  const claims = { iss: secrets.client_email, scope: FCM_SCOPE, aud: tokenUri, iat: nowSeconds, exp: nowSeconds + ASSERTION_LIFETIME_S };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = sign('sha256', Buffer.from(signingInput), createPrivateKey(secrets.private_key));
  return `${signingInput}.${signature.toString('base64url')}`;
}

function checkUrl(value: unknown, name: string): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string') return `${name} must be a URL`;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? null : `${name} must be an http(s) URL`;
  } catch {
    return `${name} must be a URL`;
  }
}

function check(config: FcmConfig, secrets: FcmSecrets): string | null {
  if (typeof config?.project_id !== 'string' || !/^[a-z0-9][a-z0-9-]{2,62}$/.test(config.project_id)) {
    return 'project_id must be the Firebase project id (lowercase letters, digits and hyphens)';
  }
  const urlError = checkUrl(config.token_uri, 'token_uri') ?? checkUrl(config.base_url, 'base_url');
  if (urlError) return urlError;
  if (typeof secrets?.client_email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(secrets.client_email)) {
    return 'client_email must be the service account e-mail';
  }
  if (secrets.private_key_id !== undefined && typeof secrets.private_key_id !== 'string') return 'private_key_id must be a string';
  if (typeof secrets.private_key !== 'string' || !secrets.private_key.includes('-----BEGIN')) {
    return 'private_key must be the PEM private key of the service account';
  }
  try {
    const key = createPrivateKey(secrets.private_key);
    if (key.asymmetricKeyType !== 'rsa') return 'private_key must be an RSA key';
  } catch {
    return 'private_key cannot be read as a PEM private key';
  }
  return null;
}

/** A token-endpoint answer that is not a token: the send's outcome. */
class TokenFailure extends Error {
  constructor(readonly outcome: SendOutcome) {
    super(outcome.kind);
  }
}

interface CachedToken {
  value: string;
  /** When to stop using it (its expiry less the margin), ms since the epoch. */
  useUntil: number;
}

interface FcmErrorBody {
  error?: { code?: number; message?: string; status?: string; details?: Array<{ errorCode?: string }> } | string;
  error_description?: string;
}

function parseError(text: string): { status: string; fcmCode: string; message: string } {
  let body: FcmErrorBody = {};
  try {
    body = JSON.parse(text) as FcmErrorBody;
  } catch {
    // Not JSON (a proxy's page): classified by HTTP status alone.
  }
  if (typeof body.error === 'string') return { status: body.error, fcmCode: '', message: body.error_description ?? '' };
  const error = body.error ?? {};
  const fcmCode = error.details?.find((d) => typeof d?.errorCode === 'string')?.errorCode ?? '';
  return { status: error.status ?? '', fcmCode, message: error.message ?? snippet(text) };
}

export function createFcmProvider(config: FcmConfig, secrets: FcmSecrets, deps: ProviderDeps, options: FcmProviderOptions = {}): ChannelProvider {
  const now = options.now ?? Date.now;
  const tokenUri = config.token_uri ?? FCM_DEFAULT_TOKEN_URI;
  const sendUrl = `${(config.base_url ?? FCM_DEFAULT_BASE_URL).replace(/\/+$/, '')}/v1/projects/${encodeURIComponent(config.project_id)}/messages:send`;
  const ownAgent = deps.allowPrivateNetworks ? new Agent() : null;
  const dispatcher: Dispatcher = guardedDispatcher(deps, ownAgent);
  let cached: CachedToken | null = null;
  let refreshing: Promise<CachedToken> | null = null;

  async function call(url: string, init: { headers: Record<string, string>; body: string }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
    const refused = refusePrivateLiteral(url, deps);
    if (refused) throw refused;
    const signal = AbortSignal.timeout(deps.timeoutMs);
    const response = await request(url, { method: 'POST', dispatcher, signal, headers: init.headers, body: init.body });
    const text = await response.body.text();
    return { status: response.statusCode, headers: response.headers, text };
  }

  async function fetchToken(): Promise<CachedToken> {
    const issuedAt = now();
    let assertion: string;
    try {
      assertion = serviceAccountAssertion(secrets, tokenUri, Math.floor(issuedAt / 1000));
    } catch (err) {
      throw new TokenFailure({ kind: 'failed', error: `cannot sign with the service account key: ${err instanceof Error ? err.message : String(err)}` });
    }
    let answer;
    try {
      answer = await call(tokenUri, {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }).toString(),
      });
    } catch (err) {
      throw new TokenFailure(classifyNetworkError(err, 'FCM token endpoint', 'failed'));
    }
    if (answer.status === 200) {
      let body: { access_token?: unknown; expires_in?: unknown } = {};
      try {
        body = JSON.parse(answer.text) as typeof body;
      } catch {
        // Handled below.
      }
      if (typeof body.access_token !== 'string' || body.access_token === '') {
        throw new TokenFailure({ kind: 'retry', error: 'FCM token endpoint answered 200 without an access_token' });
      }
      const lifetimeS = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600;
      return { value: body.access_token, useUntil: issuedAt + lifetimeS * 1000 - REFRESH_MARGIN_MS };
    }
    const { status, message } = parseError(answer.text);
    const error = `FCM token endpoint answered HTTP ${answer.status}${status ? ` ${status}` : ''}${message ? `: ${message}` : ''}`;
    if (answer.status === 429) throw new TokenFailure({ kind: 'throttled', retryAfterMs: parseRetryAfter(answer.headers['retry-after'], now()), error });
    if (answer.status >= 500) throw new TokenFailure({ kind: 'retry', error });
    // 400 invalid_grant (bad key, unknown account, clock skew), 401 invalid_client: credentials.
    throw new TokenFailure({ kind: 'failed', error });
  }

  /** The cached token while it is fresh; else the one refresh in flight, started when none is. */
  async function accessToken(): Promise<CachedToken> {
    if (cached && now() < cached.useUntil) return cached;
    if (!refreshing) {
      refreshing = fetchToken()
        .then((token) => (cached = token))
        .finally(() => {
          refreshing = null;
        });
    }
    return refreshing;
  }

  function messageBody(message: OutboundMessage): string {
    if (message.content.channel !== 'push_notification') throw new Error(`fcm cannot send ${message.content.channel} content`);
    const { title, body, data } = message.content;
    return JSON.stringify({
      message: {
        token: message.address,
        notification: { title, body },
        data: { ...data, record_id: message.recordId },
        ...(config.android ? { android: config.android } : {}),
        ...(config.apns ? { apns: config.apns } : {}),
      },
    });
  }

  function classify(status: number, headers: Record<string, string | string[] | undefined>, text: string): SendOutcome {
    const error = parseError(text);
    const description = `FCM answered HTTP ${status}${error.status ? ` ${error.status}` : ''}${error.fcmCode ? ` (${error.fcmCode})` : ''}${error.message ? `: ${error.message}` : ''}`;
    if (status === 429 || error.status === 'RESOURCE_EXHAUSTED' || error.fcmCode === 'QUOTA_EXCEEDED') {
      return { kind: 'throttled', retryAfterMs: parseRetryAfter(headers['retry-after'], now()), error: description };
    }
    if (error.fcmCode === 'UNREGISTERED') return { kind: 'invalid_address', error: description };
    if (status === 400 && /registration[ _-]?token|message\.token/i.test(error.message)) return { kind: 'invalid_address', error: description };
    if (status >= 500 || error.fcmCode === 'UNAVAILABLE' || error.fcmCode === 'INTERNAL') return { kind: 'retry', error: description };
    return { kind: 'failed', error: description };
  }

  async function attempt(message: OutboundMessage, body: string): Promise<SendOutcome | 'unauthorized'> {
    let token: CachedToken;
    try {
      token = await accessToken();
    } catch (err) {
      if (err instanceof TokenFailure) return err.outcome;
      throw err;
    }
    let answer;
    try {
      answer = await call(sendUrl, { headers: { authorization: `Bearer ${token.value}`, 'content-type': 'application/json; charset=utf-8' }, body });
    } catch (err) {
      return classifyNetworkError(err, 'FCM', 'failed');
    }
    if (answer.status === 200) {
      let name: unknown;
      try {
        name = (JSON.parse(answer.text) as { name?: unknown }).name;
      } catch {
        // A 200 is acceptance even without a readable name.
      }
      return { kind: 'accepted', delivered: true, providerMessageId: typeof name === 'string' ? name : undefined };
    }
    if (answer.status === 401) {
      // Drop the token only if nobody replaced it meanwhile (a concurrent send may have refreshed it).
      if (cached === token) cached = null;
      return 'unauthorized';
    }
    return classify(answer.status, answer.headers, answer.text);
  }

  return {
    async send(message: OutboundMessage): Promise<SendOutcome> {
      const body = messageBody(message);
      const first = await attempt(message, body);
      if (first !== 'unauthorized') return first;
      const second = await attempt(message, body);
      if (second !== 'unauthorized') return second;
      return { kind: 'failed', error: 'FCM answered HTTP 401 with a freshly issued access token (check the service account and project_id)' };
    },
    async close(): Promise<void> {
      await ownAgent?.close();
    },
  };
}

export const fcmKind: ProviderKind<FcmConfig, FcmSecrets> = {
  kind: 'fcm',
  channel: 'push_notification',
  check,
  create: (config, secrets, deps) => createFcmProvider(config, secrets, deps),
};
