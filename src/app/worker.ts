import pino from 'pino';
import type { Config } from '../config/schema.js';
import type { DatabaseHandle } from '../db/client.js';
import { systemClock } from '../platform/clock.js';
import type { JobRunner } from '../platform/jobs.js';
import { loggerOptions } from './build-app.js';
import { createMetricsRegistry } from './metrics.js';
import { describeDatabase, openMigratedDatabase, startJobRunner, stopOnSignals } from './process.js';
import { createServices, type Services } from './services.js';
import { startWorkerMetrics, type WorkerMetricsServer } from './worker-metrics.js';

export interface RunningWorker {
  runner: JobRunner;
  database: DatabaseHandle;
  /** The port of the worker's /metrics and /health, or null when none is served. */
  metricsPort: number | null;
  /** Stops polling, waits for running jobs, closes the database. */
  stop(): Promise<void>;
}

/**
 * `marketing-hub worker`: runs the job queues and sweeps without HTTP, on the same services the
 * API builds, so that at scale API processes (`jobs.in_process: false`) only serve requests.
 */
export async function startWorker(config: Readonly<Config>, options: { handleSignals?: boolean } = {}): Promise<RunningWorker> {
  const logger = pino(loggerOptions(config) as pino.LoggerOptions);
  const database = await openMigratedDatabase(config, logger);
  let runner: JobRunner | undefined;
  let services: Services | undefined;
  let metrics: WorkerMetricsServer | undefined;
  try {
    const registry = createMetricsRegistry();
    services = createServices({
      config,
      db: database.db,
      clock: systemClock,
      registry,
      // No HTTP here, so no request is ever authenticated with the master key.
      masterKeyHash: null,
      databaseKind: database.kind,
      pool: database.pool ?? null,
      warn: (err, message) => logger.warn({ err }, message),
    });
    runner = startJobRunner(config, database, services, logger);
    const opened = services;
    const port = config.jobs.worker_metrics_port;
    metrics = port > 0 ? await startWorkerMetrics(registry, { host: config.server.http.host, port, log: logger }) : undefined;
    const served = metrics;
    const metricsAt = served?.port ? `; metrics on http://${['0.0.0.0', '::'].includes(config.server.http.host) ? 'localhost' : config.server.http.host}:${served.port}/metrics` : '';
    process.stdout.write(`marketing-hub worker is working on ${describeDatabase(database)} (polling every ${config.jobs.poll_ms} ms)${metricsAt}; stop with SIGTERM or Ctrl+C\n`);

    const started = runner;
    let stopping: Promise<void> | undefined;
    const worker: RunningWorker = {
      runner: started,
      database,
      metricsPort: served?.port ?? null,
      stop: () => {
        stopping ??= (async () => {
          await started.stop();
          await served?.close();
          await opened.close();
          await database.close();
        })();
        return stopping;
      },
    };
    if (options.handleSignals !== false) stopOnSignals(worker.stop, config, logger);
    return worker;
  } catch (err) {
    await runner?.stop().catch(() => {});
    await metrics?.close().catch(() => {});
    await services?.close().catch(() => {});
    await database.close().catch(() => {});
    throw err;
  }
}
