/**
 * bench/audience: how long counting an audience over 1,000,000 customers takes on PostgreSQL
 * (target: under 2 s; each count is ONE SQL statement).
 *
 *   npx tsx bench/audience.ts        (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test;
 *                                     BENCH_CUSTOMERS, default 1000000; BENCH_RUNS, default 3)
 *
 * 1. A fresh database, migrated like any install; one tenant and app.
 * 2. BENCH_CUSTOMERS profiles in one INSERT ... SELECT FROM generate_series (the GIN indexes are
 *    dropped for the load and built again after it, as one would for any bulk load), then ANALYZE.
 * 3. TAG and SEGMENT audiences saved through the audience service (rules validated as on the API),
 *    each counted BENCH_RUNS times through the same service call GET /count uses: first and best
 *    times are printed, and each as a multiple of a bare count(*) of the tenant's rows measured in
 *    the same run (on a shared machine absolute times drift with the load; the ratios much less).
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { openPostgres } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { createAppService } from '../src/modules/apps/index.js';
import { createAudienceService } from '../src/modules/audiences/index.js';
import { ManualClock } from '../src/platform/clock.js';
import type { TenantActor } from '../src/platform/actor.js';
import { Counter, Registry } from 'prom-client';
import { admin, withDatabase } from './support.js';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TENANT = 'bench';

const AUDIENCES: Array<{ name: string; type: 'TAG' | 'SEGMENT'; rule: unknown }> = [
  { name: 'TAG: any of [vip] (10%)', type: 'TAG', rule: { tags_any: ['vip'] } },
  { name: 'TAG: all of [vip, new], none of [city_7]', type: 'TAG', rule: { tags_all: ['vip', 'new'], tags_none: ['city_7'] } },
  { name: 'SEGMENT: city eq city_7 (2%)', type: 'SEGMENT', rule: { field: 'attributes.city', op: 'eq', value: 'city_7' } },
  {
    name: 'SEGMENT: age between 18 and 35 and plan in [pro, team]',
    type: 'SEGMENT',
    rule: { and: [{ field: 'attributes.age', op: 'between', value: [18, 35] }, { field: 'attributes.plan', op: 'in', value: ['pro', 'team'] }] },
  },
  { name: 'SEGMENT: registered in the last 30 days (created_at)', type: 'SEGMENT', rule: { field: 'created_at', op: 'after', value: { ago: '30d' } } },
  {
    name: 'SEGMENT: attributes.registered_at after 30 days ago (JSON date)',
    type: 'SEGMENT',
    rule: { field: 'attributes.registered_at', op: 'after', value: { ago: '30d' } },
  },
  {
    name: 'SEGMENT: attributes.registered_at before 30 days ago (JSON date)',
    type: 'SEGMENT',
    rule: { field: 'attributes.registered_at', op: 'before', value: { ago: '30d' } },
  },
  {
    name: 'SEGMENT: vip and (age >= 60 or no sms consent) and spend > 500',
    type: 'SEGMENT',
    rule: {
      and: [
        { field: 'tags', op: 'contains', value: 'vip' },
        { or: [{ field: 'attributes.age', op: 'gte', value: 60 }, { not: { field: 'consent.sms', op: 'exists' } }] },
        { field: 'attributes.spend', op: 'gt', value: 500 },
      ],
    },
  },
];

async function main(): Promise<void> {
  const dbName = `mh_bench_aud_${Date.now().toString(36)}`;
  await admin(ADMIN_URL, `create database ${dbName}`);
  const url = withDatabase(ADMIN_URL, dbName);
  const handle = await openPostgres(url, 4);
  try {
    await migrate(handle);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const loadStarted = performance.now();
    await c.query(`insert into tenant (tenant_id, name, created_at, updated_at) values ('${TENANT}', 'Bench', now(), now())`);
    await c.query(`insert into app (tenant_id, product_code, name, created_at, updated_at) values ('${TENANT}', 'app1', 'App', now(), now())`);
    await c.query('drop index customer_tags; drop index customer_attributes');
    // Tags are written sorted (byte order) as the service keeps them: city_* < new < vip.
    await c.query(
      `insert into customer (tenant_id, user_id, tags, attributes, attribute_dates, consent, created_at, updated_at)
       select $1, 'u' || g,
              array['city_' || (g % 50)] || (case when g % 3 = 0 then array['new'] else '{}' end) || (case when g % 10 = 0 then array['vip'] else '{}' end),
              jsonb_build_object('age', g % 80, 'city', 'city_' || (g % 50), 'plan', (array['free', 'pro', 'team'])[1 + g % 3],
                                 'spend', (g % 1000) * 1.5,
                                 'registered_at', to_char(timestamptz '2025-01-01' + (g % 365) * interval '1 day', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
              -- What the service's writers store beside a date attribute (customer.dates.ts).
              jsonb_build_object('registered_at', extract(epoch from timestamptz '2025-01-01' + (g % 365) * interval '1 day') * 1000),
              case when g % 2 = 0 then '{"sms": {"status": "opt_in", "updated_at": "2025-01-01T00:00:00Z"}}'::jsonb else '{}'::jsonb end,
              timestamptz '2025-01-01' + (g % 365) * interval '1 day', now()
       from generate_series(1, $2::int) g`,
      [TENANT, CUSTOMERS],
    );
    await c.query('create index customer_tags on customer using gin (tags); create index customer_attributes on customer using gin (attributes)');
    await c.query('vacuum analyze customer');
    console.log(`loaded ${CUSTOMERS.toLocaleString('en')} customers in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s (incl. indexes and ANALYZE)\n`);

    // Relative dates resolve against this clock: the data spans 2025; "now" is its last day.
    const clock = new ManualClock('2025-12-31T00:00:00Z');
    const registry = new Registry();
    const evaluated = new Counter({ name: 'e', help: 'e', labelNames: ['audience_type', 'operation'] as const, registers: [registry] });
    const audiences = createAudienceService({ db: handle.db, clock, apps: createAppService({ db: handle.db, clock }), evaluated });
    const actor: TenantActor = { kind: 'tenant', tenantId: TENANT, keyId: 'bench', role: 'admin', productCodes: null };

    // Baseline: the bare scan every unindexed count pays, so the load on a shared machine shows.
    const baseTimes: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const started = performance.now();
      await c.query('select count(*) from customer c where c.tenant_id = $1', [TENANT]);
      baseTimes.push(performance.now() - started);
    }
    const base = Math.min(...baseTimes);
    const rows: string[][] = [['audience', 'count', 'first ms', 'best ms', 'x bare scan']];
    rows.push(['(baseline) count(*) of the tenant, no condition', CUSTOMERS.toLocaleString('en'), baseTimes[0]!.toFixed(0), base.toFixed(0), '1.0']);
    let worst = 0;
    for (const spec of AUDIENCES) {
      const saved = await audiences.createAudience(actor, { audience_name: spec.name, audience_type: spec.type, rule: spec.rule as Record<string, unknown>, product_code: 'app1' });
      const times: number[] = [];
      let count = 0;
      for (let i = 0; i < RUNS; i++) {
        const started = performance.now();
        count = (await audiences.countAudience(actor, saved.audience_id)).count;
        times.push(performance.now() - started);
      }
      worst = Math.max(worst, Math.min(...times));
      rows.push([spec.name, count.toLocaleString('en'), times[0]!.toFixed(0), Math.min(...times).toFixed(0), (Math.min(...times) / base).toFixed(1)]);
    }
    await c.end();
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) console.log(r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
    console.log(`\nslowest best count: ${worst.toFixed(0)} ms over ${CUSTOMERS.toLocaleString('en')} customers (target < 2000 ms): ${worst < 2000 ? 'OK' : 'OVER'}`);
  } finally {
    await handle.close();
    if (process.env.BENCH_KEEP) console.log(`kept database ${dbName} (BENCH_KEEP)`);
    else await admin(ADMIN_URL, `drop database if exists ${dbName} with (force)`);
  }
}



main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
