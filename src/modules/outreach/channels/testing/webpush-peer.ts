/**
 * A local Web Push service (RFC 8030) for tests. Each subscription it creates has an endpoint on
 * the peer and a fresh user-agent key pair (P-256) and auth secret, as a browser's would; a push
 * to that endpoint is checked and decrypted the way a browser would, so a test can read the
 * plaintext:
 *
 * - `Authorization: vapid t=<JWT>, k=<public key>` (RFC 8292): an ES256 JWT verified with k, whose
 *   aud is the endpoint's origin, exp lies within 24 hours and sub is a mailto: or https: URL
 *   (else 401); when the subscription was created for an application server key, k must be that
 *   key (else 403).
 * - `Content-Encoding: aes128gcm` (else 415) and a TTL header (else 400); at most 4096 bytes (413).
 * - The body is decrypted per RFC 8291 (ECDH with the sender's key from the header, HKDF with the
 *   auth secret, AES-128-GCM records); a body that does not decrypt is answered 400.
 *
 * Accepted pushes are answered 201 with a Location and recorded in `deliveries`.
 */
import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, randomUUID, verify, type ECDH } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { closeServer, decodeJwt, json, listenOnLoopback, readBody } from './peer-http.js';

export interface PeerSubscription {
  /** The push endpoint on the peer. */
  endpoint: string;
  /** The browser-side public key (p256dh) and auth secret, URL-safe base64. */
  keys: { p256dh: string; auth: string };
}

export interface WebPushDelivery {
  endpoint: string;
  /** The decrypted payload as text, and parsed when it is JSON (else undefined). */
  plaintext: string;
  json: unknown;
  ttl: number;
  urgency: string | undefined;
  topic: string | undefined;
  /** The VAPID public key (k) and the verified JWT claims (aud, exp, sub). */
  vapid: { publicKey: string; claims: Record<string, unknown> };
  /** The id in the Location the peer answered with. */
  messageId: string;
}

/** How the peer answers pushes to one subscription. */
export type WebPushAnswer = 'gone' | 'not_found' | 'throttled' | 'too_large' | 'unavailable';

export interface WebPushPeer {
  origin: string;
  /** Pushes answered 201, in arrival order. */
  deliveries: WebPushDelivery[];
  /** Pushes refused by the checks (not the answers set with `answerFor`): status and reason. */
  refused: Array<{ status: number; reason: string }>;
  /**
   * A new subscription (endpoint + keys). With `applicationServerKey` (the VAPID public key the
   * browser subscribed with) pushes signed with any other key are refused 403.
   */
  createSubscription(options?: { applicationServerKey?: string }): PeerSubscription;
  /** Answers every later push to the subscription with `answer` (null: back to 201). */
  answerFor(subscription: PeerSubscription, answer: WebPushAnswer | null, retryAfterSeconds?: number): void;
  close(): Promise<void>;
}

const ANSWERS: Record<WebPushAnswer, number> = { gone: 410, not_found: 404, throttled: 429, too_large: 413, unavailable: 503 };
const MAX_BODY_BYTES = 4096;
const DAY_S = 24 * 3600;

interface SubscriptionState {
  ecdh: ECDH;
  auth: Buffer;
  applicationServerKey: string | undefined;
  answer: { answer: WebPushAnswer; retryAfterSeconds: number | undefined } | undefined;
}

/** Checks the VAPID header; returns the key and claims, or the status and reason to refuse with. */
function checkVapid(header: string | undefined, origin: string, applicationServerKey: string | undefined): { publicKey: string; claims: Record<string, unknown> } | { status: number; reason: string } {
  const match = /^vapid\s+(.*)$/i.exec(header ?? '');
  if (!match) return { status: 401, reason: 'no vapid Authorization header' };
  const params = new Map<string, string>();
  for (const part of match[1]!.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const token = params.get('t');
  const k = params.get('k');
  if (!token || !k) return { status: 401, reason: 'the vapid header needs t and k' };
  const point = Buffer.from(k, 'base64url');
  if (point.length !== 65 || point[0] !== 0x04) return { status: 401, reason: 'k is not an uncompressed P-256 point' };
  const jwt = decodeJwt(token);
  if (!jwt) return { status: 401, reason: 't is not a JWT' };
  if (jwt.header.alg !== 'ES256') return { status: 401, reason: `alg ${String(jwt.header.alg)} is not ES256` };
  const key = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
    format: 'jwk',
  });
  if (!verify('sha256', jwt.signingInput, { key, dsaEncoding: 'ieee-p1363' }, jwt.signature)) return { status: 401, reason: 'invalid VAPID JWT signature' };
  const { aud, exp, sub } = jwt.claims;
  if (aud !== origin) return { status: 401, reason: `aud ${String(aud)} is not the push service origin ${origin}` };
  const nowS = Date.now() / 1000;
  if (typeof exp !== 'number' || exp <= nowS) return { status: 401, reason: 'the VAPID JWT has expired' };
  if (exp > nowS + DAY_S) return { status: 401, reason: 'the VAPID JWT expires more than 24 hours ahead' };
  if (typeof sub !== 'string' || !/^(mailto:|https:)/.test(sub)) return { status: 401, reason: 'sub must be a mailto: or https: URL' };
  if (applicationServerKey && applicationServerKey !== k) return { status: 403, reason: 'the VAPID key is not the one the subscription was created for' };
  return { publicKey: k, claims: jwt.claims };
}

/** Decrypts an aes128gcm body (RFC 8188 framing, RFC 8291 keys) for the subscription's keys. */
export function decryptAes128gcm(body: Buffer, ecdh: ECDH, auth: Buffer): Buffer {
  if (body.length < 21) throw new Error('the body is shorter than the aes128gcm header');
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  if (rs < 18) throw new Error(`record size ${rs} is too small`);
  const senderPublic = body.subarray(21, 21 + idlen);
  if (senderPublic.length !== 65) throw new Error('the keyid is not the sender public key (65 bytes)');
  const receiverPublic = ecdh.getPublicKey();
  const ecdhSecret = ecdh.computeSecret(senderPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), receiverPublic, senderPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const baseNonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const ciphertext = body.subarray(21 + idlen);
  if (ciphertext.length === 0) throw new Error('no records');
  const plain: Buffer[] = [];
  const records = Math.ceil(ciphertext.length / rs);
  for (let i = 0; i < records; i++) {
    const record = ciphertext.subarray(i * rs, (i + 1) * rs);
    if (record.length <= 16) throw new Error(`record ${i} is too short`);
    const nonce = Buffer.from(baseNonce);
    nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ i) >>> 0, 8);
    const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(record.subarray(record.length - 16));
    const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
    let end = padded.length - 1;
    while (end >= 0 && padded[end] === 0) end--;
    const last = i === records - 1;
    if (end < 0 || padded[end] !== (last ? 2 : 1)) throw new Error(`record ${i} has no ${last ? 'final' : 'record'} delimiter`);
    plain.push(padded.subarray(0, end));
  }
  return Buffer.concat(plain);
}

export async function startWebPushPeer(): Promise<WebPushPeer> {
  const subscriptions = new Map<string, SubscriptionState>();

  function refuse(res: ServerResponse, status: number, reason: string): void {
    peer.refused.push({ status, reason });
    json(res, status, { error: reason });
  }

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const path = new URL(req.url ?? '/', 'http://peer').pathname;
      const id = /^\/push\/([\w-]+)$/.exec(path)?.[1];
      const state = id ? subscriptions.get(id) : undefined;
      if (req.method !== 'POST' || !id) return res.writeHead(404).end();
      if (!state) return refuse(res, 404, 'no such subscription');
      const vapid = checkVapid(req.headers.authorization, peer.origin, state.applicationServerKey);
      if ('status' in vapid) return refuse(res, vapid.status, vapid.reason);
      const ttlHeader = req.headers.ttl;
      if (typeof ttlHeader !== 'string' || !/^\d+$/.test(ttlHeader)) return refuse(res, 400, 'a TTL header is required');
      if (req.headers['content-encoding'] !== 'aes128gcm') return refuse(res, 415, `Content-Encoding ${String(req.headers['content-encoding'])} is not aes128gcm`);
      if (body.length > MAX_BODY_BYTES) return refuse(res, 413, `the body is ${body.length} bytes; at most ${MAX_BODY_BYTES}`);
      let plaintext: string;
      try {
        plaintext = decryptAes128gcm(body, state.ecdh, state.auth).toString('utf8');
      } catch (err) {
        return refuse(res, 400, `cannot decrypt: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (state.answer) {
        const { answer, retryAfterSeconds } = state.answer;
        const headers: Record<string, string> = retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) };
        return json(res, ANSWERS[answer], { error: answer }, headers);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(plaintext);
      } catch {
        parsed = undefined;
      }
      const messageId = randomUUID();
      peer.deliveries.push({
        endpoint: `${peer.origin}${path}`,
        plaintext,
        json: parsed,
        ttl: Number(ttlHeader),
        urgency: typeof req.headers.urgency === 'string' ? req.headers.urgency : undefined,
        topic: typeof req.headers.topic === 'string' ? req.headers.topic : undefined,
        vapid,
        messageId,
      });
      res.writeHead(201, { location: `${peer.origin}/message/${messageId}` }).end();
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });

  const origin = await listenOnLoopback(server);
  const idOf = (subscription: PeerSubscription): string => subscription.endpoint.slice(subscription.endpoint.lastIndexOf('/') + 1);
  const peer: WebPushPeer = {
    origin,
    deliveries: [],
    refused: [],
    createSubscription(options = {}) {
      const id = randomUUID();
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = randomBytes(16);
      subscriptions.set(id, { ecdh, auth, applicationServerKey: options.applicationServerKey, answer: undefined });
      return { endpoint: `${origin}/push/${id}`, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } };
    },
    answerFor(subscription, answer, retryAfterSeconds) {
      const state = subscriptions.get(idOf(subscription));
      if (!state) throw new Error(`not a subscription of this peer: ${subscription.endpoint}`);
      state.answer = answer === null ? undefined : { answer, retryAfterSeconds };
    },
    close: () => closeServer(server),
  };
  return peer;
}
