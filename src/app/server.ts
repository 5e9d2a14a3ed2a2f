import pino from 'pino';
import type { Config } from '../config/schema.js';
import { maskUrl } from '../config/load.js';
import { type DatabaseHandle, openDatabase } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { resolveMasterKey } from '../modules/tenants/index.js';
import { systemClock } from '../platform/clock.js';
import { createJobRunner, type JobRunner } from '../platform/jobs.js';
import { buildApp, loggerOptions } from './build-app.js';
import { registerJobHandlers } from './services.js';
import type { Api } from './types.js';

export interface RunningServer {
  app: Api;
  database: DatabaseHandle;
  url: string;
  /** The in-process job runner, or undefined when `jobs.in_process` is false. */
  jobs: JobRunner | undefined;
  stop(): Promise<void>;
}

/** Opens the database, migrates it, resolves the master key, listens, and runs the in-process workers. */
export async function startServer(config: Readonly<Config>, options: { handleSignals?: boolean } = {}): Promise<RunningServer> {
  const logger = pino(loggerOptions(config) as pino.LoggerOptions);
  const database = await openDatabase({
    url: config.data.database.source,
    dataDir: config.data.dir,
    poolSize: config.data.database.pool_size,
  });
  let app: Api | undefined;
  let jobs: JobRunner | undefined;
  try {
    const migrations = await migrate(database);
    if (migrations.applied.length > 0) logger.info({ applied: migrations.applied }, 'migrations applied');
    const master = await resolveMasterKey(database, config.auth.master_key);
    if (config.server.grpc?.addr) logger.warn('server.grpc is set but marketing-hub serves HTTP only; it is ignored');

    app = await buildApp({ config, database, masterKeyHash: master.hash, logger });
    await app.listen({ host: config.server.http.host, port: config.server.http.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.server.http.port;
    const shownHost = ['0.0.0.0', '::'].includes(config.server.http.host) ? 'localhost' : config.server.http.host;
    const url = `http://${shownHost}:${port}`;
    printBanner(url, database, master.generated);

    if (config.jobs.in_process) {
      // Started only once the app listens, so a process that fails to start never runs jobs.
      jobs = createJobRunner({
        db: database.db,
        clock: systemClock,
        log: logger.child({ component: 'jobs' }),
        pollMs: config.jobs.poll_ms,
        lockSeconds: config.jobs.lock_seconds,
      });
      registerJobHandlers(jobs, app.services);
      jobs.start();
    }

    let stopping: Promise<void> | undefined;
    const running: RunningServer = {
      app,
      database,
      url,
      jobs,
      stop: () => {
        stopping ??= (async () => {
          // Requests and running jobs finish side by side; the database closes after both.
          await Promise.all([app!.close(), jobs?.stop()]);
          await database.close();
        })();
        return stopping;
      },
    };
    if (options.handleSignals !== false) installSignalHandlers(running, config, logger);
    return running;
  } catch (err) {
    await jobs?.stop().catch(() => {});
    await app?.close().catch(() => {});
    await database.close().catch(() => {});
    throw err;
  }
}

function printBanner(url: string, database: DatabaseHandle, generatedMasterKey: string | undefined): void {
  const where = database.kind === 'pglite' ? `embedded PGlite at ${database.location}` : `PostgreSQL ${maskUrl(database.location)}`;
  const lines = [
    '',
    `marketing-hub is listening on ${url}`,
    `  API      ${url}/v1`,
    `  Docs     ${url}/docs   (OpenAPI: ${url}/openapi.json)`,
    `  Metrics  ${url}/metrics`,
    `  Health   ${url}/health`,
    `  Database ${where}`,
  ];
  if (generatedMasterKey) {
    lines.push(
      '',
      '  A master key was generated for this embedded install. It is shown ONCE and only its hash is kept:',
      `    ${generatedMasterKey}`,
      '  Keep it, or set MARKETING_MASTER_KEY to a key of your own.',
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

/** SIGTERM / SIGINT: stop accepting, let in-flight requests and jobs finish, close the database, exit. */
function installSignalHandlers(server: RunningServer, config: Readonly<Config>, logger: pino.Logger): void {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, config.server.shutdown_grace_ms);
    force.unref();
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
