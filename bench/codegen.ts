/**
 * bench/codegen: how fast a batch of redeem codes is generated and stored on PostgreSQL, as a
 * ratio to a plain COPY of the same number of rows of the same shape into the same indexed table,
 * measured in the same run on a fresh database (absolute figures on a shared machine are noise).
 *
 *   npx tsx bench/codegen.ts           (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test;
 *                                       BENCH_CODES default 1000000, BENCH_ROUNDS default 2)
 *
 * Each round: (1) baseline: codes drawn beforehand (not timed), then one COPY of tenant_id,
 * batch_id, seq, code into the empty redeem_code table with both of its indexes; (2) the service:
 * createBatch + runBatch, exactly what the job, the CLI and POST .../redeem-codes run: drawing
 * the codes from the CSPRNG, chunked COPY with the progress committed per chunk. The table is
 * emptied and checkpointed before each measurement. Target: service <= 1.5 x baseline.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createMetricsRegistry } from '../src/app/metrics.js';
import { createServices } from '../src/app/services.js';
import { loadConfig } from '../src/config/load.js';
import { openPostgres } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { generateCodes, resolveRule } from '../src/modules/redeem-codes/redeem-code.rules.js';
import type { TenantActor } from '../src/platform/actor.js';
import { systemClock } from '../src/platform/clock.js';
import { admin, withDatabase } from './support.js';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const COUNT = Number(process.env.BENCH_CODES ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const TENANT = 'bench';

async function main(): Promise<void> {
  const dbName = `mh_codegen_${Date.now().toString(36)}`;
  await admin(ADMIN_URL, `create database ${dbName}`);
  const database = await openPostgres(withDatabase(ADMIN_URL, dbName), 4);
  try {
    await migrate(database);
    const config = loadConfig({ env: {}, file: null, overrides: { 'log.level': 'silent' } });
    const services = createServices({ config, db: database.db, clock: systemClock, registry: createMetricsRegistry(), masterKeyHash: null, pool: database.pool ?? null, warn: () => {} });
    const actor: TenantActor = { kind: 'tenant', tenantId: TENANT, keyId: 'bench', role: 'admin', productCodes: null };
    await services.tenants.createTenant({ tenant_id: TENANT, name: 'Bench' });
    await services.apps.createApp(actor, { product_code: 'app1', name: 'App' });
    const campaign = await services.campaigns.createCampaign(actor, { campaign_name: 'Codes', campaign_type: 'REDEEM_CODE', product_code: 'app1', start_time: '2020-01-01T00:00:00Z', end_time: '2099-01-01T00:00:00Z' });
    await services.campaigns.transitionCampaign(actor, campaign.campaign_id, 'publish');
    const reward = await services.rewards.createReward(actor, { reward_name: 'Points', reward_type: 'POINTS', product_code: 'app1', campaign_id: campaign.campaign_id, config: { generator: { points: 1 } } });
    const pool = database.pool!;
    const rule = resolveRule({ code_type: 'ALPHANUM', length: 12 });
    const rows: { round: number; baseline: number; service: number }[] = [];

    for (let round = 1; round <= ROUNDS; round++) {
      await reset(pool);
      const codes = generateCodes(rule, COUNT);
      let t = performance.now();
      await plainCopy(pool, codes);
      const baseline = (performance.now() - t) / 1000;
      await verify(pool, null);

      await reset(pool);
      t = performance.now();
      const { batch } = await services.redeemBatches.createBatch(actor, campaign.campaign_id, { count: COUNT, reward_id: reward.reward_id, code_type: 'ALPHANUM', length: 12 });
      const done = await services.redeemBatches.runBatch(TENANT, batch.batch_id);
      const service = (performance.now() - t) / 1000;
      if (done?.status !== 'DONE') throw new Error(`batch ended ${done?.status}`);
      await verify(pool, batch.batch_id);
      rows.push({ round, baseline, service });
      process.stdout.write(`round ${round}: plain COPY ${baseline.toFixed(2)} s, service ${service.toFixed(2)} s, ratio ${(service / baseline).toFixed(2)}\n`);
    }
    const best = (k: 'baseline' | 'service') => Math.min(...rows.map((r) => r[k]));
    process.stdout.write(
      [
        '',
        `bench/codegen: ${COUNT.toLocaleString('en')} ALPHANUM codes of 12 characters, PostgreSQL, ${ROUNDS} round(s), best of each`,
        `  baseline: plain COPY of pre-drawn rows   ${best('baseline').toFixed(2)} s  (${Math.round(COUNT / best('baseline')).toLocaleString('en')} rows/s)`,
        `  service:  draw + chunked COPY + progress ${best('service').toFixed(2)} s  (${Math.round(COUNT / best('service')).toLocaleString('en')} codes/s)`,
        `  ratio service / baseline: ${(best('service') / best('baseline')).toFixed(2)} (target <= 1.50)`,
        '',
      ].join('\n'),
    );
  } finally {
    await database.close();
    await admin(ADMIN_URL, `drop database if exists ${dbName} with (force)`);
  }
}

/** Empty code table and batches, and a checkpoint so no round pays for the previous one's writes. */
async function reset(pool: pg.Pool): Promise<void> {
  await pool.query('truncate redeem_code');
  await pool.query('delete from redeem_code_batch');
  await pool.query("insert into redeem_code_batch values ($1, 'rcb_baseline', 'c', 'r', 'app1', 'ALPHANUM', 12, '', 'X', false, null, null, 1, null, $2, 0, 'DONE', null, null, now(), now())", [TENANT, COUNT]);
  await pool.query('checkpoint');
}

async function plainCopy(pool: pg.Pool, codes: string[]): Promise<void> {
  const client = await pool.connect();
  try {
    const copy = client.query(copyFrom('copy redeem_code (tenant_id, batch_id, seq, code) from stdin'));
    function* lines() {
      let buf = '';
      for (let i = 0; i < codes.length; i++) {
        buf += `${TENANT}\trcb_baseline\t${i + 1}\t${codes[i]}\n`;
        if (buf.length > 1_000_000) {
          yield buf;
          buf = '';
        }
      }
      if (buf) yield buf;
    }
    await pipeline(Readable.from(lines()), copy);
  } finally {
    client.release();
  }
}

/** Every code stored once, seq 1..COUNT without gaps. */
async function verify(pool: pg.Pool, batchId: string | null): Promise<void> {
  const r = await pool.query('select count(*)::int as n, count(distinct code)::int as d, max(seq) as m from redeem_code where batch_id = $1', [batchId ?? 'rcb_baseline']);
  const { n, d, m } = r.rows[0] as { n: number; d: number; m: number };
  if (n !== COUNT || d !== COUNT || m !== COUNT) throw new Error(`expected ${COUNT} distinct codes seq 1..${COUNT}, found ${n} rows, ${d} distinct, max seq ${m}`);
}


main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
