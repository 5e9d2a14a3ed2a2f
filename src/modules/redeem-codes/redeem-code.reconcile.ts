/**
 * Reconciling the Redis mirror with the database (the redemption-state compensation job, 核销状态补偿): the database
 * wins. Every code and batch entry of the tenant (or one batch) is compared with its row and
 * rewritten when it differs; entries of codes or batches the database does not have, and pending
 * tokens of writers that died, are deleted. Run by a periodic job and `codes reconcile`.
 *
 * It may race live redemptions: it can write back a state it read just before a redemption
 * committed (the mirror then says "active" for a used code). That errs towards asking the
 * database, which refuses and, in doing so, teaches the mirror again; it never makes the mirror
 * refuse a live code, because the database's state only ever moves towards used.
 */
import type { Redis } from 'ioredis';
import type { Database } from '../../db/client.js';
import { ensureRedisConnected } from '../../platform/redis.js';
import { batchValue, codeValue, type CodeMirror, type MirrorMetrics } from './redeem-code.mirror.js';
import * as repo from './redeem-code.repo.js';

export interface ReconcileReport {
  tenants: number;
  batches: number;
  codes: number;
  /** Entries rewritten or deleted, by kind. */
  fixed: { missing: number; wrong: number; extra: number; batches: number; pending: number };
}

const SCAN_PAGE = 1000;

export function createReconciler(deps: { db: Database; mirror: CodeMirror; redis: Redis | null; metrics: MirrorMetrics; pageSize: number }) {
  const { db, mirror, metrics } = deps;

  async function reconcileTenant(tenantId: string, batchId: string | undefined, report: ReconcileReport): Promise<void> {
    const redis = deps.redis!;
    const keys = mirror.keys(tenantId);
    let q = db.selectFrom('redeem_code_batch').selectAll().where('tenant_id', '=', tenantId);
    if (batchId) q = q.where('batch_id', '=', batchId);
    const batches = await q.execute();
    for (const batch of batches) {
      report.batches++;
      const want = batchValue(batch);
      if ((await redis.hget(keys.batches, batch.batch_id)) !== want) {
        await redis.hset(keys.batches, batch.batch_id, want);
        report.fixed.batches++;
      }
      let after = 0;
      for (;;) {
        const page = await repo.pageOfBatch(db, tenantId, batch.batch_id, after, deps.pageSize);
        if (page.length === 0) break;
        const have = await redis.hmget(keys.codes, ...page.map((c) => c.code));
        const fix: Record<string, string> = {};
        page.forEach((c, i) => {
          const value = codeValue({ ...c, max_uses: batch.max_uses });
          if (have[i] === value) return;
          if (have[i] === null) report.fixed.missing++;
          else report.fixed.wrong++;
          fix[c.code] = value;
        });
        if (Object.keys(fix).length) await redis.hset(keys.codes, fix);
        report.codes += page.length;
        if (page.length < deps.pageSize) break;
        after = page.at(-1)!.seq;
      }
    }
    if (batchId) return;
    // What Redis holds that the database does not: codes and batches, in pages (HSCAN, not HKEYS).
    let cursor = '0';
    do {
      const [next, flat] = await redis.hscan(keys.codes, cursor, 'COUNT', SCAN_PAGE);
      cursor = next;
      const fields = flat.filter((_, i) => i % 2 === 0);
      if (fields.length === 0) continue;
      const known = new Set(
        (await db.selectFrom('redeem_code').select('code').where('tenant_id', '=', tenantId).where('code', 'in', fields).execute()).map((r) => r.code),
      );
      const extra = fields.filter((f) => !known.has(f));
      if (extra.length) report.fixed.extra += await redis.hdel(keys.codes, ...extra);
    } while (cursor !== '0');
    const realBatches = new Set(batches.map((b) => b.batch_id));
    const extraBatches = (await redis.hkeys(keys.batches)).filter((b) => !realBatches.has(b));
    if (extraBatches.length) report.fixed.extra += await redis.hdel(keys.batches, ...extraBatches);
    // Tokens of writers that died before releasing them (expired; live ones are left alone).
    const pending = await redis.hgetall(keys.pending);
    const dead = Object.entries(pending).filter(([, until]) => !(Number(until) > Date.now())).map(([token]) => token);
    if (dead.length) report.fixed.pending += await redis.hdel(keys.pending, ...dead);
  }

  return {
    /** Repairs the mirror of one tenant (or one batch of it), or of every tenant with codes. */
    async reconcile(options: { tenantId?: string; batchId?: string } = {}): Promise<ReconcileReport> {
      const report: ReconcileReport = { tenants: 0, batches: 0, codes: 0, fixed: { missing: 0, wrong: 0, extra: 0, batches: 0, pending: 0 } };
      if (!deps.redis) return report;
      await ensureRedisConnected(deps.redis);
      const tenants = options.tenantId
        ? [options.tenantId]
        : (await db.selectFrom('redeem_code_batch').select('tenant_id').distinct().execute()).map((r) => r.tenant_id);
      for (const tenantId of tenants) {
        report.tenants++;
        await reconcileTenant(tenantId, options.batchId, report);
      }
      for (const [kind, n] of Object.entries(report.fixed)) if (n) metrics.fixed.inc({ kind }, n);
      return report;
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
