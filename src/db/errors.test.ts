import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { toAppError } from '../app/error-handler.js';
import { openPostgres } from './client.js';
import { isDatabaseUnavailable, isDiskFull } from './errors.js';

/** An error as pg and PGlite make them: a message and a five-character SQLSTATE. */
const pgError = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('database errors that are not the request at fault', () => {
  it('the server away, shut down, starting or out of connections is database_unavailable, answered 503', () => {
    const away = [
      pgError('57P01', 'terminating connection due to administrator command'),
      pgError('57P02', 'terminating connection because of crash of another server process'),
      pgError('57P03', 'the database system is starting up'),
      pgError('08006', 'connection failure'),
      pgError('53300', 'sorry, too many clients already'),
      new Error('Connection terminated unexpectedly'),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' }),
      new Error('Client has encountered a connection error and is not queryable'),
    ];
    for (const err of away) {
      expect(isDatabaseUnavailable(err), err.message).toBe(true);
      expect(toAppError(err)).toMatchObject({ status: 503, code: 'database_unavailable' });
    }
  });

  it('a full disk is database_disk_full, answered 503', () => {
    const err = pgError('53100', 'could not extend file: No space left on device');
    expect(isDiskFull(err)).toBe(true);
    expect(toAppError(err)).toMatchObject({ status: 503, code: 'database_disk_full' });
  });

  it('other failures stay what they were', () => {
    expect(isDatabaseUnavailable(pgError('23505'))).toBe(false);
    expect(isDatabaseUnavailable(new Error('boom'))).toBe(false);
    expect(isDatabaseUnavailable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(toAppError(new Error('boom'))).toMatchObject({ status: 500, code: 'internal_error' });
  });

  it('a PostgreSQL that refuses connections is database_unavailable (the pool marks its connect failures)', async () => {
    // Port 1 on the loopback: nothing listens, the connect is refused at once.
    const handle = await openPostgres('postgres://postgres@127.0.0.1:1/none', 1);
    try {
      const err = await sql`select 1`.execute(handle.db).then(() => null, (e: unknown) => e);
      expect((err as { code?: string }).code).toBe('ECONNREFUSED');
      expect(toAppError(err)).toMatchObject({ status: 503, code: 'database_unavailable' });
    } finally {
      await handle.close();
    }
  });
});
