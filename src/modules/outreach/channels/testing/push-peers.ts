/**
 * Local protocol peers for the push adapters' tests and for end-to-end tests of the send pipeline.
 * Both listen on 127.0.0.1 (create providers with `allowPrivateNetworks: true`).
 *
 * FCM (`startFcmPeer`): an OAuth token endpoint that verifies the JWT-bearer assertion (RS256
 * signature with the service account's public key; iss, scope, aud, iat/exp) and issues access
 * tokens with an expiry, and the HTTP v1 `messages:send` endpoint that checks the Bearer token and
 * records messages. Answers per registration token are set with `answerFor`.
 *
 *   const account = generateServiceAccount();
 *   const fcm = await startFcmPeer({ accounts: [account] });
 *   fcmKind.create({ project_id: fcm.projectId, token_uri: fcm.tokenUri, base_url: fcm.baseUrl }, account.secrets, deps);
 *
 * Web Push (`startWebPushPeer`): a push service whose endpoints verify the VAPID header (ES256
 * JWT for the endpoint's origin, expiring within 24 h), require `Content-Encoding: aes128gcm` and
 * a TTL, and decrypt the payload (RFC 8291) with the subscription keys the peer generated.
 *
 *   const push = await startWebPushPeer();
 *   const subscription = push.createSubscription();   // { endpoint, keys: { p256dh, auth } }
 *   ... send to JSON.stringify(subscription) ...
 *   push.deliveries[0].json                            // the decrypted payload, parsed
 */
import { createServer, type ServerResponse } from 'node:http';
import { generateKeyPairSync, randomBytes, randomUUID, verify, type KeyObject } from 'node:crypto';
import { closeServer, decodeJwt, json, listenOnLoopback, readBody } from './peer-http.js';
import { FCM_SCOPE, type FcmSecrets } from '../push-fcm.js';

export interface TestServiceAccount {
  /** What the adapter is configured with. */
  secrets: Required<FcmSecrets>;
  /** The public half, which the peer verifies assertions with. */
  publicKey: KeyObject;
}

/** A throwaway service account: a fresh 2048-bit RSA key pair and an e-mail address. */
export function generateServiceAccount(email = `push-${randomUUID().slice(0, 8)}@test-project.iam.gserviceaccount.com`): TestServiceAccount {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { secrets: { client_email: email, private_key: pem, private_key_id: randomBytes(20).toString('hex') }, publicKey };
}

/** How the FCM peer answers a registration token, in the API's error format. */
export type FcmAnswer = 'unregistered' | 'invalid_token' | 'throttled' | 'quota_exceeded' | 'unavailable' | 'internal' | 'sender_id_mismatch';

export interface FcmPeerMessage {
  /** The `message` object as posted: token, notification, data, android, apns. */
  message: { token: string; notification?: { title?: string; body?: string }; data?: Record<string, string>; [key: string]: unknown };
  accessToken: string;
  /** The name the peer answered with (what the adapter reports as providerMessageId). */
  name: string;
}

export interface FcmPeer {
  /** The `base_url` to configure. */
  baseUrl: string;
  /** The `token_uri` to configure (also the `aud` the assertion must carry). */
  tokenUri: string;
  projectId: string;
  /** Messages answered 200, in arrival order. */
  messages: FcmPeerMessage[];
  /** Access tokens issued so far. */
  tokensIssued: number;
  /** Why assertions were refused (400 invalid_grant), in order. */
  refusedAssertions: string[];
  /** Answers every later send to `registrationToken` with `answer` (null: back to 200). */
  answerFor(registrationToken: string, answer: FcmAnswer | null, retryAfterSeconds?: number): void;
  /** The next `times` sends (default 1) answer 401 UNAUTHENTICATED, as for a token revoked early. */
  rejectNextAccessToken(times?: number): void;
  close(): Promise<void>;
}

export interface FcmPeerOptions {
  accounts: TestServiceAccount[];
  projectId?: string;
  /** `expires_in` of issued access tokens (default 3600). */
  tokenLifetimeSeconds?: number;
  /** The peer's clock for assertion checks, ms since the epoch (default Date.now). */
  now?: () => number;
}

const FCM_ERRORS: Record<FcmAnswer, { http: number; status: string; errorCode: string; message: string }> = {
  unregistered: { http: 404, status: 'NOT_FOUND', errorCode: 'UNREGISTERED', message: 'Requested entity was not found.' },
  invalid_token: { http: 400, status: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', message: 'The registration token is not a valid FCM registration token' },
  throttled: { http: 429, status: 'RESOURCE_EXHAUSTED', errorCode: 'QUOTA_EXCEEDED', message: 'Quota exceeded for this device.' },
  quota_exceeded: { http: 429, status: 'RESOURCE_EXHAUSTED', errorCode: 'QUOTA_EXCEEDED', message: 'Sending limit exceeded.' },
  unavailable: { http: 503, status: 'UNAVAILABLE', errorCode: 'UNAVAILABLE', message: 'The service is currently unavailable.' },
  internal: { http: 500, status: 'INTERNAL', errorCode: 'INTERNAL', message: 'Internal error encountered.' },
  sender_id_mismatch: { http: 403, status: 'PERMISSION_DENIED', errorCode: 'SENDER_ID_MISMATCH', message: 'SenderId mismatch' },
};

function fcmError(res: ServerResponse, http: number, status: string, message: string, errorCode?: string, headers: Record<string, string> = {}): void {
  const details = errorCode ? [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] : [];
  json(res, http, { error: { code: http, message, status, details } }, headers);
}

export async function startFcmPeer(options: FcmPeerOptions): Promise<FcmPeer> {
  const now = options.now ?? Date.now;
  const projectId = options.projectId ?? 'test-project';
  const lifetime = options.tokenLifetimeSeconds ?? 3600;
  const accounts = new Map(options.accounts.map((a) => [a.secrets.client_email, a]));
  const accessTokens = new Map<string, number>(); // token -> expiry (ms)
  const answers = new Map<string, { answer: FcmAnswer; retryAfterSeconds: number | undefined }>();
  let rejectNext = 0;

  function checkAssertion(assertion: string, tokenUri: string): string | null {
    const jwt = decodeJwt(assertion);
    if (!jwt) return 'the assertion is not a JWT';
    if (jwt.header.alg !== 'RS256') return `alg ${String(jwt.header.alg)} is not RS256`;
    const account = accounts.get(String(jwt.claims.iss));
    if (!account) return `unknown issuer ${String(jwt.claims.iss)}`;
    if (jwt.header.kid !== undefined && jwt.header.kid !== account.secrets.private_key_id) return 'kid names another key';
    if (!verify('sha256', jwt.signingInput, account.publicKey, jwt.signature)) return 'invalid JWT signature';
    const { scope, aud, iat, exp } = jwt.claims;
    if (typeof scope !== 'string' || !scope.split(' ').includes(FCM_SCOPE)) return 'the scope does not include firebase.messaging';
    if (aud !== tokenUri) return `aud ${String(aud)} is not ${tokenUri}`;
    const nowS = now() / 1000;
    if (typeof iat !== 'number' || typeof exp !== 'number') return 'iat and exp are required';
    if (iat > nowS + 60) return 'iat is in the future';
    if (exp <= nowS) return 'the assertion has expired';
    if (exp - iat > 3600) return 'the assertion lives longer than an hour';
    return null;
  }

  const server = createServer((req, res) => {
    void (async () => {
      const body = (await readBody(req)).toString();
      const path = new URL(req.url ?? '/', 'http://peer').pathname;
      if (req.method === 'POST' && path === '/token') {
        const form = new URLSearchParams(body);
        if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
          return json(res, 400, { error: 'unsupported_grant_type', error_description: 'expected the jwt-bearer grant' });
        }
        const refused = checkAssertion(form.get('assertion') ?? '', peer.tokenUri);
        if (refused) {
          peer.refusedAssertions.push(refused);
          return json(res, 400, { error: 'invalid_grant', error_description: refused });
        }
        const token = `ya29.test-${randomBytes(16).toString('hex')}`;
        accessTokens.set(token, now() + lifetime * 1000);
        peer.tokensIssued++;
        return json(res, 200, { access_token: token, expires_in: lifetime, token_type: 'Bearer' });
      }
      if (req.method === 'POST' && path === `/v1/projects/${projectId}/messages:send`) {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
        const expiry = accessTokens.get(token);
        if (rejectNext > 0 || expiry === undefined || expiry <= now()) {
          rejectNext = Math.max(0, rejectNext - 1);
          return fcmError(res, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
        }
        let message: FcmPeerMessage['message'] | undefined;
        try {
          message = (JSON.parse(body) as { message?: FcmPeerMessage['message'] }).message;
        } catch {
          // Handled below.
        }
        if (!message || typeof message.token !== 'string' || message.token === '') {
          return fcmError(res, 400, 'INVALID_ARGUMENT', 'The message must name a registration token', 'INVALID_ARGUMENT');
        }
        if (message.data && Object.values(message.data).some((v) => typeof v !== 'string')) {
          return fcmError(res, 400, 'INVALID_ARGUMENT', 'Invalid value at message.data: values must be strings', 'INVALID_ARGUMENT');
        }
        const set = answers.get(message.token);
        if (set) {
          const e = FCM_ERRORS[set.answer];
          const headers: Record<string, string> = set.retryAfterSeconds === undefined ? {} : { 'retry-after': String(set.retryAfterSeconds) };
          return fcmError(res, e.http, e.status, e.message, e.errorCode, headers);
        }
        const name = `projects/${projectId}/messages/${randomUUID()}`;
        peer.messages.push({ message, accessToken: token, name });
        return json(res, 200, { name });
      }
      if (path.startsWith('/v1/projects/')) return fcmError(res, 404, 'NOT_FOUND', 'Requested entity was not found.');
      res.writeHead(404).end();
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });

  const origin = await listenOnLoopback(server);
  const peer: FcmPeer = {
    baseUrl: origin,
    tokenUri: `${origin}/token`,
    projectId,
    messages: [],
    tokensIssued: 0,
    refusedAssertions: [],
    answerFor(registrationToken, answer, retryAfterSeconds) {
      if (answer === null) answers.delete(registrationToken);
      else answers.set(registrationToken, { answer, retryAfterSeconds });
    },
    rejectNextAccessToken(times = 1) {
      rejectNext = times;
    },
    close: () => closeServer(server),
  };
  return peer;
}

export * from './webpush-peer.js';
