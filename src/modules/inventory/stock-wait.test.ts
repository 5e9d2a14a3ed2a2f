import { sql } from 'kysely';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { codeCampaign } from '../../../test/helpers/redeem-code-helpers.js';
import { testDbKind } from '../../../test/helpers/database.js';
import { testApp } from '../../../test/helpers/test-app.js';

/**
 * mh_take_stock step 2 (sql/mh_take_stock.sql): a taker that waited for a slot and found it filled must
 * not keep that slot locked. It used to (PostgreSQL locks the row before rechecking), and then
 * queued for step 3's advisory lock holding it, while the taker in step 3 waited for that slot:
 * a deadlock. Three connections of the pool replay the interleaving step by step.
 */
describe.runIf(testDbKind() === 'postgres')('stock: waiting for a slot', () => {
  it('a taker whose slot filled while it waited holds no lock on it afterwards', async () => {
    const app = await testApp();
    const t = await app.newTenant();
    const { rewardId } = await codeCampaign(t, { total_stock: 2 }); // two slots of one unit
    const pool = app.database.pool!;
    const [holder, taker, probe] = [await pool.connect(), await pool.connect(), await pool.connect()];
    const slot = (c: pg.PoolClient, n: number, tail: string) =>
      c.query(`select slot from reward_stock_slot where tenant_id = $1 and reward_id = $2 and slot = $3 ${tail}`, [t.tenantId, rewardId, n]);
    try {
      // Slot 1 is used up; slot 0 has room but the holder has it locked.
      await sql`update reward_stock_slot set used = 1 where tenant_id = ${t.tenantId} and reward_id = ${rewardId} and slot = 1`.execute(app.database.db);
      await holder.query('begin');
      await slot(holder, 0, 'for update');
      // The taker finds no free slot it may take at once (step 1) and waits for slot 0 (step 2).
      const takerPid = (await taker.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      await taker.query('begin');
      const taking = taker.query<{ r: unknown }>(`select mh_take_stock($1, $2, 1, 'used') as r`, [t.tenantId, rewardId]);
      await waitUntil(async () => (await probe.query(`select count(*)::int as n from pg_locks where pid = $1 and not granted`, [takerPid])).rows[0].n > 0);
      // The holder fills slot 0 and commits: the taker's recheck fails; no slot has room (step 3).
      await holder.query(`update reward_stock_slot set used = 1 where tenant_id = $1 and reward_id = $2 and slot = 0`, [t.tenantId, rewardId]);
      await holder.query('commit');
      expect((await taking).rows[0]!.r).toEqual({ free: 0 });
      // Still inside the taker's transaction: slot 0 is free to lock for anyone else.
      await probe.query('begin');
      await expect(slot(probe, 0, 'for update nowait')).resolves.toMatchObject({ rowCount: 1 });
      await probe.query('rollback');
      await taker.query('rollback');
    } finally {
      for (const c of [holder, taker, probe]) c.release();
    }
  });
});

async function waitUntil(ready: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await ready()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('timed out waiting');
}
