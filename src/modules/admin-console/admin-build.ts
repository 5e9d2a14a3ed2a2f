/**
 * Builds the admin console (web/admin, Vite + Vue + Naive UI) into web/admin/dist when it is
 * missing or older than its sources, as the landing page's build does for web/landing.
 * `npm install` (prepare) and `npm start` (prestart) run this file; the tests call
 * `ensureAdminBuilt()`. Parallel callers share one build through a lock directory. Without Vite
 * (a production install that omitted devDependencies) it says so and leaves the service
 * answering 503 admin_console_not_built.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

export const ADMIN_ROOT = fileURLToPath(new URL('../../../web/admin/', import.meta.url));
export const ADMIN_DIST = join(ADMIN_ROOT, 'dist');
const LOCK = `${ADMIN_DIST}.lock`;
const LOCK_STALE_MS = 5 * 60_000;

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

/** True when dist/index.html is missing or older than index.html, vite.config.ts, tsconfig.json or src/. */
export async function adminIsStale(): Promise<boolean> {
  const built = await mtime(join(ADMIN_DIST, 'index.html'));
  if (built === 0) return true;
  const sources = Math.max(
    await mtime(join(ADMIN_ROOT, 'index.html')),
    await mtime(join(ADMIN_ROOT, 'vite.config.ts')),
    await mtime(join(ADMIN_ROOT, 'tsconfig.json')),
    await newestSource(join(ADMIN_ROOT, 'src')),
  );
  return built < sources;
}

function viteBin(): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('vite/package.json');
    return join(dirname(pkg), 'bin', 'vite.js');
  } catch {
    return null;
  }
}

async function takeLock(): Promise<boolean> {
  try {
    await mkdir(LOCK);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const age = Date.now() - (await mtime(LOCK));
    if (age > LOCK_STALE_MS) await rm(LOCK, { recursive: true, force: true });
    return false;
  }
}

/** Builds when stale (or always with `force`): 'built', 'fresh', or 'no_vite'. */
export async function ensureAdminBuilt(options: { force?: boolean } = {}): Promise<'built' | 'fresh' | 'no_vite'> {
  for (;;) {
    if (!options.force && !(await adminIsStale())) return 'fresh';
    const bin = viteBin();
    if (!bin) return 'no_vite';
    if (!(await takeLock())) {
      await new Promise((r) => setTimeout(r, 250));
      continue; // another process builds: look again when it is done
    }
    try {
      if (!options.force && !(await adminIsStale())) return 'fresh';
      // NODE_ENV=production whatever the caller runs under (vitest sets test; Vite would then
      // bundle Vue's development build).
      await promisify(execFile)(process.execPath, [bin, 'build', '--config', join(ADMIN_ROOT, 'vite.config.ts')], { cwd: ADMIN_ROOT, timeout: 300_000, env: { ...process.env, NODE_ENV: 'production' } });
      return 'built';
    } finally {
      await rm(LOCK, { recursive: true, force: true });
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const outcome = await ensureAdminBuilt({ force: process.argv.includes('--force') });
  if (outcome === 'no_vite') console.warn('admin console: Vite is not installed (devDependencies omitted); /admin answers 503 admin_console_not_built until `npm run build:admin` runs');
  else console.log(`admin console: ${outcome === 'built' ? 'built into' : 'up to date in'} ${ADMIN_DIST}`);
}
