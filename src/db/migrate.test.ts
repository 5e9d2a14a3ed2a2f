import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { postgresUrl, testDatabase, testDbKind } from '../../test/helpers/database.js';
import { createScratchDatabase } from '../../test/helpers/postgres-admin.js';
import { openPglite, openPostgres } from './client.js';
import { type DatabaseFunction, migrate, readFunctions, readMigrations } from './migrate.js';

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
    expect(again.functions).toEqual([]);
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
      // The function files too: each applied by exactly one of the processes.
      const functions = results.flatMap((r) => r.functions);
      expect(functions.sort()).toEqual(readFunctions().map((f) => f.name).sort());
      const recorded = await sql<{ n: number }>`select count(*)::int as n from schema_function`.execute(handles[0]!.db);
      expect(recorded.rows[0]?.n).toBe(readFunctions().length);
    } finally {
      await Promise.all(handles.map((h) => h.close()));
      await scratch.drop();
    }
  });
});

/** The text between a function file's dollar quotes: what PostgreSQL keeps as the body (prosrc). */
function bodyOf(fn: DatabaseFunction): string {
  const start = fn.sql.indexOf('$$');
  const end = fn.sql.lastIndexOf('$$');
  return fn.sql.slice(start + 2, end);
}

/** A directory laid out like src/modules, with one function file per entry of `files`. */
function functionTree(files: Record<string, string>): { dir: string; write: (file: string, text: string) => void; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mh-functions-'));
  const write = (file: string, text: string) => {
    const path = join(dir, file);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
  };
  for (const [file, text] of Object.entries(files)) write(file, text);
  return { dir, write, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('database functions', () => {
  it('have one file each beside their module, named after the function they create', () => {
    const functions = readFunctions();
    expect(functions.map((f) => f.name)).toEqual([
      'mh_grant_set',
      'mh_ledger_credit_set',
      'mh_redeem_batch',
      'mh_return_stock',
      'mh_stamp_actor',
      'mh_take_stock',
      'mh_task_progress',
    ]);
    for (const fn of functions) {
      expect(fn.file).toMatch(/^[a-z0-9-]+\/sql\/mh_[a-z_]+\.sql$/);
      const creates = [...fn.sql.matchAll(/create or replace function (\w+)\s*\(/gi)].map((m) => m[1]);
      expect(creates).toEqual([fn.name]);
      // Name order is only safe while no function is checked at creation (language sql would be).
      expect(fn.sql).toMatch(/language plpgsql as \$\$/);
    }
  });

  it('are, after migrate, exactly what their files say', async () => {
    const handle = await testDatabase();
    const recorded = await sql<{ name: string; checksum: string }>`select name, checksum from schema_function`.execute(handle.db);
    const checksums = new Map(recorded.rows.map((r) => [r.name, r.checksum]));
    for (const fn of readFunctions()) {
      expect(checksums.get(fn.name), fn.name).toBe(fn.checksum);
      const live = await sql<{ prosrc: string }>`
        select p.prosrc from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where p.proname = ${fn.name} and n.nspname = current_schema()`.execute(handle.db);
      expect(live.rows, fn.name).toHaveLength(1);
      expect(live.rows[0]!.prosrc, fn.name).toBe(bodyOf(fn));
    }
  });

  it('are applied again when their file changes, and only then', async () => {
    const handle = await testDatabase();
    // A probe of this test's own, unique per run, so the shared database's real functions and
    // other workers (PostgreSQL runs share one database) are not disturbed.
    const name = `mh_test_probe_${process.pid}_${Date.now()}`;
    const probe = (answer: number) => `-- A test's probe.\ncreate or replace function ${name}() returns int\nlanguage plpgsql as $$ begin return ${answer}; end $$;\n`;
    const tree = functionTree({ [`probe/sql/${name}.sql`]: probe(1) });
    const all = () => [...readFunctions(), ...readFunctions(tree.dir)];
    const answer = async () => (await sql<{ n: number }>`select ${sql.raw(name)}() as n`.execute(handle.db)).rows[0]?.n;
    try {
      expect((await migrate(handle, readMigrations(), all())).functions).toEqual([name]);
      expect(await answer()).toBe(1);
      expect((await migrate(handle, readMigrations(), all())).functions).toEqual([]);

      tree.write(`probe/sql/${name}.sql`, probe(2));
      const changed = await migrate(handle, readMigrations(), all());
      expect(changed.functions).toEqual([name]);
      expect(await answer()).toBe(2);
      expect((await migrate(handle, readMigrations(), all())).functions).toEqual([]);
      const recorded = await sql<{ checksum: string }>`select checksum from schema_function where name = ${name}`.execute(handle.db);
      expect(recorded.rows).toEqual([{ checksum: readFunctions(tree.dir)[0]!.checksum }]);
    } finally {
      tree.remove();
      await sql`drop function if exists ${sql.raw(name)}()`.execute(handle.db);
      await sql`delete from schema_function where name = ${name}`.execute(handle.db);
    }
  });

  it('roll back a function file that fails, and leave it unrecorded', async () => {
    const handle = await testDatabase();
    const name = `mh_test_broken_${process.pid}_${Date.now()}`;
    const tree = functionTree({
      [`probe/sql/${name}.sql`]: `create table ${name}_half (id int);\ncreate or replace function ${name}() returns int language sql as $$ select no_such_column from no_such_table $$;\n`,
    });
    try {
      await expect(migrate(handle, readMigrations(), [...readFunctions(), ...readFunctions(tree.dir)])).rejects.toThrow();
      const table = await sql<{ n: number }>`select count(*)::int as n from pg_tables where tablename = ${`${name}_half`}`.execute(handle.db);
      expect(table.rows[0]?.n).toBe(0);
      const recorded = await sql<{ n: number }>`select count(*)::int as n from schema_function where name = ${name}`.execute(handle.db);
      expect(recorded.rows[0]?.n).toBe(0);
    } finally {
      tree.remove();
    }
  });

  it('are read from every module in name order, and one name in two files is an error', () => {
    const tree = functionTree({
      'zeta/sql/mh_a.sql': 'create or replace function mh_a() returns int language plpgsql as $$ begin return 1; end $$;',
      'alpha/sql/mh_b.sql': 'create or replace function mh_b() returns int language plpgsql as $$ begin return 1; end $$;',
      'alpha/not-sql.ts': '',
      'beta/other.sql': '',
    });
    try {
      expect(readFunctions(tree.dir).map((f) => [f.name, f.file])).toEqual([
        ['mh_a', 'zeta/sql/mh_a.sql'],
        ['mh_b', 'alpha/sql/mh_b.sql'],
      ]);
      tree.write('beta/sql/mh_a.sql', 'create or replace function mh_a() returns int language plpgsql as $$ begin return 2; end $$;');
      expect(() => readFunctions(tree.dir)).toThrow(/mh_a is defined in two files/);
    } finally {
      tree.remove();
    }
  });
});
