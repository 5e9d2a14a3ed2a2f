import { hash, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'mh_session';

/** The value of one cookie from a Cookie header, or undefined (no dependency: one name, no decoding needed). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return value.length > 0 && value.length <= 256 ? value : undefined;
    }
  }
  return undefined;
}

/** The Set-Cookie value of a session cookie (no Max-Age: the server ends sessions; the browser drops it on close). */
export function sessionCookie(value: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}`;
}

/** The Set-Cookie value that removes the session cookie. */
export function clearedCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure ? '; Secure' : ''}`;
}

/** What the session table stores of a cookie value. */
export function sessionHash(value: string): string {
  return hash('sha256', `session:${value}`, 'hex');
}

/**
 * The session's CSRF token, derived from the cookie value (nothing more to store): a page that
 * can read it was served to the session's own browser; another site can neither read the cookie
 * nor compute this from it.
 */
export function csrfToken(value: string): string {
  return hash('sha256', `csrf:${value}`, 'base64url');
}

/** Constant-time comparison of a sent X-CSRF-Token with the session's. */
export function sameToken(sent: string | undefined, expected: string): boolean {
  if (sent === undefined) return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
