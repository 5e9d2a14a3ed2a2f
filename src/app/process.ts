import type pino from 'pino';
import { maskUrl } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { type DatabaseHandle, openDatabase } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { systemClock } from '../platform/clock.js';
import { createJobRunner, type JobRunner } from '../platform/jobs.js';
import { registerJobHandlers } from './job-handlers.js';
import type { Services } from './services.js';

/** What the API process and the worker process share: open the database and migrate it. */
export async function openMigratedDatabase(config: Readonly<Config>, logger: pino.Logger): Promise<DatabaseHandle> {
  const database = await openDatabase({
    url: config.data.database.source,
    dataDir: config.data.dir,
    poolSize: config.data.database.pool_size,
    preparedStatements: config.data.database.prepared_statements,
  });
  try {
    const migrations = await migrate(database);
    if (migrations.applied.length > 0) logger.info({ applied: migrations.applied }, 'migrations applied');
    if (migrations.functions.length > 0) logger.info({ functions: migrations.functions }, 'database functions applied');
    return database;
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
}

/** A started job runner with every queue and sweep of the product. */
export function startJobRunner(config: Readonly<Config>, database: DatabaseHandle, services: Services, logger: pino.Logger): JobRunner {
  const runner = createJobRunner({
    db: database.db,
    clock: systemClock,
    log: logger.child({ component: 'jobs' }),
    pollMs: config.jobs.poll_ms,
    lockSeconds: config.jobs.lock_seconds,
  });
  registerJobHandlers(runner, services, undefined, config.redeem_codes.mirror_reconcile_minutes * 60_000);
  runner.start();
  return runner;
}

export const describeDatabase = (database: DatabaseHandle) =>
  database.kind === 'pglite' ? `embedded PGlite at ${database.location}` : `PostgreSQL ${maskUrl(database.location)}`;

/**
 * SIGTERM / SIGINT: `stop` (stop accepting, let in-flight requests and jobs finish, close the
 * database), then exit 0; exit 1 if that takes longer than the grace period or fails. A job cut
 * off is not lost: its lease expires and another worker runs it again.
 */
export function stopOnSignals(stop: () => Promise<void>, config: Readonly<Config>, logger: pino.Logger): void {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, config.server.shutdown_grace_ms);
    force.unref();
    stop().then(
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
