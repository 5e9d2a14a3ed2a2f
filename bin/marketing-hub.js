#!/usr/bin/env node
// The `marketing-hub` command (`npx marketing-hub ...`, `npm start`). It runs the compiled service
// in dist/ (`npm run build`) when that build is current (build-state.js), else the TypeScript
// source through tsx, a runtime dependency, so a fresh clone works without a build and an edit
// after a build never runs stale code. MARKETING_HUB_RUN=dist or =source forces one; dist that is
// missing or stale is then an error. An install without src/ (the container image) runs dist.
import { join } from 'node:path';
import { distProblem, exists } from './build-state.js';

const ROOT = join(import.meta.dirname, '..');
const wanted = process.env.MARKETING_HUB_RUN;
if (wanted !== undefined && wanted !== '' && wanted !== 'dist' && wanted !== 'source') {
  process.stderr.write(`MARKETING_HUB_RUN must be dist or source, not ${JSON.stringify(wanted)}.\n`);
  process.exit(2);
}

const hasSource = exists(join(ROOT, 'src'));
const problem = wanted === 'source' ? null : distProblem(ROOT);
if (wanted === 'source' || (wanted !== 'dist' && hasSource && problem !== null)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
} else if (problem !== null) {
  process.stderr.write(`${wanted === 'dist' ? 'MARKETING_HUB_RUN=dist' : 'There is no src/'}, but ${problem}: run \`npm run build\` first.\n`);
  process.exit(1);
} else {
  await import('../dist/cli/main.js');
}
