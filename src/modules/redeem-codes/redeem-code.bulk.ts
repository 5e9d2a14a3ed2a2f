/**
 * Writing codes in bulk. One chunk = its codes plus the batch's progress counter, in one
 * transaction, so progress on disk always equals the codes on disk (resume without duplicates or
 * gaps). On PostgreSQL chunks go through COPY (pg-copy-streams), the fastest way into a table;
 * elsewhere (PGlite, or inside a caller's transaction) through one INSERT ... SELECT FROM unnest
 * of two arrays, which also skips codes that collide with existing ones so they can be redrawn.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sql } from 'kysely';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Executor } from '../../db/client.js';
import { constraintName, isUniqueViolation } from '../../db/errors.js';

export interface ChunkTarget {
  tenantId: string;
  batchId: string;
  /** The batch's `generated` before this chunk: the chunk is seq from + 1 .. from + codes.length. */
  from: number;
  total: number;
  now: Date;
}

/** written: committed; stale: another writer moved the batch on (or voided it); collision: redraw. */
export type ChunkOutcome = 'written' | 'stale' | 'collision';

const PROGRESS_SQL = `update redeem_code_batch
   set generated = $3, status = case when $3 = total then 'DONE' else 'RUNNING' end, updated_at = $4
 where tenant_id = $1 and batch_id = $2 and generated = $5 and status in ('PENDING', 'RUNNING')`;

/**
 * Moves the batch's progress from `from` to `to`, only if it still is at `from` and not voided.
 * Taken first in the chunk's transaction, its row lock makes a second writer of the same chunk
 * (a job whose lease expired while it was still running) wait, then find it moved and stop.
 */
export async function advanceProgress(exec: Executor, t: ChunkTarget, to: number): Promise<boolean> {
  const r = await sql`update redeem_code_batch
      set generated = ${to}, status = case when ${to} = total then 'DONE' else 'RUNNING' end, updated_at = ${t.now}
    where tenant_id = ${t.tenantId} and batch_id = ${t.batchId} and generated = ${t.from} and status in ('PENDING', 'RUNNING')`.execute(exec);
  return Number(r.numAffectedRows ?? 0) === 1;
}

/**
 * Inserts codes seq from+1.. through `exec` (a transaction the caller holds), skipping codes
 * that already exist in the tenant. Returns the seqs that were skipped, to be redrawn.
 */
export async function insertCodes(exec: Executor, t: Pick<ChunkTarget, 'tenantId' | 'batchId'>, seqs: number[], codes: string[]): Promise<number[]> {
  const r = await sql<{ n: number }>`
    with ins as (
      insert into redeem_code (tenant_id, batch_id, seq, code)
      select ${t.tenantId}, ${t.batchId}, s.seq, s.code from unnest(${seqs}::int[], ${codes}::text[]) as s(seq, code)
      on conflict (tenant_id, code) do nothing
      returning seq
    ) select count(*)::int as n from ins`.execute(exec);
  if (Number(r.rows[0]?.n ?? 0) === seqs.length) return [];
  const present = await exec
    .selectFrom('redeem_code')
    .select('seq')
    .where('tenant_id', '=', t.tenantId)
    .where('batch_id', '=', t.batchId)
    .where('seq', 'in', seqs)
    .execute();
  const have = new Set(present.map((p) => p.seq));
  return seqs.filter((s) => !have.has(s));
}

/**
 * One chunk through COPY on a connection of its own. COPY cannot skip a conflicting row, so a
 * code that collides with an existing one fails the chunk ('collision'): the caller redraws the
 * chunk and tries again (rare: at the allowed density, about one chunk in a million-code batch).
 */
export async function copyChunk(pool: pg.Pool, t: ChunkTarget, codes: string[]): Promise<ChunkOutcome> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const moved = await client.query(PROGRESS_SQL, [t.tenantId, t.batchId, t.from + codes.length, t.now, t.from]);
    if (moved.rowCount !== 1) {
      await client.query('rollback');
      return 'stale';
    }
    const copy = client.query(copyFrom('copy redeem_code (tenant_id, batch_id, seq, code) from stdin'));
    await pipeline(Readable.from(copyLines(t, codes)), copy);
    await client.query('commit');
    return 'written';
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    if (isUniqueViolation(err) && constraintName(err) === 'redeem_code_code') return 'collision';
    if (isUniqueViolation(err)) return 'stale';
    throw err;
  } finally {
    client.release();
  }
}

/** COPY text rows, ~1 MB at a time. Tenant ids, batch ids and codes never hold tabs or backslashes. */
function* copyLines(t: ChunkTarget, codes: string[]): Generator<string> {
  const head = `${t.tenantId}\t${t.batchId}\t`;
  let buf = '';
  for (let i = 0; i < codes.length; i++) {
    buf += `${head}${t.from + i + 1}\t${codes[i]}\n`;
    if (buf.length > 1_000_000) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}
