import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testApp } from '../../test/helpers/test-app.js';

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
