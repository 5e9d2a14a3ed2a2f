import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { testDbKind } from '../helpers/database.js';
import { client, runCli, type ServerProcess, startServerProcess } from './server-process.js';

/**
 * The embedded database belongs to one process: a CLI command on the data directory of a running
 * server is refused with one sentence instead of crashing PGlite, and a lock
 * left by a process killed with -9 does not block the next one.
 */
const onPostgres = testDbKind() === 'postgres';

describe.runIf(!onPostgres)('the embedded data directory lock', () => {
  let dir: string;
  let server: ServerProcess | undefined;

  afterEach(async () => {
    await server?.stop('SIGKILL');
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a CLI command while serve runs, in one sentence with the pid, and works after kill -9', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mh-lock-'));
    const env = { MARKETING_DATA_DIR: dir };
    server = await startServerProcess(env);

    for (const args of [['tenants', 'create', '--id', 'acme', '--name', 'Acme'], ['migrate']]) {
      const refused = await runCli(args, env);
      expect(refused.code, refused.output).toBe(1);
      const lines = refused.output.trim().split('\n');
      expect(lines, refused.output).toHaveLength(1);
      expect(lines[0]).toBe(
        `The data directory ${dir} is in use by a running server (pid ${server.child.pid}); stop it or use the HTTP API, or set DATABASE_URL to a PostgreSQL database, which many processes can share.`,
      );
    }
    // The refused commands neither crashed nor disturbed the server.
    expect((await client(server.url)('GET', '/ready')).status).toBe(200);

    // A second server on the same directory is refused the same way.
    const second = await runCli(['serve', '--port', '0', '--host', '127.0.0.1'], env);
    expect(second.code).toBe(1);
    expect(second.output).toContain(`is in use by a running server (pid ${server.child.pid})`);

    expect(await server.stop('SIGKILL')).toBeNull();
    const after = await runCli(['tenants', 'create', '--id', 'acme', '--name', 'Acme'], env);
    expect(after.code, after.output).toBe(0);
    expect(JSON.parse(after.output).tenant_id).toBe('acme');
  });

  it('releases the lock on SIGTERM and on a normal exit', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mh-lock-'));
    const env = { MARKETING_DATA_DIR: dir };
    server = await startServerProcess(env);
    const lock = join(dir, 'marketing-hub.lock');
    expect(existsSync(lock)).toBe(true);
    // Answered only after serve has set up its signal handlers (they follow the banner).
    expect((await client(server.url)('GET', '/ready')).status).toBe(200);
    expect(await server.stop('SIGTERM')).toBe(0);
    expect(existsSync(lock)).toBe(false);

    const cli = await runCli(['tenants', 'list'], env);
    expect(cli.code, cli.output).toBe(0);
    expect(existsSync(lock)).toBe(false);
  });
});
