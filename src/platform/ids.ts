import { randomBytes } from 'node:crypto';

// Crockford base32: no I, L, O, U, so ids survive being read aloud or typed.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A sortable, prefixed id such as `cmp_01JD3V8Q6X4M2W9ZK7T5R0B1CE`: 48 bits of milliseconds then
 * 80 random bits (the ULID layout), so new rows land at the right edge of the primary-key index
 * instead of splitting random pages, and the prefix says what the id is for in logs and tickets.
 */
export function newId(prefix: string, now: number = Date.now()): string {
  return `${prefix}_${encodeTime(now)}${encodeRandom(randomBytes(10))}`;
}

function encodeTime(ms: number): string {
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function encodeRandom(bytes: Buffer): string {
  // 80 bits -> 16 base32 characters, 5 bits at a time.
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

/** A random token of `bytes` bytes in URL-safe base64 (no padding), for secrets. */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}
