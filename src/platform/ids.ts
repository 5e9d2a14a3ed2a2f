import { randomBytes } from 'node:crypto';

// Crockford base32: no I, L, O, U, so ids survive being read aloud or typed.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A sortable, prefixed id such as `cmp_01JD3V8Q6X4M2W9ZK7T5R0B1CE`: 48 bits of milliseconds then
 * 80 random bits (the ULID layout), so new rows land at the right edge of the primary-key index
 * instead of splitting random pages, and the prefix says what the id is for in logs and tickets.
 */
export function newId(prefix: string, now: number = Date.now()): string {
  return `${prefix}_${encodeTime(now)}${encodeRandom(nextRandom(now))}`;
}

// Monotonic within a millisecond (the ULID spec's way): ids made in the same millisecond by this
// process continue from the previous random part + 1 instead of drawing a new one, so "newest
// first" lists, which break time ties by id, show them in the order they were made.
let lastTime = -1;
let lastRandom = Buffer.alloc(10);

function nextRandom(now: number): Buffer {
  if (now > lastTime) {
    lastTime = now;
    lastRandom = randomBytes(10);
    return lastRandom;
  }
  const next = Buffer.from(lastRandom);
  for (let i = next.length - 1; i >= 0; i--) {
    next[i] = (next[i]! + 1) & 0xff;
    if (next[i] !== 0) break;
  }
  lastRandom = next;
  return next;
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
