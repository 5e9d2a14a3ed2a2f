import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PASSWORD, signInRaw, uniqueEmail } from '../../test/helpers/console-session.js';
import { postgresUrl, testDbKind } from '../../test/helpers/database.js';
import { testApp } from '../../test/helpers/test-app.js';

const root = resolve(import.meta.dirname, '../..');

/** Runs the CLI with `stdin` piped in; resolves with its exit code and output. */
function cli(args: string[], stdin: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: root,
      env: { ...process.env, MARKETING_CONFIG: '', DATABASE_URL: '', MARKETING_DB_SOURCE: '', LOG_LEVEL: 'silent', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe('marketing-hub operators create', () => {
  it('creates a platform operator with the password from stdin (never printed), refuses a short one; the operator signs in', async () => {
    const postgres = testDbKind() === 'postgres';
    const dir = postgres ? null : await mkdtemp(join(tmpdir(), 'mh-operators-cli-'));
    const env: Record<string, string> = postgres ? { DATABASE_URL: postgresUrl() } : { MARKETING_DATA_DIR: dir! };
    try {
      const email = uniqueEmail('cli');
      const short = await cli(['operators', 'create', '--email', email], 'short\n', env);
      expect(short.code).toBe(1);
      expect(short.stderr).toContain('at least 10 characters');

      const made = await cli(['operators', 'create', '--email', email, '--name', 'First admin'], `${PASSWORD}\n`, env);
      expect(made.stderr).toBe('');
      expect(made.code).toBe(0);
      const operator = JSON.parse(made.stdout);
      expect(operator).toMatchObject({ email, name: 'First admin', tenant_id: null, role: 'admin', disabled: false });
      expect(made.stdout).not.toContain(PASSWORD);
      expect(made.stdout).not.toMatch(/argon|password/i);

      const listed = await cli(['operators', 'list', '--platform'], '', env);
      expect(listed.code).toBe(0);
      expect(JSON.parse(listed.stdout).operators.map((o: { operator_id: string }) => o.operator_id)).toContain(operator.operator_id);

      // On PostgreSQL the CLI wrote to the tests' database: the operator signs in over HTTP.
      if (postgres) {
        const app = await testApp();
        expect((await signInRaw(app.app, { email, password: PASSWORD })).status).toBe(200);
      }
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
