import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  createSign,
  createVerify,
  randomBytes,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { paymentErrors } from './payment.errors.js';

/**
 * WeChat Pay API v3 cryptography with node:crypto only: request signatures (merchant key),
 * answer and callback signatures (platform key), AEAD_AES_256_GCM resources, the JSAPI paySign.
 * Shared by the real provider, the sandbox and the local test peer, so all three run the same code.
 */

export const SIGNATURE_SCHEME = 'WECHATPAY2-SHA256-RSA2048';
/** Callbacks and answers older (or newer) than this are refused. */
export const MAX_CLOCK_SKEW_SECONDS = 300;

export function privateKey(pem: string): KeyObject {
  return createPrivateKey(pem);
}

/** A public key from a PEM public key or an X.509 certificate (WeChat's platform certificates). */
export function publicKey(pem: string): KeyObject {
  if (pem.includes('BEGIN CERTIFICATE')) return new X509Certificate(pem).publicKey;
  return createPublicKey(pem);
}

/** Base64 SHA256-with-RSA (PKCS#1 v1.5) signature of `message`. */
export function rsaSign(key: KeyObject | string, message: string): string {
  return createSign('RSA-SHA256').update(message, 'utf8').sign(key, 'base64');
}

export function rsaVerify(key: KeyObject | string, message: string, signatureBase64: string): boolean {
  try {
    return createVerify('RSA-SHA256').update(message, 'utf8').verify(key, signatureBase64, 'base64');
  } catch {
    return false;
  }
}

/** 32 random characters [0-9A-Z], the kind of nonce WeChat uses. */
export function nonceStr(): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const bytes = randomBytes(32);
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}

/** The string a request signature covers: METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n (URL = path + query). */
export function requestMessage(method: string, urlPath: string, timestamp: string, nonce: string, body: string): string {
  return `${method.toUpperCase()}\n${urlPath}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** The string an answer or callback signature covers: TIMESTAMP\nNONCE\nBODY\n. */
export function responseMessage(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

export interface MerchantSigner {
  mchid: string;
  serial_no: string;
  key: KeyObject;
}

/** The Authorization header of a merchant request. */
export function authorizationHeader(
  signer: MerchantSigner,
  method: string,
  urlPath: string,
  body: string,
  timestamp: string = String(Math.floor(Date.now() / 1000)),
  nonce: string = nonceStr(),
): string {
  const signature = rsaSign(signer.key, requestMessage(method, urlPath, timestamp, nonce, body));
  return `${SIGNATURE_SCHEME} mchid="${signer.mchid}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${signer.serial_no}"`;
}

export interface ParsedAuthorization {
  mchid: string;
  nonce_str: string;
  signature: string;
  timestamp: string;
  serial_no: string;
}

/** Parses an Authorization header (the peer's side); null when it is not a v3 signature. */
export function parseAuthorization(header: string | undefined): ParsedAuthorization | null {
  if (!header || !header.startsWith(`${SIGNATURE_SCHEME} `)) return null;
  const fields: Record<string, string> = {};
  for (const m of header.slice(SIGNATURE_SCHEME.length + 1).matchAll(/(\w+)="([^"]*)"/g)) fields[m[1]!] = m[2]!;
  const { mchid, nonce_str, signature, timestamp, serial_no } = fields;
  if (!mchid || !nonce_str || !signature || !timestamp || !serial_no) return null;
  return { mchid, nonce_str, signature, timestamp, serial_no };
}

/** The Wechatpay-* headers of a signed answer or callback. */
export function platformHeaders(
  platform: { serial_no: string; key: KeyObject },
  body: string,
  timestamp: string = String(Math.floor(Date.now() / 1000)),
  nonce: string = nonceStr(),
): Record<string, string> {
  return {
    'wechatpay-timestamp': timestamp,
    'wechatpay-nonce': nonce,
    'wechatpay-serial': platform.serial_no,
    'wechatpay-signature': rsaSign(platform.key, responseMessage(timestamp, nonce, body)),
    'wechatpay-signature-type': SIGNATURE_SCHEME,
  };
}

function header(headers: Record<string, string | undefined>, name: string): string | undefined {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/**
 * Verifies the Wechatpay-* headers of an answer or callback over the exact body: the serial picks
 * the certificate, the timestamp is within 5 minutes of `nowMs`, the signature verifies.
 * Throws payment_certificate_unknown, payment_timestamp_stale or payment_signature_invalid.
 */
export function verifyPlatformSignature(
  certificates: ReadonlyMap<string, KeyObject>,
  headers: Record<string, string | undefined>,
  body: string,
  nowMs: number,
): void {
  const serial = header(headers, 'wechatpay-serial');
  const timestamp = header(headers, 'wechatpay-timestamp');
  const nonce = header(headers, 'wechatpay-nonce');
  const signature = header(headers, 'wechatpay-signature');
  const type = header(headers, 'wechatpay-signature-type');
  const key = serial === undefined ? undefined : certificates.get(serial);
  if (!key) throw paymentErrors.certificateUnknown(serial);
  const nowSeconds = Math.floor(nowMs / 1000);
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > MAX_CLOCK_SKEW_SECONDS) {
    throw paymentErrors.timestampStale(timestamp, nowSeconds);
  }
  if (type !== undefined && type !== SIGNATURE_SCHEME) {
    throw paymentErrors.signatureInvalid(`Unsupported signature type ${type}`);
  }
  if (!nonce || !signature || !rsaVerify(key, responseMessage(timestamp, nonce, body), signature)) {
    throw paymentErrors.signatureInvalid();
  }
}

export interface EncryptedResource {
  algorithm: 'AEAD_AES_256_GCM';
  ciphertext: string;
  associated_data: string;
  nonce: string;
  original_type: string;
}

function aesKey(apiv3Key: string): Buffer {
  const key = Buffer.from(apiv3Key, 'utf8');
  if (key.length !== 32) throw new Error('The APIv3 key must be 32 bytes');
  return key;
}

/** AEAD_AES_256_GCM under the APIv3 key; ciphertext = base64(encrypted || 16-byte tag). */
export function encryptResource(apiv3Key: string, plaintext: string, associatedData: string, originalType: string, nonce = nonceStr().slice(0, 12)): EncryptedResource {
  const cipher = createCipheriv('aes-256-gcm', aesKey(apiv3Key), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const encrypted = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { algorithm: 'AEAD_AES_256_GCM', ciphertext: encrypted.toString('base64'), associated_data: associatedData, nonce, original_type: originalType };
}

/** Decrypts a callback resource; throws payment_body_invalid when it does not authenticate. */
export function decryptResource(apiv3Key: string, resource: { ciphertext: string; associated_data?: string; nonce: string }): string {
  const data = Buffer.from(resource.ciphertext, 'base64');
  if (data.length <= 16) throw paymentErrors.bodyInvalid('The notice resource is too short');
  try {
    const decipher = createDecipheriv('aes-256-gcm', aesKey(apiv3Key), Buffer.from(resource.nonce, 'utf8'));
    decipher.setAAD(Buffer.from(resource.associated_data ?? '', 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - 16));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    throw paymentErrors.bodyInvalid('The notice resource does not decrypt (tampered or wrong APIv3 key)');
  }
}

/** The JSAPI parameters for getBrandWCPayRequest, paySign over appId\ntimeStamp\nnonceStr\npackage\n. */
export function jsapiParams(appid: string, prepayId: string, key: KeyObject, timestamp: string = String(Math.floor(Date.now() / 1000)), nonce: string = nonceStr()): Record<string, string> {
  const pkg = `prepay_id=${prepayId}`;
  return {
    appId: appid,
    timeStamp: timestamp,
    nonceStr: nonce,
    package: pkg,
    signType: 'RSA',
    paySign: rsaSign(key, `${appid}\n${timestamp}\n${nonce}\n${pkg}\n`),
  };
}

/** Verifies a JSAPI paySign with the merchant's public key (what WeChat's client does). */
export function verifyJsapiParams(params: Record<string, string>, merchantPublicKey: KeyObject | string): boolean {
  const { appId, timeStamp, nonceStr: nonce, package: pkg, paySign } = params;
  if (!appId || !timeStamp || !nonce || !pkg || !paySign) return false;
  return rsaVerify(merchantPublicKey, `${appId}\n${timeStamp}\n${nonce}\n${pkg}\n`, paySign);
}
