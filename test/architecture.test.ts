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

/**
 * No module writes another module's tables, in TypeScript or in its SQL functions: it calls the
 * owner (its index.ts, or its database function, such as inventory's mh_return_stock). A table's
 * owner is the module whose `*.tables.ts` declares it. Reads of another module's table are
 * listed below, each with the reason it stays a read in the reader's own statement.
 */
const ALLOWED_READS: Record<string, string> = {
  // The grant statement checks, under the same snapshot, that the reward and campaign the grant
  // was decided on are still current (primary-key reads of `version`); a call per item would
  // cost more than the grant.
  'grants/sql/mh_grant_set.sql -> reward': 'snapshot version check',
  'grants/sql/mh_grant_set.sql -> campaign': 'snapshot version check',
  // Audience rules compile to conditions over the customer profile and run as one query.
  'audiences/audience.repo.ts -> customer': 'rules evaluated over customer profiles',
};

function tableOwners(): Map<string, string> {
  const owners = new Map<string, string>();
  const dirs = readdirSync(join(SRC, 'modules')).map((m) => [join(SRC, 'modules', m), m] as const);
  for (const [dir, owner] of [...dirs, [join(SRC, 'platform'), 'platform'] as const]) {
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.tables.ts'))) {
      const body = /export interface \w+Tables \{([\s\S]*?)\n\}/.exec(readFileSync(join(dir, name), 'utf8'))?.[1] ?? '';
      for (const m of body.matchAll(/^\s*(\w+):/gm)) owners.set(m[1]!, owner);
    }
  }
  return owners;
}

/** Every `module file -> table` use of another module's table, split into writes and reads. */
function foreignTableUses(owners: Map<string, string>): { writes: string[]; reads: string[] } {
  const names = [...owners.keys()].sort((a, b) => b.length - a.length).join('|');
  const write = new RegExp(`(?:insertInto|updateTable|deleteFrom|mergeInto)\\(\\s*'(${names})\\b|\\b(?:insert\\s+into|update|delete\\s+from)\\s+(${names})\\b`, 'gi');
  const read = new RegExp(`(?:selectFrom|innerJoin|leftJoin)\\(\\s*'(${names})\\b|\\b(?:from|join)\\s+(${names})\\b`, 'gi');
  const writes = new Set<string>();
  const reads = new Set<string>();
  const files = sourceFiles(join(SRC, 'modules')).concat(
    readdirSync(join(SRC, 'modules')).flatMap((m) => {
      const dir = join(SRC, 'modules', m, 'sql');
      try {
        return readdirSync(dir).map((n) => join(dir, n));
      } catch {
        return [];
      }
    }),
  );
  for (const file of files) {
    if (file.endsWith('.tables.ts')) continue;
    const rel = relative(join(SRC, 'modules'), file);
    const module = rel.split('/')[0]!;
    const text = readFileSync(file, 'utf8').replace(/^\s*(--|\/\/|\*).*$/gm, '');
    const foreign = (m: RegExpMatchArray) => {
      const table = (m[1] ?? m[2])!.toLowerCase();
      const owner = owners.get(table);
      return owner && owner !== module && owner !== 'platform' ? `${rel} -> ${table}` : null;
    };
    for (const m of text.matchAll(write)) {
      const use = foreign(m);
      if (use) writes.add(use);
    }
    for (const m of text.matchAll(read)) {
      const use = foreign(m);
      if (use && !writes.has(use)) reads.add(use);
    }
  }
  return { writes: [...writes].sort(), reads: [...reads].sort() };
}

describe('modules keep to their own tables', () => {
  const owners = tableOwners();
  const uses = foreignTableUses(owners);

  it('reads the owners of the tables', () => {
    expect(owners.get('reward_grant')).toBe('grants');
    expect(owners.get('reward_stock_slot')).toBe('inventory');
    expect(owners.size).toBeGreaterThanOrEqual(25);
  });

  it('no module writes a table of another module', () => {
    expect(uses.writes).toEqual([]);
  });

  it("reads of another module's table are only the listed ones", () => {
    expect(uses.reads).toEqual(Object.keys(ALLOWED_READS).sort());
  });
});
