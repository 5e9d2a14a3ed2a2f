import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { postgresUrl, testDatabase, testDbKind } from '../../test/helpers/database.js';
import { createScratchDatabase } from '../../test/helpers/postgres-admin.js';
import { openPglite, openPostgres } from './client.js';
import { migrate, readMigrations } from './migrate.js';

describe('migrations', () => {
  it('are numbered, readable files applied in order', () => {
    const migrations = readMigrations();
    expect(migrations.length).toBeGreaterThanOrEqual(3);
    // Strictly increasing and unique; not necessarily contiguous, since work in progress on
    // parallel branches reserves its numbers (0011_app_rate_limits landed before 0009 and 0010).
    const versions = migrations.map((m) => m.version);
    expect(versions[0]).toBe(1);
    expect(versions).toEqual([...new Set(versions)].sort((a, b) => a - b));
    for (const m of migrations) expect(m.name).toMatch(/^\d{4}_[a-z0-9_]+$/);
  });

  it('applied twice are a no-op', async () => {
    const handle = await testDatabase();
    const again = await migrate(handle);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toBe(readMigrations().length);
    const rows = await sql<{ n: number }>`select count(*)::int as n from schema_migration`.execute(handle.db);
    expect(rows.rows[0]?.n).toBe(readMigrations().length);
  });

  it('refuse to run when an applied migration file was edited', async () => {
    const handle = await testDatabase();
    const edited = readMigrations().map((m, i) => (i === 0 ? { ...m, sql: `${m.sql}\n-- edited`, checksum: 'changed' } : m));
    await expect(migrate(handle, edited)).rejects.toThrow(/was changed after it was applied/);
  });

  it('roll back a failing migration entirely', async () => {
    const handle = await openPglite(null);
    try {
      const broken = [
        ...readMigrations(),
        { version: 999, name: '0999_broken', sql: 'create table half_done (id int); select no_such_function();', checksum: 'x' },
      ];
      await expect(migrate(handle, broken)).rejects.toThrow();
      const table = await sql<{ n: number }>`select count(*)::int as n from pg_tables where tablename = 'half_done'`.execute(handle.db);
      expect(table.rows[0]?.n).toBe(0);
      const recorded = await sql<{ n: number }>`select count(*)::int as n from schema_migration where version = 999`.execute(handle.db);
      expect(recorded.rows[0]?.n).toBe(0);
    } finally {
      await handle.close();
    }
  });

  it.runIf(testDbKind() === 'postgres')('several processes migrating one fresh database at once apply each migration once', async () => {
    const scratch = await createScratchDatabase(postgresUrl(), 'migrate');
    const handles = await Promise.all(Array.from({ length: 6 }, () => openPostgres(scratch.url, 2)));
    try {
      const results = await Promise.all(handles.map((h) => migrate(h)));
      const applied = results.flatMap((r) => r.applied);
      expect(applied.sort()).toEqual(readMigrations().map((m) => m.name).sort());
      const rows = await sql<{ n: number }>`select count(*)::int as n from schema_migration`.execute(handles[0]!.db);
      expect(rows.rows[0]?.n).toBe(readMigrations().length);
    } finally {
      await Promise.all(handles.map((h) => h.close()));
      await scratch.drop();
    }
  });
});
