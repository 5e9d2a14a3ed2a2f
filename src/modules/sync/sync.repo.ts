/**
 * SQL of the sync module's two tables (sync_target, sync_record; typed in sync.tables.ts and
 * composed into src/db/schema.ts like every module's tables); the service opens transactions.
 */
import { sql, type Insertable, type Selectable, type Updateable } from 'kysely';
import type { Executor } from '../../db/client.js';
import type { SyncRecordTable, SyncTargetTable } from './sync.tables.js';

export type TargetRow = Selectable<SyncTargetTable>;
export type RecordRow = Selectable<SyncRecordTable>;

export async function insertTarget(exec: Executor, row: Insertable<SyncTargetTable>): Promise<TargetRow> {
  return exec
    .insertInto('sync_target')
    .values({ ...row, mappings: JSON.stringify(row.mappings) as never })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listTargets(exec: Executor, tenantId: string): Promise<TargetRow[]> {
  return exec.selectFrom('sync_target').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at', 'desc').orderBy('target_id').limit(1000).execute();
}

export async function getTarget(exec: Executor, tenantId: string, targetId: string): Promise<TargetRow | undefined> {
  return exec.selectFrom('sync_target').selectAll().where('tenant_id', '=', tenantId).where('target_id', '=', targetId).executeTakeFirst();
}

/** Targets of the tenant with a mapping for `kind`. */
export async function targetsForKind(exec: Executor, tenantId: string, kind: string): Promise<Pick<TargetRow, 'target_id'>[]> {
  return exec
    .selectFrom('sync_target')
    .select('target_id')
    .where('tenant_id', '=', tenantId)
    .where(sql<boolean>`mappings ? ${kind}`)
    .orderBy('target_id')
    .execute();
}

export async function updateTarget(exec: Executor, tenantId: string, targetId: string, patch: Updateable<SyncTargetTable>): Promise<TargetRow | undefined> {
  const { mappings, ...rest } = patch;
  return exec
    .updateTable('sync_target')
    .set({ ...rest, ...(mappings ? { mappings: JSON.stringify(mappings) as never } : {}), version: sql<number>`version + 1` })
    .where('tenant_id', '=', tenantId)
    .where('target_id', '=', targetId)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteTarget(exec: Executor, tenantId: string, targetId: string): Promise<boolean> {
  const row = await exec.deleteFrom('sync_target').where('tenant_id', '=', tenantId).where('target_id', '=', targetId).returning('target_id').executeTakeFirst();
  return row !== undefined;
}

/** Inserts the records that do not exist yet (per target, kind and record id); returns those it inserted. */
export async function insertRecords(exec: Executor, rows: Insertable<SyncRecordTable>[]): Promise<Pick<RecordRow, 'sync_id' | 'status'>[]> {
  if (rows.length === 0) return [];
  return exec
    .insertInto('sync_record')
    .values(rows.map((row) => ({ ...row, record: JSON.stringify(row.record) })))
    .onConflict((oc) => oc.doNothing())
    .returning(['sync_id', 'status'])
    .execute();
}

export async function getRecord(exec: Executor, tenantId: string, syncId: string): Promise<RecordRow | undefined> {
  return exec.selectFrom('sync_record').selectAll().where('tenant_id', '=', tenantId).where('sync_id', '=', syncId).executeTakeFirst();
}

export async function recordsOfOrder(exec: Executor, tenantId: string, orderId: string): Promise<RecordRow[]> {
  return exec
    .selectFrom('sync_record')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('order_id', '=', orderId)
    .orderBy('created_at')
    .orderBy('sync_id')
    .limit(1000)
    .execute();
}

/** Records a delivered row (once: a second success changes nothing); returns the record's created_at when it changed. */
export async function markSynced(exec: Executor, tenantId: string, syncId: string, now: Date): Promise<Date | null> {
  const row = await exec
    .updateTable('sync_record')
    .set({ status: 'synced', synced_at: now, last_attempt_at: now, attempts: sql<number>`attempts + 1`, last_error: null, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('sync_id', '=', syncId)
    .where('status', '<>', 'synced')
    .returning('created_at')
    .executeTakeFirst();
  return row?.created_at ?? null;
}

/** Records a failed attempt, unless another attempt has synced it meanwhile. */
export async function markFailed(exec: Executor, tenantId: string, syncId: string, error: string, now: Date): Promise<void> {
  await exec
    .updateTable('sync_record')
    .set({ status: 'failed', last_error: error, last_attempt_at: now, attempts: sql<number>`attempts + 1`, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('sync_id', '=', syncId)
    .where('status', '<>', 'synced')
    .execute();
}

/**
 * The queue gave the record's job up (attempts exhausted, or the worker of the last attempt
 * vanished before recording anything): a record still `pending` becomes `failed` with the queue's
 * last error and at least the job's attempts, so that it shows and can be retried. A record already
 * `failed` keeps the delivery's own error; a `synced` one is never touched.
 */
export async function markDead(exec: Executor, tenantId: string, syncId: string, error: string, attempts: number, now: Date): Promise<boolean> {
  const row = await exec
    .updateTable('sync_record')
    .set({ status: 'failed', last_error: error, last_attempt_at: now, attempts: sql<number>`greatest(attempts, ${attempts})`, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('sync_id', '=', syncId)
    .where('status', '=', 'pending')
    .returning('sync_id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Puts the order's failed records back to pending in one statement (two retries at once split nothing twice). */
export async function requeueFailed(exec: Executor, tenantId: string, orderId: string, now: Date): Promise<string[]> {
  const rows = await exec
    .updateTable('sync_record')
    .set({ status: 'pending', updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('order_id', '=', orderId)
    .where('status', '=', 'failed')
    .returning('sync_id')
    .execute();
  return rows.map((r) => r.sync_id);
}
