import { inject } from 'vitest';
import { type DatabaseHandle, openPglite, openPostgres } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';

export type TestDbKind = 'pglite' | 'postgres';

export const testDbKind = (): TestDbKind => (process.env.MH_TEST_DB === 'postgres' ? 'postgres' : 'pglite');

let shared: Promise<DatabaseHandle> | undefined;

/**
 * The database of this test worker: an in-memory PGlite, or a pool on the run's PostgreSQL
 * database. Opened and migrated once per worker, shared by every test file it runs.
 */
export function testDatabase(): Promise<DatabaseHandle> {
  shared ??= (async () => {
    const handle = testDbKind() === 'postgres' ? await openPostgres(inject('postgresUrl'), 10) : await openPglite(null);
    await migrate(handle);
    return handle;
  })();
  return shared;
}

/** The PostgreSQL URL of this run (postgres project only). */
export const postgresUrl = (): string => inject('postgresUrl');
