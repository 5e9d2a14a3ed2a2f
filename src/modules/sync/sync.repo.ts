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

/** One record handed to sync: its kind, id (the target's key), order and fields. */
export interface RecordInput {
  kind: string;
  record_id: string;
  order_id: string;
  record: unknown;
}

/** Fresh ids handed to insertForTargets per record (targets past them get the first with a suffix). */
export const IDS_PER_RECORD = 4;

/**
 * In one statement, for each record: a pending record per target of the tenant that maps its
 * kind, or one skipped record (no target) when none does; records that exist already are left as
 * they are. Returns those it inserted. `ids` holds IDS_PER_RECORD fresh ids per record, used in
 * target order; past them, the record's first id with a suffix.
 */
export async function insertForTargets(
  exec: Executor,
  input: { tenant_id: string; records: RecordInput[]; now: Date; ids: string[] },
): Promise<Pick<RecordRow, 'sync_id' | 'status'>[]> {
  const { tenant_id, now, ids } = input;
  if (input.records.length === 0) return [];
  const result = await sql<Pick<RecordRow, 'sync_id' | 'status'>>`
    with rec as (
      select e.i::int as i, e.v->>'kind' as kind, e.v->>'record_id' as record_id, e.v->>'order_id' as order_id, e.v->'record' as record
      from jsonb_array_elements(${JSON.stringify(input.records)}::jsonb) with ordinality as e(v, i)
    ), t as (
      select rec.i, st.target_id, row_number() over (partition by rec.i order by st.target_id)::int as n
      from rec join sync_target st on st.tenant_id = ${tenant_id} and st.mappings ? rec.kind
    ), r as (
      select i, target_id, 'pending' as status, n from t
      union all
      select rec.i, null, 'skipped', 1 from rec where not exists (select 1 from t where t.i = rec.i)
    )
    insert into sync_record (tenant_id, sync_id, target_id, kind, record_id, order_id, record, status, created_at, updated_at)
    select ${tenant_id},
           case when r.n <= ${IDS_PER_RECORD} then (${ids}::text[])[(r.i - 1) * ${IDS_PER_RECORD} + r.n]
                else (${ids}::text[])[(r.i - 1) * ${IDS_PER_RECORD} + 1] || '_' || r.n end,
           r.target_id, rec.kind, rec.record_id, rec.order_id, rec.record, r.status, ${now}, ${now}
    from r join rec on rec.i = r.i
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

/** The tenant's records, last changed first (by status, kind, target), one page at a time. */
export async function listRecords(
  exec: Executor,
  tenantId: string,
  filter: { status?: SyncRecordTable['status'] | undefined; kind?: SyncRecordTable['kind'] | undefined; target_id?: string | undefined },
  page: { limit: number; offset: number },
): Promise<{ rows: RecordRow[]; total: number }> {
  let base = exec.selectFrom('sync_record').where('tenant_id', '=', tenantId);
  if (filter.status !== undefined) base = base.where('status', '=', filter.status);
  if (filter.kind !== undefined) base = base.where('kind', '=', filter.kind);
  if (filter.target_id !== undefined) base = base.where('target_id', '=', filter.target_id);
  const rows = await base.selectAll().orderBy('updated_at', 'desc').orderBy('sync_id', 'desc').limit(page.limit).offset(page.offset).execute();
  const { total } = await base.select(sql<number>`count(*)::int8`.as('total')).executeTakeFirstOrThrow();
  return { rows, total: Number(total) };
}
