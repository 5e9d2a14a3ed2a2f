import pino from 'pino';
import { maskUrl } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { type DatabaseHandle, openDatabase } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { systemClock } from '../platform/clock.js';
import { createJobRunner, type JobRunner } from '../platform/jobs.js';
import { loggerOptions } from './build-app.js';
import { createMetricsRegistry } from './metrics.js';
import { createServices, registerJobHandlers } from './services.js';

export interface RunningWorker {
  runner: JobRunner;
  database: DatabaseHandle;
  /** Stops polling, waits for running jobs, closes the database. */
  stop(): Promise<void>;
}

/**
 * `marketing-hub worker`: runs the job queues and sweeps without HTTP, on the same services the
 * API builds, so that at scale API processes (`jobs.in_process: false`) only serve requests.
 */
export async function startWorker(config: Readonly<Config>, options: { handleSignals?: boolean } = {}): Promise<RunningWorker> {
  const logger = pino(loggerOptions(config) as pino.LoggerOptions);
  const database = await openDatabase({
    url: config.data.database.source,
    dataDir: config.data.dir,
    poolSize: config.data.database.pool_size,
  });
  let runner: JobRunner | undefined;
  try {
    const migrations = await migrate(database);
    if (migrations.applied.length > 0) logger.info({ applied: migrations.applied }, 'migrations applied');
    const services = createServices({
      config,
      db: database.db,
      clock: systemClock,
      // Nothing scrapes a worker's metrics yet; the services still want somewhere to count.
      registry: createMetricsRegistry(),
      // No HTTP here, so no request is ever authenticated with the master key.
      masterKeyHash: null,
      warn: (err, message) => logger.warn({ err }, message),
    });
    runner = createJobRunner({
      db: database.db,
      clock: systemClock,
      log: logger.child({ component: 'jobs' }),
      pollMs: config.jobs.poll_ms,
      lockSeconds: config.jobs.lock_seconds,
    });
    registerJobHandlers(runner, services);
    runner.start();

    const where = database.kind === 'pglite' ? `embedded PGlite at ${database.location}` : `PostgreSQL ${maskUrl(database.location)}`;
    process.stdout.write(`marketing-hub worker is working on ${where} (polling every ${config.jobs.poll_ms} ms); stop with SIGTERM or Ctrl+C\n`);

    const started = runner;
    let stopping: Promise<void> | undefined;
    const worker: RunningWorker = {
      runner: started,
      database,
      stop: () => {
        stopping ??= (async () => {
          await started.stop();
          await database.close();
        })();
        return stopping;
      },
    };
    if (options.handleSignals !== false) installSignalHandlers(worker, config, logger);
    return worker;
  } catch (err) {
    await runner?.stop().catch(() => {});
    await database.close().catch(() => {});
    throw err;
  }
}

/** SIGTERM / SIGINT: stop claiming, let running jobs finish (within the grace period), exit. */
function installSignalHandlers(worker: RunningWorker, config: Readonly<Config>, logger: pino.Logger): void {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'worker shutting down');
    // A job cut off here is not lost: its lease expires and another worker runs it again.
    const force = setTimeout(() => {
      logger.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, config.server.shutdown_grace_ms);
    force.unref();
    worker.stop().then(
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
