import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { postgresUrl, testDbKind } from '../helpers/database.js';
import { createScratchDatabase } from '../helpers/postgres-admin.js';
import { client, runCli, startServerProcess } from './server-process.js';

/** `serve --workers N`: several API processes on one port (src/app/cluster.ts). */
const onPostgres = testDbKind() === 'postgres';
const MASTER = 'e2e-master-key-0123456789abcdefghij';

describe('serve with several worker processes', () => {
  it.runIf(onPostgres)('serves from two processes on one port, grants exactly, and stops on SIGTERM', async () => {
    const scratch = await createScratchDatabase(postgresUrl(), 'cluster');
    const server = await startServerProcess({ DATABASE_URL: scratch.url, MARKETING_MASTER_KEY: MASTER, MARKETING_WORKERS: '2' });
    try {
      const workers = execFileSync('ps', ['--ppid', String(server.child.pid), '-o', 'pid=']).toString().trim().split('\n');
      expect(workers).toHaveLength(2);
      const http = client(server.url);
      const must = async (method: string, path: string, key: string, body?: unknown) => {
        const r = await http(method, path, { key, ...(body !== undefined ? { body } : {}) });
        if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      };
      await must('POST', '/v1/tenants', MASTER, { tenant_id: 'c1', name: 'Cluster' });
      const key = (await must('POST', '/v1/tenants/c1/api-keys', MASTER, { name: 'k', role: 'admin' })).key as string;
      await must('POST', '/v1/apps', key, { product_code: 'app1', name: 'App' });
      const reward = await must('POST', '/v1/rewards', key, {
        reward_name: 'points',
        reward_type: 'POINTS',
        product_code: 'app1',
        total_stock: 25,
        config: { generator: { points: 5 } },
      });
      const replies = await Promise.all(
        Array.from({ length: 100 }, (_, i) => http('POST', '/v1/reward-grants', { key, body: { reward_id: reward.reward_id, user_id: `u${i}` } })),
      );
      expect(replies.filter((r) => r.status === 201)).toHaveLength(25);
      expect(replies.filter((r) => r.status === 409 && r.body.error.code === 'inventory_exhausted')).toHaveLength(75);
      expect((await must('GET', `/v1/rewards/${reward.reward_id}`, key)).stock).toMatchObject({ used: 25, available: 0 });
      expect(await server.stop('SIGTERM')).toBe(0);
    } finally {
      await server.stop('SIGKILL');
      await scratch.drop();
    }
  });

  it.runIf(!onPostgres)('refuses several workers on the embedded database, saying why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mh-cluster-'));
    try {
      const { code, output } = await runCli(['serve', '--port', '0', '--workers', '2'], { MARKETING_DATA_DIR: dir });
      expect(code).toBe(1);
      expect(output).toContain('needs PostgreSQL');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
