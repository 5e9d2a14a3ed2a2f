import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

// `new AppError(kind, 'code', ...)`, the one way the service builds a refusal (kind may be an expression).
const APP_ERROR = /new AppError\(\s*[^,()]+?,\s*'([a-z0-9_]+)'/g;
// `notFound('campaign', id)` answers campaign_not_found.
const NOT_FOUND = /\bnotFound\(\s*'([a-z0-9_]+)'/g;
// Codes written as values: the grant refusals (`code: 'reward_expired'`) in *.errors.ts, and the few
// answers written without AppError in the error handler and the auth hook.
const LITERAL_CODE = /\bcode: '([a-z0-9_]+)'/g;
const LITERAL_FILES = new Set(['error-handler.ts', 'auth.ts']);

/** Every error code in the service's source (tests and test fixtures excluded), sorted and unique. */
export async function collectErrorCodes(srcDir: string): Promise<string[]> {
  const codes = new Set<string>();
  for (const file of await sourceFiles(srcDir)) {
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(APP_ERROR)) codes.add(m[1]!);
    for (const m of text.matchAll(NOT_FOUND)) codes.add(`${m[1]!}_not_found`);
    const name = file.slice(file.lastIndexOf('/') + 1);
    if (name.endsWith('.errors.ts') || LITERAL_FILES.has(name)) for (const m of text.matchAll(LITERAL_CODE)) codes.add(m[1]!);
  }
  return [...codes].sort();
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'testing') out.push(...(await sourceFiles(path)));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
      out.push(path);
    }
  }
  return out;
}
