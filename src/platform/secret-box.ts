import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Credentials the service must use but never show again (an SMS provider's secret, an SMTP
 * password, a push service account) are sealed with AES-256-GCM before they are stored: a dump of
 * the database alone does not reveal them. Sealed text is `v1.<iv>.<tag>.<ciphertext>`, base64url.
 */
export interface SecretBox {
  seal(value: unknown): string;
  open<T = unknown>(sealed: string): T;
}

const VERSION = 'v1';

/** A 32-byte key from any secret text (a base64 key of 32 bytes is used as is). */
export function keyFrom(secret: string): Buffer {
  const decoded = Buffer.from(secret, 'base64');
  if (decoded.length === 32 && /^[A-Za-z0-9+/_-]{43}=?$/.test(secret)) return decoded;
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error('secret box key must be 32 bytes');
  return {
    seal(value) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
      return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
    },
    open<T>(sealed: string): T {
      const [version, iv, tag, body] = sealed.split('.');
      if (version !== VERSION || !iv || !tag || body === undefined) throw new Error('not a sealed secret');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const text = Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
      return JSON.parse(text) as T;
    },
  };
}

/**
 * The service's sealing key: MARKETING_SECRET_KEY when set (every host of one deployment must set
 * the same), else a random key kept in `<data dir>/secret.key` (created on first use, mode 0600),
 * which suits one host with the embedded database.
 */
export function loadSecretKey(env: Record<string, string | undefined>, dataDir: string): Buffer {
  if (env.MARKETING_SECRET_KEY) return keyFrom(env.MARKETING_SECRET_KEY);
  const file = `${dataDir}/secret.key`;
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    try {
      writeFileSync(file, randomBytes(32).toString('base64'), { flag: 'wx', mode: 0o600 });
    } catch (err) {
      // Another process created it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  } else {
    chmodSync(file, 0o600);
  }
  return keyFrom(readFileSync(file, 'utf8').trim());
}
