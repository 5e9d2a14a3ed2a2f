import { afterAll, describe, expect, it } from 'vitest';
import { client, type ServerProcess, startServerProcess } from '../e2e/server-process.js';
import { prepareGrantTenant } from './support/grant-book.js';
import { startGrantLoad, summarize } from './support/grant-load.js';
import { mountSmallDisk, type SmallDisk, smallDiskUnavailable } from './support/small-disk.js';

/**
 * The embedded database (PGlite) on a disk that fills up: its data folder on a small tmpfs, a
 * filler file takes the rest, and grants keep coming. Writes that need room are refused cleanly,
 * reads are still answered, nothing half-written is left; once the filler is removed, the same
 * keys are sent again and each is granted exactly once.
 */
const FULL = process.env.MH_SYSTEM_FULL === '1';
const ORDERS = FULL ? 1_000 : 200;
const DISK_MB = 160;
const MASTER = 'system-master-key-0123456789abcdefghij';
const unavailable = smallDiskUnavailable();

describe.skipIf(unavailable)(`the embedded database's disk full${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let disk: SmallDisk | undefined;
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await disk?.destroy();
  });

  it('refuses writes cleanly while full, serves reads, and grants each key once after the space is freed', async () => {
    disk = await mountSmallDisk(DISK_MB);
    const env = { MARKETING_DATA_DIR: disk.path, MARKETING_MASTER_KEY: MASTER };
    // A fresh embedded database is made and migrated on the first start: slow on a busy machine.
    server = await startServerProcess(env, 400_000);
    const tenantId = 't_disk';
    const { apiKey, rewardId, must } = await prepareGrantTenant(server.url, MASTER, tenantId, ORDERS);
    const freeBefore = await disk.free();
    const filled = await disk.fill();

    const load = startGrantLoad({ servers: [server.url], apiKey, rewardId, orders: ORDERS, concurrency: 8, keyPrefix: 'disk' });
    const full = await load.done;
    const fullSummary = summarize(full);
    const http = client(server.url);
    const read = await http('GET', `/v1/rewards/${rewardId}`, { key: apiKey });
    const health = await http('GET', '/health');
    console.log(`disk full: ${freeBefore} bytes free before the filler (${filled} bytes); load ${JSON.stringify(fullSummary)}; read ${read.status}; health ${health.status}`);
    expect(fullSummary.byKind.hung).toBe(0);
    expect(fullSummary.byKind.lost).toBe(0);
    expect(Object.keys(fullSummary.byAnswer).filter((a) => a !== '201' && a !== '503 database_disk_full')).toEqual([]);
    expect(fullSummary.byAnswer['503 database_disk_full'] ?? 0).toBeGreaterThan(0);
    expect(read.status).toBe(200);

    await disk.drain();
    const freedAt = Date.now();
    const first = await startGrantLoad({ servers: [server.url], apiKey, rewardId, orders: 1, concurrency: 1, keyPrefix: 'disk', timeoutMs: 60_000, giveUpMs: 60_000 }).done;
    console.log(`first grant after freeing the disk: ${JSON.stringify(summarize(first).byAnswer)} in ${Date.now() - freedAt} ms`);
    // PGlite recovers in-process: no restart needed once there is room again.
    expect(summarize(first).granted).toBe(1);
    const again = await startGrantLoad({ servers: [server.url], apiKey, rewardId, orders: ORDERS, concurrency: 8, keyPrefix: 'disk' }).done;
    const againSummary = summarize(again);
    console.log(`after freeing the disk: ${JSON.stringify(againSummary)} in ${again.durationMs} ms`);
    expect(againSummary.granted).toBe(ORDERS);
    // Keys granted while the disk was full replay the same grant.
    for (const [i, f] of full.finals.entries()) if (f && f !== 'exhausted') expect(again.finals[i]).toBe(f);
    const listed = await must('GET', `/v1/reward-grants?reward_id=${rewardId}&page_size=1`, apiKey);
    expect(listed.pagination.total).toBe(ORDERS);
    expect((await must('GET', `/v1/rewards/${rewardId}`, apiKey)).stock).toMatchObject({ used: ORDERS, available: 0 });
  }, 900_000);
});
