import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { postgresInstanceUnavailable, startPostgresInstance } from './support/postgres-instance.js';

const unavailable = postgresInstanceUnavailable();

describe.skipIf(unavailable)(`a private PostgreSQL for fault tests${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('starts, survives a crash restart with committed rows, and is removed', async () => {
    const server = await startPostgresInstance();
    try {
      const query = async (sql: string) => {
        const client = new pg.Client({ connectionString: server.url });
        await client.connect();
        try {
          return (await client.query(sql)).rows;
        } finally {
          await client.end();
        }
      };
      await query('create table t (n int); insert into t values (1), (2)');
      await server.restart('immediate');
      expect(await query('select count(*)::int as n from t')).toEqual([{ n: 2 }]);
    } finally {
      await server.destroy();
    }
  });
});
