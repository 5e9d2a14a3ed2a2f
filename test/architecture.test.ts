import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Dependencies point one way: a feature module may use platform/ and other modules' index.ts, but
 * no two modules depend on each other (type imports count: a type is a dependency too), and
 * neither modules nor platform reach into app/, the composition root. Lint forbids the app/
 * imports file by file (eslint.config.js); this reads every import of src/ to check the graph.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/g;

/** Relative imports of a file, as paths relative to src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => relative(SRC, resolve(dirname(file), m[1]!)));
}

/** `modules/grants/...` -> `modules/grants`; `platform/http/x` -> `platform`; `app/x` -> `app`. */
function unitOf(path: string): string {
  const [top, second] = path.split('/');
  return top === 'modules' ? `modules/${second}` : top!;
}

function moduleGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sourceFiles(SRC)) {
    const from = unitOf(relative(SRC, file));
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const target of importsOf(file)) {
      const to = unitOf(target);
      if (to !== from) edges.add(to);
    }
  }
  return graph;
}

/** Every cycle among module units, each as the list of units on it. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const visit = (node: string, path: string[]) => {
    const at = path.indexOf(node);
    if (at >= 0) {
      found.push([...path.slice(at), node]);
      return;
    }
    if (done.has(node)) return;
    for (const next of graph.get(node) ?? []) if (next.startsWith('modules/')) visit(next, [...path, node]);
    done.add(node);
  };
  for (const node of graph.keys()) if (node.startsWith('modules/')) visit(node, []);
  return found;
}

describe('dependencies point one way', () => {
  const graph = moduleGraph();

  it('reads the modules', () => {
    expect([...graph.keys()].filter((u) => u.startsWith('modules/')).length).toBeGreaterThanOrEqual(10);
  });

  it('no module and nothing in platform/ imports app/ or a module from platform/', () => {
    const wrong = [...graph].flatMap(([from, to]) =>
      [...to].filter((t) => (from !== 'app' && from !== 'cli' && t === 'app') || (from === 'platform' && t.startsWith('modules/'))).map((t) => `${from} -> ${t}`),
    );
    expect(wrong).toEqual([]);
  });

  it('no two modules depend on each other, directly or around a circle', () => {
    expect(cycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('finds a circle when there is one', () => {
    const circle = new Map([
      ['modules/a', new Set(['modules/b'])],
      ['modules/b', new Set(['modules/c', 'platform'])],
      ['modules/c', new Set(['modules/a'])],
    ]);
    expect(cycles(circle).map((c) => c.join(' -> '))).toEqual(['modules/a -> modules/b -> modules/c -> modules/a']);
  });
});
