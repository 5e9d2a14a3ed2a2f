/** PostgreSQL error codes we translate into domain answers (same codes from pg and PGlite). */
const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';
const CHECK_VIOLATION = '23514';

export function pgErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function constraintName(err: unknown): string | undefined {
  const name = (err as { constraint?: unknown } | null)?.constraint;
  return typeof name === 'string' ? name : undefined;
}

export const isUniqueViolation = (err: unknown) => pgErrorCode(err) === UNIQUE_VIOLATION;
export const isForeignKeyViolation = (err: unknown) => pgErrorCode(err) === FOREIGN_KEY_VIOLATION;
export const isCheckViolation = (err: unknown) => pgErrorCode(err) === CHECK_VIOLATION;

/** Escapes LIKE / ILIKE wildcards so a user's "50%_off" is matched literally. */
export const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);
