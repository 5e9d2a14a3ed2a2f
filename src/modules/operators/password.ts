import { hash, verify } from '@node-rs/argon2';

/** Shortest accepted password. */
export const MIN_PASSWORD_LENGTH = 10;
/** Longest accepted password (argon2 takes any length; this bounds the work one request can ask for). */
export const MAX_PASSWORD_LENGTH = 256;

/**
 * argon2id (@node-rs/argon2, prebuilt binaries) with the OWASP-recommended minimum: 19 MiB of
 * memory, 2 passes, 1 lane. One hash takes some tens of milliseconds on one core, off the event
 * loop (the library runs it on libuv's thread pool). The parameters are in each stored PHC string,
 * so raising them later still verifies older hashes.
 */
const OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

// Verified against when the e-mail is unknown, so that answer takes as long as a wrong password.
let dummy: Promise<string> | undefined;

/** Whether `password` matches `stored`; with `stored` null, spends the same time and answers false. */
export async function verifyPassword(stored: string | null, password: string): Promise<boolean> {
  if (stored === null) {
    dummy ??= hashPassword('not-a-password-of-anyone');
    await verify(await dummy, password).catch(() => false);
    return false;
  }
  return verify(stored, password).catch(() => false);
}
