// Whether the compiled build in dist/ can run: bin/marketing-hub.js asks before choosing it, and
// the image test (test/e2e/image-files.test.ts) before using it. `npm run build` writes
// dist/build-stamp.json last, with the time the build started; the build is current when nothing
// under src/ (files or folders: a deleted file changes its folder) nor a tsconfig is newer.
// A stat walk of src/ takes a few milliseconds.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newestMtime(dir) {
  let newest = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export function exists(path) {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Why dist/ under `root` cannot run ("dist/ is not built", "dist/ is older than src/"), or null. */
export function distProblem(root) {
  let built;
  try {
    built = JSON.parse(readFileSync(join(root, 'dist', 'build-stamp.json'), 'utf8')).started_ms;
  } catch {
    return 'dist/ is not built';
  }
  if (!exists(join(root, 'dist', 'cli', 'main.js')) || typeof built !== 'number') return 'dist/ is not built';
  // An install without the sources (the container image) runs what it was given.
  if (!exists(join(root, 'src'))) return null;
  const configs = ['tsconfig.json', 'tsconfig.build.json'].map((f) => join(root, f)).filter(exists);
  const sources = Math.max(newestMtime(join(root, 'src')), ...configs.map((f) => statSync(f).mtimeMs));
  return sources > built ? 'dist/ is older than src/' : null;
}
