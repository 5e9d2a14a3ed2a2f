import { MarketingError } from './errors.js';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** base64url to text (UTF-8), without atob, Buffer or TextDecoder (not in every mini-program base library). */
function decodeBase64Url(input: string): string {
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of input.replace(/=+$/, '')) {
    const v = B64.indexOf(ch === '+' ? '-' : ch === '/' ? '_' : ch);
    if (v === -1) throw new Error('not base64url');
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >> bits) & 0xff);
    }
  }
  return decodeURIComponent(bytes.map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''));
}

/**
 * The user id (`sub`) of an end-user token. Read, not verified: the service verifies the token;
 * the SDK only needs the id for the paths and bodies that name the user.
 */
export function userIdOfToken(token: string): string {
  try {
    const payload = JSON.parse(decodeBase64Url(token.split('.')[1] ?? '')) as { sub?: unknown };
    if (typeof payload.sub === 'string' && payload.sub !== '') return payload.sub;
  } catch {
    // fall through
  }
  throw new MarketingError({ status: 0, code: 'user_token_invalid', message: 'The user token is not a JWT with a sub claim' });
}
