/**
 * bench/pglite-liveness: does the server keep answering while it generates a large batch of
 * redeem codes on the embedded database (PGlite: one in-process WASM connection, so any long
 * statement also stops the event loop)?
 *
 *   npx tsx bench/pglite-liveness.ts      (BENCH_CODES default 1000000, BENCH_POLL_MS default 100;
 *                                          extra server settings from the environment, e.g.
 *                                          MARKETING_CODES_CHUNK_SIZE)
 *
 * Starts a real `marketing-hub serve` on a temporary data directory, creates a tenant, campaign
 * and reward, starts one batch through POST /v1/campaigns/{id}/redeem-codes and polls /health and
 * the batch's GET every BENCH_POLL_MS (each on its own timer, not waiting for the last answer)
 * until the batch is DONE. Prints latency p50/p99/max of both, the total generation time and
 * the progress values the polls saw. Target: /health p99 under 200 ms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeGeneration } from '../test/e2e/liveness-probe.js';
import { startServerProcess } from '../test/e2e/server-process.js';

const COUNT = Number(process.env.BENCH_CODES ?? 1_000_000);
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 100);
const MASTER = 'bench-master-key-0123456789abcdefghij';

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mh-liveness-'));
  const passed = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('MARKETING_') && v !== undefined)) as Record<string, string>;
  const server = await startServerProcess({ ...passed, MARKETING_DATA_DIR: dir, MARKETING_MASTER_KEY: MASTER }, 120_000);
  try {
    const r = await probeGeneration(server.url, MASTER, { count: COUNT, pollMs: POLL_MS });
    const ms = (s: { count: number; p50: number; p99: number; max: number }) => `n=${s.count} p50 ${s.p50} ms  p99 ${s.p99} ms  max ${s.max} ms`;
    const distinct = [...new Set(r.progress)];
    process.stdout.write(
      [
        `codes ${COUNT} on embedded PGlite, polled every ${POLL_MS} ms`,
        `  generation   ${(r.generationMs / 1000).toFixed(1)} s (${Math.round(COUNT / (r.generationMs / 1000))} codes/s)`,
        `  /health      ${ms(r.health)}`,
        `  batch GET    ${ms(r.status)}`,
        `  progress     ${distinct.length} distinct values: ${distinct.join(' ')}`,
        '',
      ].join('\n'),
    );
  } finally {
    await server.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
