import { afterAll, beforeAll } from 'vitest';
import { postgresUrl } from '../helpers/database.js';
import { createScratchDatabase } from '../helpers/postgres-admin.js';
import { type ServerProcess, startServerProcess } from './server-process.js';

/**
 * Two `serve` processes over one scratch PostgreSQL database, for the describe block this is
 * called in: started before its tests, killed and the database dropped after. `servers` and
 * `url` (the database's) are filled in by then.
 */
export function twoServersOnScratchDatabase(label: string, masterKey: string): { servers: ServerProcess[]; url: string } {
  const cluster = { servers: [] as ServerProcess[], url: '' };
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const scratch = await createScratchDatabase(postgresUrl(), label);
    drop = scratch.drop;
    cluster.url = scratch.url;
    const env = { DATABASE_URL: scratch.url, MARKETING_MASTER_KEY: masterKey, MARKETING_DB_POOL_SIZE: '20' };
    cluster.servers = await Promise.all([startServerProcess(env), startServerProcess(env)]);
  });
  afterAll(async () => {
    await Promise.all(cluster.servers.map((s) => s.stop('SIGKILL')));
    await drop?.();
  });
  return cluster;
}
