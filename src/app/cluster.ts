import cluster from 'node:cluster';
import pino from 'pino';
import type { Config } from '../config/schema.js';
import { loggerOptions } from './build-app.js';
import { openMigratedDatabase } from './process.js';

/** Set in a worker's environment: its place (0, 1, ...) among the API processes. */
export const WORKER_INDEX_ENV = 'MARKETING_WORKER_INDEX';

/**
 * Several API processes on one port, one per core: the HTTP stack of one Node process uses one
 * core, however many the machine has. The primary migrates the database once, then forks
 * `workers` full servers that share the listening socket (Node's cluster), restarts one that dies,
 * and passes SIGTERM / SIGINT on, exiting once every worker has finished its requests.
 * Needs PostgreSQL: the embedded database belongs to one process.
 */
export async function runCluster(config: Readonly<Config>, workers: number): Promise<void> {
  const logger = pino(loggerOptions(config) as pino.LoggerOptions);
  if (!config.data.database.source) {
    throw new Error('server.workers > 1 needs PostgreSQL (DATABASE_URL): the embedded database can be opened by one process only');
  }
  const database = await openMigratedDatabase(config, logger);
  await database.close();

  let stopping = false;
  const fork = (index: number) => {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      logger.error({ index, code, signal }, 'API worker died; starting another');
      setTimeout(() => fork(index), 1000).unref();
    });
  };
  for (let i = 0; i < workers; i++) fork(i);

  const stop = () => {
    if (stopping) return;
    stopping = true;
    const alive = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    let left = alive.length;
    if (left === 0) process.exit(0);
    for (const w of alive) {
      w.once('exit', () => {
        left -= 1;
        if (left === 0) process.exit(0);
      });
      w.process.kill('SIGTERM');
    }
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** In a worker of runCluster: its index, else null (a single-process server). */
export function workerIndex(): number | null {
  if (!cluster.isWorker) return null;
  const n = Number(process.env[WORKER_INDEX_ENV]);
  return Number.isInteger(n) ? n : null;
}
