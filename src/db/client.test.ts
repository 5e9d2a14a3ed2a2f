import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { postgresUrl, testDbKind } from '../../test/helpers/database.js';
import { openPostgres } from './client.js';
import { isDatabaseUnavailable } from './errors.js';

describe.runIf(testDbKind() === 'postgres')('PostgreSQL connections', () => {
  const preparedOnOneConnection = async (preparedStatements: boolean) => {
    const handle = await openPostgres(postgresUrl(), 1, { preparedStatements });
    try {
      return await handle.db.connection().execute(async (conn) => {
        for (let i = 0; i < 3; i++) await sql`select ${i}::int + 1 as n`.execute(conn);
        const r = await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements where statement like ${'%::int + 1%'}`.execute(conn);
        return r.rows[0]!.n;
      });
    } finally {
      await handle.close();
    }
  };

  it('prepare each parameterised statement once per connection', async () => {
    expect(await preparedOnOneConnection(true)).toBe(1);
  });

  it('leave set-based statements over small arrays unnamed, so each is planned for its own arrays', async () => {
    const handle = await openPostgres(postgresUrl(), 1);
    try {
      const named = await handle.db.connection().execute(async (conn) => {
        const count = async (size: number) =>
          (await sql<{ n: number }>`select count(*)::int as n from unnest(${Array.from({ length: size }, (_, k) => `x${k}`)}::text[]) as v(x)`.execute(conn)).rows[0]!.n;
        const prepared = async () =>
          (await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements where statement like ${'%unnest(%'}`.execute(conn)).rows[0]!.n;
        // More than five runs: a named statement could have switched to a generic plan by now.
        for (let i = 1; i <= 7; i++) expect(await count(i * 10)).toBe(i * 10);
        const afterSmall = await prepared();
        // A large batch keeps its cached plan.
        expect(await count(500)).toBe(500);
        return { afterSmall, afterLarge: await prepared() };
      });
      expect(named).toEqual({ afterSmall: 0, afterLarge: 1 });
    } finally {
      await handle.close();
    }
  });

  it('can run without named statements (for poolers in transaction mode)', async () => {
    expect(await preparedOnOneConnection(false)).toBe(0);
  });

  it('survive the server ending a checked-out connection (a restart of PostgreSQL), and replace it', async () => {
    const handle = await openPostgres(postgresUrl(), 1);
    const admin = await openPostgres(postgresUrl(), 1);
    try {
      const err = await handle.db.connection().execute(async (conn) => {
        const pid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(conn)).rows[0]!.pid;
        await sql`select pg_terminate_backend(${pid})`.execute(admin.db);
        // The server's goodbye (57P01) arrives while this connection runs no query: without a
        // listener of ours, its 'error' event would end the process.
        await new Promise((r) => setTimeout(r, 300));
        return sql`select 1`.execute(conn).then(() => null, (e: unknown) => e);
      });
      expect(isDatabaseUnavailable(err)).toBe(true);
      // The pool dropped the broken connection and opened another.
      expect((await sql<{ n: number }>`select 1 as n`.execute(handle.db)).rows).toEqual([{ n: 1 }]);
    } finally {
      await handle.close();
      await admin.close();
    }
  });

  it('return int8 as numbers, as PGlite does', async () => {
    const handle = await openPostgres(postgresUrl(), 1);
    try {
      const r = await sql<{ n: number }>`select ${5}::int8 * 2 as n`.execute(handle.db);
      expect(r.rows[0]!.n).toBe(10);
    } finally {
      await handle.close();
    }
  });
});
