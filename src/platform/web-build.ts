/**
 * Builds a Vite front end (a folder with index.html, vite.config.ts, tsconfig.json and src/) into
 * its dist/ when dist is missing or older than its sources. `npm install` (prepare) and `npm
 * start` (prestart) run the per-site build files; the tests call `ensureBuilt()`. Parallel callers
 * (two test projects) share one build through a lock directory. Without Vite (a production install
 * that omitted devDependencies) the answer is 'no_vite' and the site's routes answer 503.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const LOCK_STALE_MS = 5 * 60_000;

export type BuildOutcome = 'built' | 'fresh' | 'no_vite';

export interface WebBuild {
  root: string;
  dist: string;
  /** True when dist/index.html is missing or older than index.html, vite.config.ts, tsconfig.json or src/. */
  isStale(): Promise<boolean>;
  /** Builds when stale (or always with `force`). */
  ensureBuilt(options?: { force?: boolean }): Promise<BuildOutcome>;
}

async function mtime(path: string): Promise<number> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return 0;
  }
}

async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? await newestSource(path) : await mtime(path));
  }
  return newest;
}

function viteBin(): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('vite/package.json');
    return join(dirname(pkg), 'bin', 'vite.js');
  } catch {
    return null;
  }
}

async function takeLock(lock: string): Promise<boolean> {
  try {
    await mkdir(lock);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const age = Date.now() - (await mtime(lock));
    if (age > LOCK_STALE_MS) await rm(lock, { recursive: true, force: true });
    return false;
  }
}

/** The build of the Vite site in `root` (its output in `root/dist`). */
export function webBuild(root: string, options: { timeoutMs: number }): WebBuild {
  const dist = join(root, 'dist');
  const lock = `${dist}.lock`;

  async function isStale(): Promise<boolean> {
    const built = await mtime(join(dist, 'index.html'));
    if (built === 0) return true;
    const sources = Math.max(
      await mtime(join(root, 'index.html')),
      await mtime(join(root, 'vite.config.ts')),
      await mtime(join(root, 'tsconfig.json')),
      await newestSource(join(root, 'src')),
    );
    return built < sources;
  }

  async function ensureBuilt(build: { force?: boolean } = {}): Promise<BuildOutcome> {
    for (;;) {
      if (!build.force && !(await isStale())) return 'fresh';
      const bin = viteBin();
      if (!bin) return 'no_vite';
      if (!(await takeLock(lock))) {
        await new Promise((r) => setTimeout(r, 250));
        continue; // another process builds: look again when it is done
      }
      try {
        if (!build.force && !(await isStale())) return 'fresh';
        // NODE_ENV=production whatever the caller runs under (vitest sets test; Vite would then
        // bundle Vue's development build).
        await promisify(execFile)(process.execPath, [bin, 'build', '--config', join(root, 'vite.config.ts')], {
          cwd: root,
          timeout: options.timeoutMs,
          env: { ...process.env, NODE_ENV: 'production' },
        });
        return 'built';
      } finally {
        await rm(lock, { recursive: true, force: true });
      }
    }
  }

  return { root, dist, isStale, ensureBuilt };
}
