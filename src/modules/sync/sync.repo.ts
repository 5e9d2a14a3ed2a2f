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

/**
 * In one statement: a pending record per target of the tenant that maps `kind`, or one skipped
 * record (no target) when none does; records that exist already are left as they are. Returns
 * those it inserted. Ids come from `ids` in target order; past them, the first id with a suffix.
 */
export async function insertForTargets(
  exec: Executor,
  input: { tenant_id: string; kind: string; record_id: string; order_id: string; record: unknown; now: Date; ids: string[] },
): Promise<Pick<RecordRow, 'sync_id' | 'status'>[]> {
  const { tenant_id, kind, now, ids } = input;
  const result = await sql<Pick<RecordRow, 'sync_id' | 'status'>>`
    with t as (
      select target_id, row_number() over (order by target_id)::int as n
      from sync_target where tenant_id = ${tenant_id} and mappings ? ${kind}
    ), r as (
      select target_id, 'pending' as status, n from t
      union all
      select null, 'skipped', 1 where not exists (select 1 from t)
    )
    insert into sync_record (tenant_id, sync_id, target_id, kind, record_id, order_id, record, status, created_at, updated_at)
    select ${tenant_id}, coalesce((${ids}::text[])[r.n], ${ids[0]} || '_' || r.n), r.target_id, ${kind}, ${input.record_id}, ${input.order_id}, ${JSON.stringify(input.record)}::jsonb, r.status, ${now}, ${now}
    from r
    on conflict do nothing
    returning sync_id, status`.execute(exec);
  return result.rows;
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
