#!/usr/bin/env node
// `npm run build`: compiles the service (src/ -> dist/, tsconfig.build.json), copies the files
// the compiled code reads at run time (the SQL migrations and function files) to the same places
// under dist/, builds the landing page and the admin console (web/*/dist), and last writes
// dist/build-stamp.json, which bin/marketing-hub.js compares with src/ to know the build is current.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');
/** Files under src/ that the code reads at run time (by extension); everything else is TypeScript. */
const RUNTIME_FILES = /\.sql$/;

function step(text) {
  process.stdout.write(`build: ${text}\n`);
}

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

// Taken before compiling: a source edited while the build runs makes the build stale at once.
const startedAt = Date.now();

// From scratch, so a deleted source file never survives as a stale .js.
rmSync(DIST, { recursive: true, force: true });

step('tsc -p tsconfig.build.json');
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });

let copied = 0;
for (const file of walk(SRC)) {
  if (!RUNTIME_FILES.test(file)) continue;
  const target = join(DIST, relative(SRC, file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
  copied += 1;
}
step(`copied ${copied} SQL files`);

// The front ends, with the compiled build files (they skip a site that is already current).
for (const site of ['modules/landing-page/landing-build.js', 'modules/admin-console/admin-build.js']) {
  execFileSync(process.execPath, [join(DIST, site)], { cwd: ROOT, stdio: 'inherit' });
}

writeFileSync(join(DIST, 'build-stamp.json'), `${JSON.stringify({ started_at: new Date(startedAt).toISOString(), started_ms: startedAt }, null, 2)}\n`);
step(`done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
