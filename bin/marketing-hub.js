#!/usr/bin/env node
// The `marketing-hub` command (`npx marketing-hub ...`): runs the TypeScript CLI through tsx,
// which is a runtime dependency, so no build step is needed.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
