import type { KeyObject } from 'node:crypto';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { clientErrors } from './client-access.errors.js';

/** A verification key of one app, as the cache keeps it. */
export interface TokenKeyMaterial {
  alg: 'HS256' | 'EdDSA';
  /** HS256: the UTF-8 bytes of the generated secret; EdDSA: the Ed25519 public key. */
  key: Uint8Array | KeyObject;
}

export interface TokenRules {
  /** Seconds of clock difference tolerated on exp, nbf and iat. */
  skewSeconds: number;
  /** The longest lifetime a token may claim (exp - iat, and exp - now). */
  maxLifetimeSeconds: number;
}

export interface EndUser {
  userId: string;
  /** The token's product_codes claim, or null when it has none (then: the key's app). */
  productCodes: readonly string[] | null;
}

// A user id as the routes accept them: printable, no control characters, at most 128.
const validSubject = (sub: string) => sub.length >= 1 && sub.length <= 128 && !/\p{Cc}/u.test(sub);
const KID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Verifies an end-user JWT with jose: the header's `kid` picks the key (`keyFor`, undefined when
 * the app has no active key of that id), its alg must be the key's, the signature must hold, `exp`
 * is required and not past (with skew), the lifetime at most `maxLifetimeSeconds`, `sub` a user id.
 * Throws user_token_invalid (details.reason) or user_token_expired.
 */
export async function verifyUserToken(
  token: string,
  keyFor: (kid: string) => Promise<TokenKeyMaterial | undefined>,
  rules: TokenRules,
  now: Date,
): Promise<EndUser> {
  let header: { kid?: unknown; alg?: unknown };
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw clientErrors.userTokenInvalid('malformed');
  }
  if (typeof header.kid !== 'string' || !KID.test(header.kid)) throw clientErrors.userTokenInvalid('kid_missing');
  const material = await keyFor(header.kid);
  if (!material) throw clientErrors.userTokenInvalid('unknown_kid');
  if (header.alg !== material.alg) throw clientErrors.userTokenInvalid('wrong_alg');

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, material.key, {
      algorithms: [material.alg],
      requiredClaims: ['exp', 'sub'],
      clockTolerance: rules.skewSeconds,
      currentDate: now,
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw clientErrors.userTokenExpired();
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw clientErrors.userTokenInvalid('signature');
    if (err instanceof joseErrors.JWTClaimValidationFailed) throw clientErrors.userTokenInvalid('claims', { claim: err.claim });
    throw clientErrors.userTokenInvalid('malformed');
  }

  const nowSeconds = Math.floor(now.getTime() / 1000);
  const exp = payload.exp!;
  if (exp - nowSeconds > rules.maxLifetimeSeconds + rules.skewSeconds) throw clientErrors.userTokenInvalid('lifetime_too_long');
  if (payload.iat !== undefined) {
    if (payload.iat > nowSeconds + rules.skewSeconds) throw clientErrors.userTokenInvalid('issued_in_future');
    if (exp - payload.iat > rules.maxLifetimeSeconds) throw clientErrors.userTokenInvalid('lifetime_too_long');
  }
  const sub = payload.sub!;
  if (!validSubject(sub)) throw clientErrors.userTokenInvalid('claims', { claim: 'sub' });
  const claimed = (payload as { product_codes?: unknown }).product_codes;
  if (claimed !== undefined && (!Array.isArray(claimed) || claimed.length > 100 || !claimed.every((c) => typeof c === 'string'))) {
    throw clientErrors.userTokenInvalid('claims', { claim: 'product_codes' });
  }
  return { userId: sub, productCodes: claimed === undefined ? null : (claimed as string[]) };
}
