/**
 * Sync to the customer's database: per tenant, targets with a sealed password and per
 * record kind a table, key column and field mapping; `enqueue` writes a sync record per target in
 * the caller's transaction (the payment) and a job that INSERTs the mapped row; status and retry
 * per order.
 */
import type { Transaction } from 'kysely';
import { afterCommit, type Database, type Executor } from '../../db/client.js';
import type { DB } from '../../db/schema.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { newId } from '../../platform/ids.js';
import type { JobQueue, JobRecord } from '../../platform/jobs.js';
import { pagination, toPage } from '../../platform/paging.js';
import type { SecretBox } from '../../platform/secret-box.js';
import { IDENTIFIER, TABLE_NAME } from './sync.dialects.js';
import { checkTarget, createSyncDeadHandler, createSyncDeliveryHandler, privateAddressOfHost, type SyncSettings } from './sync.delivery.js';
import { createConnectionPools } from './sync.drivers.js';
import { syncErrors } from './sync.errors.js';
import { mappingProblem } from './sync.mapping.js';
import type { SyncMetrics } from './sync.metrics.js';
import * as repo from './sync.repo.js';
import type { CheckView, CreateTargetInput, OrderSyncView, RecordListInput, SyncRecordView, TargetView, UpdateTargetInput } from './sync.schemas.js';
import { RECORD_KINDS, type Mappings, type RecordKind } from './sync.tables.js';

/** The job queue of deliveries. */
export const SYNC_QUEUE = 'sync.deliver';

export interface EnqueueSyncInput {
  tenant_id: string;
  kind: RecordKind;
  /** Goes into the target's key column: one row per record, whatever the retries. */
  record_id: string;
  /** The order the record belongs to (status and retry are per order). */
  order_id: string;
  /** The fields the mapping's source paths name (`orders.form_data.name` is `record.form_data.name`). */
  record: Record<string, unknown>;
}

export interface SyncServiceDeps {
  db: Database;
  clock: Clock;
  jobs: JobQueue;
  box: SecretBox;
  metrics: SyncMetrics;
  settings: SyncSettings & { max_attempts: number; concurrency: number };
  allowPrivateNetworks: boolean;
}

function toTargetView(row: repo.TargetRow): TargetView {
  return {
    target_id: row.target_id,
    name: row.name,
    type: row.type,
    host: row.host,
    port: row.port,
    user: row.username,
    database: row.database_name,
    ssl: row.ssl,
    password_set: row.password_sealed.length > 0,
    mappings: row.mappings,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

function toRecordView(row: repo.RecordRow): SyncRecordView {
  return {
    sync_id: row.sync_id,
    target_id: row.target_id,
    kind: row.kind,
    record_id: row.record_id,
    order_id: row.order_id,
    status: row.status,
    attempts: row.attempts,
    last_error: row.last_error,
    last_attempt_at: row.last_attempt_at?.toISOString() ?? null,
    synced_at: row.synced_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
  };
}

/** The order's status as a whole: failed over pending over synced over skipped. */
function orderStatus(records: SyncRecordView[]): OrderSyncView['sync_status'] {
  for (const status of ['failed', 'pending', 'synced'] as const) if (records.some((r) => r.status === status)) return status;
  return 'skipped';
}

function checkMappings(mappings: Mappings): void {
  for (const kind of RECORD_KINDS) {
    const mapping = mappings[kind];
    if (!mapping) continue;
    if (!TABLE_NAME.test(mapping.table)) throw syncErrors.invalidMapping(`mappings.${kind}.table`, `${JSON.stringify(mapping.table)} is not a table name (letters, digits, _, optionally schema.table)`);
    if (!IDENTIFIER.test(mapping.key_column)) throw syncErrors.invalidMapping(`mappings.${kind}.key_column`, `${JSON.stringify(mapping.key_column)} is not an SQL column name`);
    const problem = mappingProblem(kind, mapping);
    if (problem) throw syncErrors.invalidMapping(problem.field, problem.message);
  }
}

export function createSyncService(deps: SyncServiceDeps) {
  const { db, clock, jobs, box } = deps;
  const pools = createConnectionPools();
  const delivery = { db, clock, box, pools, metrics: deps.metrics, settings: deps.settings, allowPrivateNetworks: deps.allowPrivateNetworks };

  async function refusePrivate(host: string): Promise<void> {
    if (await privateAddressOfHost(host, deps.allowPrivateNetworks)) throw syncErrors.privateHost(host);
  }

  async function mustGet(exec: Executor, tenantId: string, targetId: string): Promise<repo.TargetRow> {
    const row = await repo.getTarget(exec, tenantId, targetId);
    if (!row) throw syncErrors.targetNotFound(targetId);
    return row;
  }

  /** Pools of the old settings close once the change has committed. */
  const dropPoolsAfter = (exec: Executor, tenantId: string, targetId: string) => afterCommit(exec, () => void pools.drop(`${tenantId}/${targetId}/`));

  async function enqueueAgain(trx: Executor, tenantId: string, syncIds: string[]): Promise<void> {
    await jobs.enqueueMany(trx, syncIds.map((syncId) => ({ tenantId, queue: SYNC_QUEUE, payload: { sync_id: syncId }, maxAttempts: deps.settings.max_attempts })));
  }

  async function status(actor: Actor, orderId: string, exec: Executor = db): Promise<OrderSyncView> {
    const { tenantId } = requireTenant(actor);
    const records = (await repo.recordsOfOrder(exec, tenantId, orderId)).map(toRecordView);
    if (records.length === 0) throw syncErrors.orderNotFound(orderId);
    return { order_id: orderId, sync_status: orderStatus(records), records };
  }

  return {
    /** Creates a sync target (admin); the password is sealed and never answered. */
    async createTarget(actor: Actor, input: CreateTargetInput, trx: Transaction<DB>): Promise<TargetView> {
      const { tenantId } = requireTenant(actor);
      checkMappings(input.mappings);
      await refusePrivate(input.host);
      const now = clock.now();
      const row = await repo.insertTarget(trx, {
        tenant_id: tenantId,
        target_id: newId('syt', now.getTime()),
        name: input.name,
        type: input.type,
        host: input.host,
        port: input.port,
        username: input.user,
        password_sealed: box.seal(input.password),
        database_name: input.database,
        ssl: input.ssl ?? false,
        mappings: input.mappings,
        created_at: now,
        updated_at: now,
      });
      return toTargetView(row);
    },

    /** The tenant's sync targets, newest first. */
    async listTargets(actor: Actor): Promise<{ data: TargetView[] }> {
      const { tenantId } = requireTenant(actor);
      return { data: (await repo.listTargets(db, tenantId)).map(toTargetView) };
    },

    /** One sync target (404 sync_target_not_found). */
    async getTarget(actor: Actor, targetId: string): Promise<TargetView> {
      return toTargetView(await mustGet(db, requireTenant(actor).tenantId, targetId));
    },

    /** Changes a target (admin); a password left out stays as it is. Its connection pools are reopened. */
    async updateTarget(actor: Actor, targetId: string, input: UpdateTargetInput, trx: Transaction<DB>): Promise<TargetView> {
      const { tenantId } = requireTenant(actor);
      if (input.mappings) checkMappings(input.mappings);
      if (input.host) await refusePrivate(input.host);
      const row = await repo.updateTarget(trx, tenantId, targetId, {
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.type !== undefined ? { type: input.type } : {}),
        ...(input.host !== undefined ? { host: input.host } : {}),
        ...(input.port !== undefined ? { port: input.port } : {}),
        ...(input.user !== undefined ? { username: input.user } : {}),
        ...(input.password !== undefined ? { password_sealed: box.seal(input.password) } : {}),
        ...(input.database !== undefined ? { database_name: input.database } : {}),
        ...(input.ssl !== undefined ? { ssl: input.ssl } : {}),
        ...(input.mappings !== undefined ? { mappings: input.mappings } : {}),
        updated_at: clock.now(),
      });
      if (!row) throw syncErrors.targetNotFound(targetId);
      dropPoolsAfter(trx, tenantId, targetId);
      return toTargetView(row);
    },

    /** Deletes a target (admin); its undelivered records fail with the reason. */
    async deleteTarget(actor: Actor, targetId: string, trx: Transaction<DB>): Promise<void> {
      const { tenantId } = requireTenant(actor);
      if (!(await repo.deleteTarget(trx, tenantId, targetId))) throw syncErrors.targetNotFound(targetId);
      dropPoolsAfter(trx, tenantId, targetId);
    },

    /** Health check: connects, and compares each mapped table's columns with the mapping. */
    async checkTarget(actor: Actor, targetId: string): Promise<CheckView> {
      return checkTarget(delivery, await mustGet(db, requireTenant(actor).tenantId, targetId));
    },

    /**
     * Called in the transaction that produced the record (the payment): a sync record per target
     * that maps `kind`, status pending, and its delivery job; without such a target one record,
     * status skipped, and no job. A second call for the same record adds nothing. Several records
     * (the order and its rewards) in one call cost one statement and one job insert per tenant.
     */
    async enqueue(trx: Executor, input: EnqueueSyncInput | EnqueueSyncInput[]): Promise<void> {
      const inputs = Array.isArray(input) ? input : [input];
      for (const one of inputs) if (!RECORD_KINDS.includes(one.kind)) throw new Error(`sync: unknown record kind ${String(one.kind)}`);
      const now = clock.now();
      // One statement for the records of a tenant (the payment's transaction is the hot path), then their jobs.
      for (const tenantId of new Set(inputs.map((one) => one.tenant_id))) {
        const records = inputs.filter((one) => one.tenant_id === tenantId).map(({ kind, record_id, order_id, record }) => ({ kind, record_id, order_id, record }));
        const ids = Array.from({ length: records.length * repo.IDS_PER_RECORD }, () => newId('syn', now.getTime()));
        const inserted = await repo.insertForTargets(trx, { tenant_id: tenantId, records, now, ids });
        const pending = inserted.filter((r) => r.status === 'pending').map((r) => r.sync_id);
        if (pending.length > 0) await enqueueAgain(trx, tenantId, pending);
      }
    },

    /** The sync records of an order (404 sync_order_not_found when it has none). */
    status,

    /** The tenant's sync records (e.g. the failed ones: retries exhausted or refused by the target), paged. */
    async listRecords(actor: Actor, query: RecordListInput, exec: Executor = db) {
      const page = toPage(query);
      const { rows, total } = await repo.listRecords(exec, requireTenant(actor).tenantId, query, page);
      return { records: rows.map(toRecordView), pagination: pagination(total, page) };
    },

    /** Puts the order's failed records back to pending and enqueues their delivery again. */
    async retry(actor: Actor, orderId: string, trx: Transaction<DB>): Promise<OrderSyncView> {
      const { tenantId } = requireTenant(actor);
      const syncIds = await repo.requeueFailed(trx, tenantId, orderId, clock.now());
      await enqueueAgain(trx, tenantId, syncIds);
      return { ...(await status(actor, orderId, trx)), retried: syncIds.length };
    },

    /** The handler of SYNC_QUEUE (registered in app/services.ts). */
    deliver: createSyncDeliveryHandler(delivery) as (job: JobRecord) => Promise<void>,

    /** The onDead hook of SYNC_QUEUE: a record whose job was given up while `pending` becomes `failed`. */
    dead: createSyncDeadHandler(delivery) as (job: JobRecord, lastError: string) => Promise<void>,

    /** Deliveries in flight per process (the queue's concurrency). */
    concurrency: deps.settings.concurrency,

    /** Closes the connection pools to the targets (shutdown). */
    close: () => pools.closeAll(),
  };
}

export type SyncService = ReturnType<typeof createSyncService>;
