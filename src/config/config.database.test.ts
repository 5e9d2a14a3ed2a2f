import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig, POSTGRES_REQUIRED } from './load.js';
import { configError, yamlFile } from '../../test/helpers/config-files.js';

/** One sentence: no line breaks, one full stop at the end, PostgreSQL required and how to set it. */
function expectOneSentence(message: string): void {
  expect(message.startsWith(POSTGRES_REQUIRED), message).toBe(true);
  expect(message).not.toContain('\n');
  expect(message.endsWith('.')).toBe(true);
  expect(message.slice(0, -1)).not.toMatch(/\.\s/);
  expect(message).toContain('DATABASE_URL=postgres://');
  expect(message).toContain('unset for the embedded database');
}

describe('a database that is not PostgreSQL', () => {
  it("refuses the document's mysql:// DATABASE_URL with one sentence, without the password", () => {
    const err = configError(() => loadConfig({ env: { DATABASE_URL: 'mysql://root:secret-pw@localhost:3306/marketing_service' }, file: null }));
    expect(err.problems).toHaveLength(1);
    expectOneSentence(err.message);
    expect(err.message).toContain('DATABASE_URL');
    expect(err.message).toContain('mysql://');
    expect(err.message).not.toContain('secret-pw');
  });

  it("refuses the document's Go DSN in the file's data.database.source", () => {
    const file = yamlFile('data:\n  database:\n    source: root:password@tcp(127.0.0.1:3306)/marketing_service?charset=utf8mb4&parseTime=True&loc=Local\n');
    const err = configError(() => loadConfig({ env: {}, file }));
    expect(err.problems).toHaveLength(1);
    expectOneSentence(err.message);
    expect(err.message).toContain('data.database.source');
    expect(err.message).not.toContain('root:password');
  });

  it('refuses a mysql-type database block (driver: mysql) as one sentence, not as an unknown key', () => {
    const err = configError(() => loadConfig({ env: {}, file: yamlFile('data:\n  database:\n    driver: mysql\n    source: postgres://x@h/db\n') }));
    expect(err.problems).toHaveLength(1);
    expectOneSentence(err.message);
    expect(err.message).toContain('"mysql"');
  });

  it('lists it with the other problems when there are several', () => {
    const err = configError(() => loadConfig({ env: { DATABASE_URL: 'mysql://h/db', MARKETING_DB_POOL_SIZE: '0' }, file: null }));
    expect(err.problems.length).toBeGreaterThan(1);
    expect(err.message).toContain('Invalid configuration');
    expect(err.problems.filter((p) => p.startsWith(POSTGRES_REQUIRED))).toHaveLength(1);
  });

  it('accepts postgres:// and postgresql:// and no address at all', () => {
    expect(loadConfig({ env: { DATABASE_URL: 'postgres://u@h/db' }, file: null }).data.database.source).toBe('postgres://u@h/db');
    expect(loadConfig({ env: { DATABASE_URL: 'postgresql://u@h/db' }, file: null }).data.database.source).toBe('postgresql://u@h/db');
    expect(loadConfig({ env: {}, file: null }).data.database.source).toBeUndefined();
  });

  it('the CLI exits 1 at start with that one sentence', async () => {
    const root = resolve(import.meta.dirname, '../..');
    const run = promisify(execFile);
    const result = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: 'mysql://root:pw@127.0.0.1:3306/marketing_service', MARKETING_DB_SOURCE: '', MARKETING_CONFIG: '' },
      timeout: 30_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(result.code).toBe(1);
    expectOneSentence(result.stderr.trim());
  });
});
