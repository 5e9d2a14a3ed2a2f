import { SignJWT } from 'jose';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';

/** What a tenant's backend does: mint a user token for `sub` with jose (HS256 secret or Ed25519 private key). */
export async function mintUserToken(
  signer: { kid: string; secret: string } | { kid: string; privateKey: KeyObject },
  sub: string,
  options: { expiresInSeconds?: number; issuedAt?: number; productCodes?: string[]; noExp?: boolean } = {},
): Promise<string> {
  const now = options.issuedAt ?? Math.floor(Date.now() / 1000);
  const alg = 'secret' in signer ? 'HS256' : 'EdDSA';
  let jwt = new SignJWT(options.productCodes ? { product_codes: options.productCodes } : {})
    .setProtectedHeader({ alg, kid: signer.kid })
    .setSubject(sub)
    .setIssuedAt(now);
  if (!options.noExp) jwt = jwt.setExpirationTime(now + (options.expiresInSeconds ?? 600));
  return jwt.sign('secret' in signer ? new TextEncoder().encode(signer.secret) : signer.privateKey);
}

/** A fresh Ed25519 key pair: the public key as SPKI PEM (what the tenant registers). */
export function ed25519Pair(): { publicKeyPem: string; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey };
}
