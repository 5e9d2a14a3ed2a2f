import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { DatabaseHandle } from './client.js';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');
// Any fixed 64-bit number; every process that migrates takes this session-level advisory lock,
// so several API processes starting at once apply each migration exactly once.
const MIGRATION_LOCK_ID = 7_105_000_001n;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

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
        checksum: createHash('sha256').update(text).digest('hex'),
      };
    });
}

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock. An applied
 * migration whose file changed since is an error: migrations are append-only history.
 */
export async function migrate(
  handle: DatabaseHandle,
  migrations: Migration[] = readMigrations(),
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
      return { applied, alreadyApplied: migrations.length - applied.length };
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`.execute(conn);
    }
  });
}
