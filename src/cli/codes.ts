/**
 * `marketing-hub codes generate | resume`: makes a batch of redeem codes with the same service as
 * POST /v1/campaigns/{id}/redeem-codes, in this process, with a progress bar. The batch's job is
 * enqueued too, 10 minutes out, so if this process dies a worker finishes the batch (or run
 * `codes resume`); resuming continues after the last committed chunk. The service is imported when a
 * command runs (main.ts says why).
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Services } from '../app/services.js';
import type { TenantActor } from '../platform/actor.js';

const JOB_SAFETY_DELAY_MS = 10 * 60_000;

const positive = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number of at least 1');
  return n;
};

interface GenerateOptions {
  tenant: string;
  campaign: string;
  reward: string;
  count: number;
  type: 'RANDOM_NUM' | 'ALPHANUM' | 'ALPHANUM_MIXED' | 'UUID';
  length?: number;
  prefix?: string;
  exclude?: string;
  checkChar?: boolean;
  groupSize?: number;
  expiresAt?: string;
  maxUses?: number;
  products?: string;
}

export function codesCommand(program: Command): void {
  const codes = program.command('codes').description('Redeem codes');
  codes
    .command('generate')
    .description('Generate a batch of redeem codes for a campaign, with a progress bar')
    .requiredOption('--tenant <tenant_id>', 'tenant id')
    .requiredOption('--campaign <campaign_id>', 'campaign id')
    .requiredOption('--reward <reward_id>', 'reward each redemption grants')
    .requiredOption('--count <n>', 'how many codes', positive)
    .addOption(new Option('--type <code_type>', 'code type').choices(['RANDOM_NUM', 'ALPHANUM', 'ALPHANUM_MIXED', 'UUID']).default('ALPHANUM'))
    .option('--length <n>', 'random characters per code (default 12)', positive)
    .option('--prefix <prefix>', 'letters and digits before every code')
    .option('--exclude <chars>', 'characters never used (default the look-alikes 0 O 1 I L)')
    .option('--check-char', 'append a check character')
    .option('--group-size <n>', 'show codes in dash-separated groups of this size', positive)
    .option('--expires-at <time>', 'RFC 3339 expiry')
    .option('--max-uses <n>', 'redemptions per code, each user once (default 1)', positive)
    .option('--products <codes>', 'comma list of product codes that may redeem')
    .action((opts: GenerateOptions) =>
      withServices(async (services) => {
        const actor = cliActor(opts.tenant);
        await services.tenants.requireTenantExists(opts.tenant);
        const products = opts.products?.split(',').map((c) => c.trim()).filter(Boolean);
        const started = Date.now();
        const { mirroredCreate } = await import('../modules/redeem-codes/index.js');
        const { batch } = await mirroredCreate(services.codeMirror, opts.tenant, () => services.redeemBatches.createBatch(
          actor,
          opts.campaign,
          {
            count: opts.count,
            reward_id: opts.reward,
            code_type: opts.type,
            ...(opts.length !== undefined && { length: opts.length }),
            ...(opts.prefix !== undefined && { prefix: opts.prefix }),
            ...(opts.exclude !== undefined && { exclude_chars: opts.exclude }),
            ...(opts.checkChar && { check_char: true }),
            ...(opts.groupSize !== undefined && { group_size: opts.groupSize }),
            ...(opts.expiresAt !== undefined && { expires_at: opts.expiresAt }),
            ...(opts.maxUses !== undefined && { max_uses: opts.maxUses }),
            ...(products?.length && { applicable_products: products }),
          },
          undefined,
          { deferJobMs: JOB_SAFETY_DELAY_MS },
        ));
        await run(services, opts.tenant, batch.batch_id, started);
      }),
    );
  codes
    .command('resume')
    .description('Finish a batch whose generation stopped (a crash); continues after the last committed chunk')
    .requiredOption('--tenant <tenant_id>', 'tenant id')
    .requiredOption('--batch <batch_id>', 'batch id')
    .action((opts: { tenant: string; batch: string }) =>
      withServices(async (services) => {
        await services.redeemBatches.getBatch(cliActor(opts.tenant), opts.batch);
        await run(services, opts.tenant, opts.batch, Date.now());
      }),
    );
  codes
    .command('reconcile')
    .description('Repair the Redis mirror of code states from the database (the database wins); prints what was fixed')
    .option('--tenant <tenant_id>', 'only this tenant (default every tenant with codes)')
    .option('--batch <batch_id>', 'only this batch (needs --tenant)')
    .action((opts: { tenant?: string; batch?: string }) =>
      withServices(async (services) => {
        if (opts.batch && !opts.tenant) {
          process.stderr.write('--batch needs --tenant\n');
          process.exitCode = 2;
          return;
        }
        if (!services.codeMirror.enabled) {
          process.stderr.write('No Redis configured (REDIS_URL / data.redis.addr): there is no mirror to reconcile\n');
          process.exitCode = 1;
          return;
        }
        const started = Date.now();
        const report = await services.codeReconciler.reconcile({ ...(opts.tenant && { tenantId: opts.tenant }), ...(opts.batch && { batchId: opts.batch }) });
        process.stdout.write(`${JSON.stringify({ ...report, seconds: Math.round((Date.now() - started) / 100) / 10 }, null, 2)}\n`);
      }),
    );
}

const cliActor = (tenantId: string): TenantActor => ({ kind: 'tenant', tenantId, keyId: 'cli', role: 'admin', productCodes: null });

async function run(services: Services, tenantId: string, batchId: string, started: number): Promise<void> {
  const before = await services.redeemBatches.getBatch(cliActor(tenantId), batchId);
  // A terminal gets a redrawn bar; a log file or CI gets one line per whole percent (chunks on
  // the embedded database are 500 codes: a line each would be 2,000 lines per million codes).
  const tty = Boolean(process.stderr.isTTY);
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar({ format: 'codes [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left', etaBuffer: 20, hideCursor: true }, Presets.shades_classic);
  if (tty) bar.start(before.total, before.generated);
  let shown = -1;
  const report = (generated: number, total: number) => {
    const percent = Math.floor((generated / total) * 100);
    if (tty) bar.update(generated);
    else if (percent !== shown) process.stderr.write(`codes ${generated}/${total} (${percent}%)\n`);
    shown = percent;
  };
  try {
    await services.redeemBatches.runBatch(tenantId, batchId, report);
  } finally {
    if (tty) bar.stop();
  }
  const done = await services.redeemBatches.getBatch(cliActor(tenantId), batchId);
  const { codes: _codes, ...summary } = done;
  process.stdout.write(`${JSON.stringify({ ...summary, seconds: Math.round((Date.now() - started) / 100) / 10 }, null, 2)}\n`);
  if (done.status !== 'DONE') process.exitCode = 1;
}

async function withServices(work: (services: Services) => Promise<void>): Promise<void> {
  const [{ loadConfig }, { openDatabase }, { migrate }, { createMetricsRegistry }, { createServices }, { systemClock }] = await Promise.all([
    import('../config/load.js'),
    import('../db/client.js'),
    import('../db/migrate.js'),
    import('../app/metrics.js'),
    import('../app/services.js'),
    import('../platform/clock.js'),
  ]);
  const config = loadConfig();
  const database = await openDatabase({ url: config.data.database.source, dataDir: config.data.dir, poolSize: 3, preparedStatements: config.data.database.prepared_statements });
  try {
    await migrate(database);
    const services = createServices({
      config,
      db: database.db,
      clock: systemClock,
      registry: createMetricsRegistry(),
      masterKeyHash: null,
      pool: database.pool ?? null,
      warn: (err, message) => process.stderr.write(`${message}: ${String(err)}\n`),
    });
    try {
      await work(services);
    } finally {
      await services.close();
    }
  } finally {
    await database.close();
  }
}
