import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Kysely, sql } from 'kysely';
import type { DatabaseHandle } from './client.js';
import type { DB } from './schema.js';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');
// Database functions live beside the module that owns them, as src/modules/<module>/sql/<name>.sql.
const MODULES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'modules');
// Any fixed 64-bit number; every process that migrates takes this session-level advisory lock,
// so several API processes starting at once apply each migration exactly once.
const MIGRATION_LOCK_ID = 7_105_000_001n;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** One database function's current definition: a `create or replace function` script. */
export interface DatabaseFunction {
  /** The file's name without `.sql`, which is the function's name (`mh_grant_set`). */
  name: string;
  /** The file, relative to src/modules (`grants/sql/mh_grant_set.sql`), for messages. */
  file: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
  /** The function files applied by this run: new, or changed since they were last applied. */
  functions: string[];
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Reads `NNNN_name.sql` files in version order. */
export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const text = readFileSync(join(dir, file), 'utf8');
      return {
        version: Number(file.slice(0, 4)),
        name: file.replace(/\.sql$/, ''),
        sql: text,
        checksum: sha256(text),
      };
    });
}

/**
 * Reads every `src/modules/<module>/sql/<name>.sql`, ordered by name. Each file holds the one
 * current definition of one function. Name order is enough: every function is PL/pgSQL, whose
 * body is checked only when it runs, so a function may be created before the ones it calls (a
 * `language sql` function would be checked at creation and would need its callees first).
 */
export function readFunctions(modulesDir: string = MODULES_DIR): DatabaseFunction[] {
  const found: DatabaseFunction[] = [];
  for (const module of readdirSync(modulesDir, { withFileTypes: true })) {
    if (!module.isDirectory()) continue;
    const dir = join(modulesDir, module.name, 'sql');
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir)) {
      if (!file.endsWith('.sql')) continue;
      if (!/^[a-z0-9_]+\.sql$/.test(file)) throw new Error(`Function file ${module.name}/sql/${file}: name it <function_name>.sql`);
      const text = readFileSync(join(dir, file), 'utf8');
      found.push({ name: file.replace(/\.sql$/, ''), file: `${module.name}/sql/${file}`, sql: text, checksum: sha256(text) });
    }
  }
  found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 1; i < found.length; i++) {
    if (found[i]!.name === found[i - 1]!.name) {
      throw new Error(`Function ${found[i]!.name} is defined in two files: ${found[i - 1]!.file} and ${found[i]!.file}`);
    }
  }
  return found;
}

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock. An applied
 * migration whose file changed since is an error: migrations are append-only history. Then,
 * under the same lock, applies each function file that is new or whose checksum changed since it
 * was last applied (in its own transaction, recorded in schema_function): functions are code,
 * re-applied as `create or replace` whenever their one file changes.
 */
export async function migrate(
  handle: DatabaseHandle,
  migrations: Migration[] = readMigrations(),
  functions: DatabaseFunction[] = readFunctions(),
): Promise<MigrationResult> {
  return handle.db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_ID})`.execute(conn);
    try {
      await sql`
        create table if not exists schema_migration (
          version integer primary key,
          name text not null,
          checksum text not null,
          applied_at timestamptz not null default now()
        )`.execute(conn);
      const done = await sql<{ version: number; name: string; checksum: string }>`
        select version, name, checksum from schema_migration`.execute(conn);
      const byVersion = new Map(done.rows.map((row) => [row.version, row]));
      const applied: string[] = [];
      for (const migration of migrations) {
        const previous = byVersion.get(migration.version);
        if (previous) {
          if (previous.checksum !== migration.checksum) {
            throw new Error(
              `Migration ${migration.name} was changed after it was applied (checksum differs); add a new migration instead.`,
            );
          }
          continue;
        }
        await conn.transaction().execute(async (trx) => {
          await handle.execScript(trx, migration.sql);
          await sql`insert into schema_migration (version, name, checksum)
                    values (${migration.version}, ${migration.name}, ${migration.checksum})`.execute(trx);
        });
        applied.push(migration.name);
      }
      return { applied, alreadyApplied: migrations.length - applied.length, functions: await applyFunctions(handle, conn, functions) };
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`.execute(conn);
    }
  });
}

/** Applies the function files that are new or changed; the caller holds the migration lock. */
async function applyFunctions(handle: DatabaseHandle, conn: Kysely<DB>, functions: DatabaseFunction[]): Promise<string[]> {
  await sql`
    create table if not exists schema_function (
      name text primary key,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`.execute(conn);
  const done = await sql<{ name: string; checksum: string }>`select name, checksum from schema_function`.execute(conn);
  const checksums = new Map(done.rows.map((row) => [row.name, row.checksum]));
  const applied: string[] = [];
  for (const fn of functions) {
    if (checksums.get(fn.name) === fn.checksum) continue;
    await conn.transaction().execute(async (trx) => {
      await handle.execScript(trx, fn.sql);
      await sql`insert into schema_function (name, checksum) values (${fn.name}, ${fn.checksum})
                on conflict (name) do update set checksum = excluded.checksum, applied_at = now()`.execute(trx);
    });
    applied.push(fn.name);
  }
  return applied;
}
