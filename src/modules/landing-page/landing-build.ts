/**
 * Builds the landing page (web/landing, Vite + Vue) into web/landing/dist when it is missing or
 * older than its sources. `npm install` (prepare) and `npm start` (prestart) run this file; the
 * tests call `ensureLandingBuilt()`. Parallel callers (two test projects) share one build through
 * a lock directory. Without Vite (a production install that omitted devDependencies) it says so
 * and leaves the service answering 503 landing_page_not_built.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

export const LANDING_ROOT = fileURLToPath(new URL('../../../web/landing/', import.meta.url));
export const LANDING_DIST = join(LANDING_ROOT, 'dist');
const LOCK = `${LANDING_DIST}.lock`;
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
export async function landingIsStale(): Promise<boolean> {
  const built = await mtime(join(LANDING_DIST, 'index.html'));
  if (built === 0) return true;
  const sources = Math.max(
    await mtime(join(LANDING_ROOT, 'index.html')),
    await mtime(join(LANDING_ROOT, 'vite.config.ts')),
    await mtime(join(LANDING_ROOT, 'tsconfig.json')),
    await newestSource(join(LANDING_ROOT, 'src')),
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
export async function ensureLandingBuilt(options: { force?: boolean } = {}): Promise<'built' | 'fresh' | 'no_vite'> {
  for (;;) {
    if (!options.force && !(await landingIsStale())) return 'fresh';
    const bin = viteBin();
    if (!bin) return 'no_vite';
    if (!(await takeLock())) {
      await new Promise((r) => setTimeout(r, 250));
      continue; // another process builds: look again when it is done
    }
    try {
      if (!options.force && !(await landingIsStale())) return 'fresh';
      // NODE_ENV=production whatever the caller runs under (vitest sets test; Vite would then
      // bundle Vue's development build).
      await promisify(execFile)(process.execPath, [bin, 'build', '--config', join(LANDING_ROOT, 'vite.config.ts')], { cwd: LANDING_ROOT, timeout: 180_000, env: { ...process.env, NODE_ENV: 'production' } });
      return 'built';
    } finally {
      await rm(LOCK, { recursive: true, force: true });
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const outcome = await ensureLandingBuilt({ force: process.argv.includes('--force') });
  if (outcome === 'no_vite') console.warn('landing page: Vite is not installed (devDependencies omitted); /p/{campaign_id} answers 503 landing_page_not_built until `npm run build:web` runs');
  else console.log(`landing page: ${outcome === 'built' ? 'built into' : 'up to date in'} ${LANDING_DIST}`);
}
