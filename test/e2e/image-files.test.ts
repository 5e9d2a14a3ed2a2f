import { type ChildProcessByStdio, execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { distProblem } from '../../bin/build-state.js';
import { postgresUrl, testDbKind } from '../helpers/database.js';
import { createScratchDatabase } from '../helpers/postgres-admin.js';
import { freePort } from '../system/support/postgres-instance.js';
import { interpolate, parseDockerfile, type Stage } from './dockerfile.js';

/**
 * No Docker engine runs on the test machines, so the image is checked from its recipe: the files
 * the Dockerfile's runtime stage copies are assembled into a temporary folder (node_modules
 * linked from the repository: the image's `npm ci --omit=dev`), its ENTRYPOINT + CMD start there
 * with the ENV of the Dockerfile (and, in the postgres project, of compose.yaml's api and worker
 * services), and /health, the console and the HEALTHCHECK command must answer. Needs a current
 * `npm run build` (CI builds before the tests); otherwise it skips and says why.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const notBuilt = distProblem(ROOT);
const onPostgres = testDbKind() === 'postgres';
const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const runtime = stages.at(-1)!;
// A cold embedded database migrates at its first start: slow on a loaded two-core machine.
const START_TIMEOUT_MS = 180_000;

interface Started {
  child: ChildProcessByStdio<null, Readable, Readable>;
  output: () => string;
  stop(): Promise<void>;
}

/** Where a COPY source is in the repository: build-stage paths sit under that stage's WORKDIR. */
function repositoryPath(from: string | null, source: string): string {
  if (from === null) return source;
  const stage = stages.find((s) => s.name === from);
  if (!stage) throw new Error(`COPY --from=${from}: no such stage`);
  const relative = posix.relative(stage.workdir, posix.resolve(stage.workdir, source));
  if (relative.startsWith('..')) throw new Error(`COPY --from=${from} ${source}: outside the stage's WORKDIR`);
  return relative;
}

/** The runtime stage's files, copied from the repository to where the image would have them. */
function assemble(stage: Stage, into: string): string[] {
  const placed: string[] = [];
  for (const copy of stage.copies) {
    const dest = posix.relative(stage.workdir, posix.resolve(stage.workdir, copy.dest));
    const intoFolder = copy.dest.endsWith('/') || copy.sources.length > 1;
    for (const source of copy.sources) {
      const from = repositoryPath(copy.from, source);
      const to = intoFolder ? join(into, dest, basename(source)) : join(into, dest);
      cpSync(join(ROOT, from), to, { recursive: true });
      placed.push(posix.join(dest, intoFolder ? basename(source) : ''));
    }
  }
  symlinkSync(join(ROOT, 'node_modules'), join(into, 'node_modules'), 'dir');
  return placed;
}

/** ENTRYPOINT + CMD (or `command` instead of CMD) in `cwd`; resolves once `ready` is in the output. */
async function startIn(cwd: string, command: string[], env: Record<string, string>, ready: RegExp): Promise<Started> {
  const [program, ...args] = [...runtime.entrypoint, ...command];
  const child = spawn(program === 'node' ? process.execPath : program!, args, { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command.join(' ')} did not start in ${START_TIMEOUT_MS / 1000} s:\n${out}`)), START_TIMEOUT_MS);
    child.stdout.on('data', () => {
      if (!ready.test(out)) return;
      clearTimeout(timer);
      resolve();
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${command.join(' ')} exited before it was ready:\n${out}`));
    });
  });
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** compose.yaml's environment of a service, with test values for what the deployment must set. */
function composeEnv(service: string, vars: Record<string, string>): Record<string, string> {
  const compose = parseYaml(readFileSync(join(ROOT, 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, { environment?: Record<string, string> }> };
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(compose.services[service]?.environment ?? {})) env[key] = interpolate(String(value), vars);
  return env;
}

/** The packages dist/ and bin/ import (static and dynamic imports of bare names). */
function importedPackages(): Map<string, string> {
  const found = new Map<string, string>();
  const builtins = new Set(builtinModules);
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.js')) {
        const text = readFileSync(path, 'utf8');
        const statements = text.matchAll(/^\s*(?:import|export)\s+(?:[^'";]*?\s+from\s+)?['"]([^'"\s]+)['"]/gm);
        const calls = text.matchAll(/\bimport\(\s*['"]([^'"\s]+)['"]\s*\)/g);
        for (const m of [...statements, ...calls]) {
          const spec = m[1]!;
          if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          if (!found.has(name)) found.set(name, posix.relative(ROOT, path));
        }
      }
    }
  };
  walk(join(ROOT, 'dist'));
  walk(join(ROOT, 'bin'));
  return found;
}

describe.skipIf(notBuilt)(`the image's runtime files${notBuilt ? ` [skipped: ${notBuilt}; run npm run build]` : ''}`, () => {
  let folder: string;
  let volume: string;
  let env: Record<string, string>;
  let server: Started | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'mh-image-'));
    volume = mkdtempSync(join(tmpdir(), 'mh-image-volume-'));
    mkdirSync(folder, { recursive: true });
    assemble(runtime, folder);
    // The image's ENV, with this machine's free ports and a temporary folder for the data volume.
    env = { ...runtime.env, MARKETING_DATA_DIR: volume, PORT: String(await freePort()), MARKETING_GRPC_PORT: String(await freePort()) };
    if (onPostgres) {
      const scratch = await createScratchDatabase(postgresUrl(), 'image');
      cleanup = scratch.drop;
      const vars = { MARKETING_MASTER_KEY: 'image-test-master-key-0123456789', MARKETING_SECRET_KEY: 'image-test-secret-key' };
      env = { ...env, ...composeEnv('api', vars), DATABASE_URL: scratch.url, MARKETING_REDIS_KEY_PREFIX: `mh-image-${process.pid}:` };
      if (process.env.TEST_REDIS_URL) env.REDIS_URL = process.env.TEST_REDIS_URL;
      else delete env.REDIS_URL;
    }
    server = await startIn(folder, runtime.cmd, env, /listening on http:\/\/\S+/);
  }, START_TIMEOUT_MS + 30_000);

  afterAll(async () => {
    await server?.stop();
    await cleanup?.();
    if (folder) rmSync(folder, { recursive: true, force: true });
    if (volume) rmSync(volume, { recursive: true, force: true });
  });

  it('installs production dependencies only, runs as a non-root user and exposes the HTTP port', () => {
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(runtime.run.some((r) => r.includes('npm ci --omit=dev'))).toBe(true);
    expect(text.slice(text.lastIndexOf('FROM '))).toMatch(/^USER node$/m);
    expect(text).toMatch(/^EXPOSE 8105\b/m);
    expect(runtime.healthcheck.length).toBeGreaterThan(0);
  });

  it('starts from the copied files alone (no src/) and serves /health and the console', async () => {
    const base = `http://127.0.0.1:${env.PORT}`;
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'UP', service: 'marketing-hub' });
    const admin = await fetch(`${base}/admin/`);
    expect(admin.status).toBe(200);
    expect(await admin.text()).toContain('<div id="app"');
    expect(server!.output()).toContain(`gRPC     localhost:${env.MARKETING_GRPC_PORT}`);
  });

  it("passes the image's HEALTHCHECK command", async () => {
    const [program, ...args] = runtime.healthcheck;
    const run = promisify(execFile);
    await expect(run(program === 'node' ? process.execPath : program!, args, { cwd: folder, env: { PATH: process.env.PATH ?? '', ...env } })).resolves.toBeDefined();
  });

  it.runIf(onPostgres)("runs compose's worker beside the API (jobs out of the API process)", async () => {
    expect(env.MARKETING_JOBS_IN_PROCESS).toBe('false');
    const vars = { MARKETING_MASTER_KEY: env.MARKETING_MASTER_KEY!, MARKETING_SECRET_KEY: env.MARKETING_SECRET_KEY! };
    const workerEnv: Record<string, string> = { ...runtime.env, ...composeEnv('worker', vars), DATABASE_URL: env.DATABASE_URL!, MARKETING_DATA_DIR: volume, MARKETING_REDIS_KEY_PREFIX: env.MARKETING_REDIS_KEY_PREFIX! };
    if (env.REDIS_URL) workerEnv.REDIS_URL = env.REDIS_URL;
    else delete workerEnv.REDIS_URL;
    // compose's worker serves /metrics and /health (its health check); a free port here.
    expect(workerEnv.MARKETING_WORKER_METRICS_PORT).toBe('9106');
    const metricsPort = await freePort();
    workerEnv.MARKETING_WORKER_METRICS_PORT = String(metricsPort);
    const worker = await startIn(folder, ['worker'], workerEnv, /marketing-hub worker is working/);
    try {
      expect((await fetch(`http://127.0.0.1:${metricsPort}/health`)).status).toBe(200);
      expect(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).toContain('process_cpu_seconds_total');
    } finally {
      await worker.stop();
    }
  }, START_TIMEOUT_MS);

  it('imports at run time only packages the image installs (dependencies, not devDependencies)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const missing = [...importedPackages()].filter(([name]) => !(name in pkg.dependencies)).map(([name, file]) => `${name} (imported by ${file})`);
    expect(missing).toEqual([]);
  });
});
