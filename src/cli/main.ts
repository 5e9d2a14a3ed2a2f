import { Command, InvalidArgumentError, Option } from 'commander';
import type { DatabaseHandle } from '../db/client.js';
import { MASTER, type TenantActor } from '../platform/actor.js';
import { codesCommand } from './codes.js';
import { operatorsCommand } from './operators.js';

/**
 * `marketing-hub serve | worker | migrate | tenants ... | keys ... | apps ... | operators ... | config`. Every command
 * calls the same services as HTTP does; admin commands act with platform (master) rights because
 * whoever runs them already holds the database credentials. Each action imports what it needs when
 * it runs, so `--help` or `config` never load the whole service (start-up stays well under a
 * second compiled; docs/operations.md has the figures).
 */
const program = new Command('marketing-hub').description('marketing-hub: marketing middle platform').showHelpAfterError();

const positive = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError('a whole number 1-64');
  return n;
};

const port = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port number 0-65535');
  return n;
};

program
  .command('serve')
  .description('Run the HTTP API (migrates the database first)')
  .addOption(new Option('-p, --port <port>', 'HTTP port (default 8105, or PORT)').argParser(port))
  .option('--host <host>', 'listen address')
  .addOption(new Option('-w, --workers <n>', 'API processes sharing the port, e.g. one per core (PostgreSQL only)').argParser(positive))
  .action(async (opts: { port?: number; host?: string; workers?: number }) => {
    const [{ loadConfig }, { runCluster, workerIndex }, { startServer }] = await Promise.all([
      import('../config/load.js'),
      import('../app/cluster.js'),
      import('../app/server.js'),
    ]);
    const overrides: Record<string, unknown> = {};
    if (opts.port !== undefined) overrides['server.http.port'] = opts.port;
    if (opts.host) overrides['server.http.host'] = opts.host;
    if (opts.workers !== undefined) overrides['server.workers'] = opts.workers;
    const index = workerIndex();
    // In a cluster, worker 0 alone runs the in-process jobs and prints the banner.
    if (index !== null && index > 0) overrides['jobs.in_process'] = false;
    const config = loadConfig({ overrides });
    if (index === null && config.server.workers > 1) await runCluster(config, config.server.workers);
    else await startServer(config, { quiet: index !== null && index > 0 });
  });

program
  .command('worker')
  .description('Run the background jobs without HTTP (migrates the database first); for API processes with MARKETING_JOBS_IN_PROCESS=false')
  .action(async () => {
    const [{ loadConfig }, { startWorker }] = await Promise.all([import('../config/load.js'), import('../app/worker.js')]);
    await startWorker(loadConfig());
  });

program
  .command('migrate')
  .description('Apply pending database migrations and exit')
  .action(() =>
    withDatabase(async (database) => {
      const { migrate } = await import('../db/migrate.js');
      const result = await migrate(database);
      if (result.applied.length) print(`applied: ${result.applied.join(', ')}`);
      if (result.functions.length) print(`functions applied: ${result.functions.join(', ')}`);
      if (!result.applied.length && !result.functions.length) print('database is up to date');
    }),
  );

program
  .command('config')
  .description('Print the effective configuration (secrets masked)')
  .action(async () => {
    const { describeConfig, loadConfig } = await import('../config/load.js');
    print(describeConfig(loadConfig()));
  });

const tenants = program.command('tenants').description('Manage tenants');
tenants
  .command('create')
  .requiredOption('--id <tenant_id>', 'tenant id')
  .requiredOption('--name <name>', 'display name')
  .action((opts: { id: string; name: string }) =>
    withServices(async ({ tenants }) => print(await tenants.createTenant({ tenant_id: opts.id, name: opts.name }))),
  );
tenants.command('list').action(() => withServices(async ({ tenants }) => print(await tenants.listTenants({ page_size: 500 }))));

const keys = program.command('keys').description('Manage API keys');
keys
  .command('create')
  .requiredOption('--tenant <tenant_id>', 'tenant id')
  .requiredOption('--name <name>', 'what the key is for')
  .addOption(new Option('--role <role>', 'key role').choices(['admin', 'service', 'readonly']).default('service'))
  .option('--product-codes <codes>', 'comma list of product codes the key is limited to')
  .action((opts: { tenant: string; name: string; role: 'admin' | 'service' | 'readonly'; productCodes?: string }) =>
    withServices(async ({ apiKeys }) => {
      const productCodes = opts.productCodes?.split(',').map((c) => c.trim()).filter(Boolean);
      print(await apiKeys.createKey(MASTER, opts.tenant, { name: opts.name, role: opts.role, ...(productCodes?.length ? { product_codes: productCodes } : {}) }));
    }),
  );
keys
  .command('list')
  .requiredOption('--tenant <tenant_id>', 'tenant id')
  .action((opts: { tenant: string }) => withServices(async ({ apiKeys }) => print(await apiKeys.listKeys(MASTER, opts.tenant, { page_size: 500 }))));
keys
  .command('revoke')
  .requiredOption('--tenant <tenant_id>', 'tenant id')
  .requiredOption('--key <key_id>', 'key id')
  .action((opts: { tenant: string; key: string }) => withServices(async ({ apiKeys }) => print(await apiKeys.revokeKey(MASTER, opts.tenant, opts.key))));

const apps = program.command('apps').description('Manage apps (product lines) of a tenant');
apps
  .command('create')
  .requiredOption('--tenant <tenant_id>', 'tenant id')
  .requiredOption('--product-code <code>', 'product code')
  .requiredOption('--name <name>', 'display name')
  .action((opts: { tenant: string; productCode: string; name: string }) =>
    withServices(async ({ tenants, apps }) => {
      await tenants.requireTenantExists(opts.tenant);
      const admin: TenantActor = { kind: 'tenant', tenantId: opts.tenant, keyId: 'cli', role: 'admin', productCodes: null };
      print(await apps.createApp(admin, { product_code: opts.productCode, name: opts.name }));
    }),
  );

codesCommand(program);
operatorsCommand(program);

async function withDatabase(work: (database: DatabaseHandle) => Promise<void>): Promise<void> {
  const [{ loadConfig }, { openDatabase }] = await Promise.all([import('../config/load.js'), import('../db/client.js')]);
  const config = loadConfig();
  const database = await openDatabase({ url: config.data.database.source, dataDir: config.data.dir, poolSize: 2 });
  try {
    await work(database);
  } finally {
    await database.close();
  }
}

function withServices(work: (services: CliServices) => Promise<void>): Promise<void> {
  return withDatabase(async (database) => {
    const { migrate } = await import('../db/migrate.js');
    await migrate(database);
    await work(await buildServices(database));
  });
}

type CliServices = Awaited<ReturnType<typeof buildServices>>;

async function buildServices(database: DatabaseHandle) {
  const [{ createAppService }, { createApiKeyService, createTenantService }, { systemClock }] = await Promise.all([
    import('../modules/apps/index.js'),
    import('../modules/tenants/index.js'),
    import('../platform/clock.js'),
  ]);
  const { db } = database;
  const clock = systemClock;
  const apps = createAppService({ db, clock });
  return {
    apps,
    tenants: createTenantService({ db, clock }),
    apiKeys: createApiKeyService({ db, clock, apps, masterKeyHash: () => null, cacheSeconds: 0 }),
  };
}

function print(value: unknown): void {
  process.stdout.write(typeof value === 'string' ? `${value}\n` : `${JSON.stringify(value, null, 2)}\n`);
}

program.parseAsync(process.argv).catch(async (err: unknown) => {
  // Loaded only on failure: the classes whose messages are said as they are.
  const [{ ConfigError }, { MasterKeyRequiredError }, { DataDirInUseError }, { isAppError }] = await Promise.all([
    import('../config/load.js'),
    import('../modules/tenants/index.js'),
    import('../db/data-dir-lock.js'),
    import('../platform/errors.js'),
  ]);
  if (err instanceof ConfigError || err instanceof MasterKeyRequiredError || err instanceof DataDirInUseError) {
    process.stderr.write(`${err.message}\n`);
  } else if (isAppError(err)) {
    process.stderr.write(`error: ${err.code}: ${err.message}\n`);
  } else {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(1);
});
