import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../../test/helpers/test-app.js';

// The shared app (and on the embedded project its migrated database) is built under the hook's
// longer timeout, not the first test's.
beforeAll(async () => {
  await testApp();
});

const OPS = join(import.meta.dirname, '..', '..', 'ops');

/** The metric names a PromQL text uses (histogram series named by their family). */
function namesIn(text: string): Set<string> {
  const names = text.match(/\b(?:marketing|http|grpc|process|nodejs)_[a-z0-9_]+/g) ?? [];
  return new Set(names.map((n) => n.replace(/_(bucket|count|sum)$/, '')));
}

describe('the dashboard and the alert rules name metrics the service exports', () => {
  it('every metric of ops/grafana/marketing-hub.json and ops/prometheus/alerts.yml is on /metrics', async () => {
    const a = await testApp();
    const exported = new Set([...(await a.app.inject({ method: 'GET', url: '/metrics' })).body.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!));
    // The pool's gauges exist only over PostgreSQL (PGlite has no pool), marketing_redis_up only with a Redis configured.
    const poolOnly = (n: string) =>
      (n.startsWith('marketing_db_pool_') && a.database.kind === 'pglite') || (n === 'marketing_redis_up' && !a.app.services.redis);
    for (const file of ['grafana/marketing-hub.json', 'prometheus/alerts.yml']) {
      const names = namesIn(await readFile(join(OPS, file), 'utf8'));
      expect(names.size, file).toBeGreaterThan(5);
      const missing = [...names].filter((n) => !exported.has(n) && !poolOnly(n));
      expect(missing, file).toEqual([]);
    }
  });
});

describe('the /metrics reference in docs/operations.md', () => {
  it('names every marketing_* metric the service exports, in backquotes', async () => {
    const a = await testApp();
    const exported = [...(await a.app.inject({ method: 'GET', url: '/metrics' })).body.matchAll(/^# TYPE (marketing_\S+)/gm)].map((m) => m[1]!);
    const doc = await readFile(join(import.meta.dirname, '..', '..', 'docs', 'operations.md'), 'utf8');
    const documented = new Set([...doc.matchAll(/`(marketing_[a-z0-9_]+)`/g)].map((m) => m[1]!));
    expect(exported.length).toBeGreaterThan(40);
    expect(exported.filter((n) => !documented.has(n))).toEqual([]);
    // Gauges that exist only with PostgreSQL or a configured Redis are documented too.
    for (const n of ['marketing_db_pool_connections', 'marketing_db_pool_max', 'marketing_redis_up']) expect(documented, n).toContain(n);
  });
});
