import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresUrl, testDbKind } from '../helpers/database.js';
import { createScratchDatabase } from '../helpers/postgres-admin.js';
import { probeGeneration } from './liveness-probe.js';
import { type ServerProcess, startServerProcess } from './server-process.js';

/**
 * A large code batch must not freeze the server: on PGlite the engine runs inside the process,
 * so a job that never lets the event loop turn, or holds the one connection for seconds, leaves
 * /health and the batch's own progress unanswered until it ends.
 */
const onPostgres = testDbKind() === 'postgres';
const MASTER = 'e2e-master-key-0123456789abcdefghij';
const CODES = 200_000;

describe(`liveness while a large batch is generated on ${onPostgres ? 'PostgreSQL' : 'embedded PGlite'}`, () => {
  let server: ServerProcess;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    let env: Record<string, string>;
    if (onPostgres) {
      const scratch = await createScratchDatabase(postgresUrl(), 'live');
      env = { DATABASE_URL: scratch.url };
      cleanup = scratch.drop;
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'mh-live-'));
      env = { MARKETING_DATA_DIR: dir };
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
    server = await startServerProcess({ ...env, MARKETING_MASTER_KEY: MASTER });
  });

  afterAll(async () => {
    await server?.stop('SIGKILL');
    await cleanup?.();
  });

  it('answers /health and shows growing progress while it generates', { timeout: 120_000 }, async () => {
    const r = await probeGeneration(server.url, MASTER, { count: CODES, pollMs: 100 });
    const report = JSON.stringify({ generationMs: r.generationMs, health: r.health, status: r.status });
    // Before the fix the first probe waited for the whole batch (seconds); a liveness probe
    // answers in a few ms plus at most one chunk's write.
    expect(r.health.p99, report).toBeLessThan(200);
    expect(r.health.max, report).toBeLessThan(1_000);
    expect(r.status.p99, report).toBeLessThan(500);
    // Progress as the polls saw it, in the order they were sent: never backwards, ends at the
    // total, and shows the batch on its way (values strictly between 0 and the total).
    for (let i = 1; i < r.progress.length; i++) expect(r.progress[i]!, report).toBeGreaterThanOrEqual(r.progress[i - 1]!);
    expect(r.progress.at(-1)).toBe(CODES);
    const between = new Set(r.progress.filter((g) => g > 0 && g < CODES));
    expect(between.size, `${report} progress ${[...new Set(r.progress)].join(' ')}`).toBeGreaterThanOrEqual(3);
  });
});
