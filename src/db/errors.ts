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

/**
 * The database is away, not the request at fault: it could not be reached (marked by
 * openPostgres on a failed connect), ended the session (class 08, 57P01-57P03: shut down,
 * crashed, starting up), has no connection left (53300), or the connection broke mid-request
 * (its socket reset, or pg's own errors, which carry no code, only these messages).
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if ((err as { databaseUnavailable?: unknown } | null)?.databaseUnavailable === true) return true;
  // The server process gone mid-query (a crash or an immediate shutdown): its socket reset.
  const socket = err as { code?: unknown; syscall?: unknown } | null;
  if ((socket?.code === 'ECONNRESET' || socket?.code === 'EPIPE') && (socket.syscall === 'read' || socket.syscall === 'write')) return true;
  const code = pgErrorCode(err);
  if (code) return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300';
  const message = err instanceof Error ? err.message : '';
  return /^Connection terminated|not queryable|^Client was closed/.test(message);
}

/** PostgreSQL (or PGlite) could not write: its disk is full (53100 disk_full). */
export const isDiskFull = (err: unknown) => pgErrorCode(err) === '53100';

export const isUniqueViolation = (err: unknown) => pgErrorCode(err) === UNIQUE_VIOLATION;
export const isForeignKeyViolation = (err: unknown) => pgErrorCode(err) === FOREIGN_KEY_VIOLATION;
export const isCheckViolation = (err: unknown) => pgErrorCode(err) === CHECK_VIOLATION;

/** Escapes LIKE / ILIKE wildcards so a user's "50%_off" is matched literally. */
export const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);
