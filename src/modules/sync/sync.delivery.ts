/**
 * Delivery to the customer's database: the job handler that INSERTs one mapped record (outside
 * any transaction of ours, idempotent through the key column) and the health check of a target.
 */
import { lookup } from 'node:dns/promises';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../db/client.js';
import type { JobRecord } from '../../platform/jobs.js';
import { PermanentJobError } from '../../platform/jobs.js';
import { isPrivateAddress } from '../../platform/network-guard.js';
import type { SecretBox } from '../../platform/secret-box.js';
import { columnsStatement, dialectOf, insertStatement, sameColumn, uniqueKeyStatement } from './sync.dialects.js';
import type { ConnectionPools, TargetConnection } from './sync.drivers.js';
import { mapRecord } from './sync.mapping.js';
import type { SyncMetrics } from './sync.metrics.js';
import * as repo from './sync.repo.js';
import type { CheckView } from './sync.schemas.js';
import type { RecordKind } from './sync.tables.js';

export interface SyncSettings {
  pool_max: number;
  connect_timeout_ms: number;
  query_timeout_ms: number;
}

export interface DeliveryDeps {
  db: Database;
  clock: Clock;
  box: SecretBox;
  pools: ConnectionPools;
  metrics: SyncMetrics;
  settings: SyncSettings;
  allowPrivateNetworks: boolean;
}

const ERROR_MAX_CHARS = 1_000;

/** A driver error as text, without the target's password (drivers do not print it, but a message may echo input). */
export function errorText(err: unknown, password: string): string {
  let text: string;
  if (err instanceof AggregateError && !err.message) text = err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ');
  else if (err instanceof Error) text = err.message || (err as NodeJS.ErrnoException).code || err.name;
  else text = String(err);
  if (password) text = text.split(password).join('***');
  return text.length > ERROR_MAX_CHARS ? `${text.slice(0, ERROR_MAX_CHARS - 1)}…` : text;
}

/** Refuses a host that resolves to a private address unless private networks are allowed. */
export async function privateAddressOfHost(host: string, allowPrivateNetworks: boolean): Promise<string | null> {
  if (allowPrivateNetworks) return null;
  const addresses = await lookup(host, { all: true }).catch(() => []);
  return addresses.find((a) => isPrivateAddress(a.address))?.address ?? null;
}

function connect(deps: DeliveryDeps, target: repo.TargetRow): Promise<TargetConnection> {
  return deps.pools.get(`${target.tenant_id}/${target.target_id}/${target.version}`, () => ({
    dialect: dialectOf(target.type),
    host: target.host,
    port: target.port,
    user: target.username,
    password: deps.box.open<string>(target.password_sealed),
    database: target.database_name,
    ssl: target.ssl,
    poolMax: deps.settings.pool_max,
    connectTimeoutMs: deps.settings.connect_timeout_ms,
    queryTimeoutMs: deps.settings.query_timeout_ms,
  }));
}

async function connectChecked(deps: DeliveryDeps, target: repo.TargetRow): Promise<TargetConnection> {
  const address = await privateAddressOfHost(target.host, deps.allowPrivateNetworks);
  if (address) throw new Error(`the host resolves to the private address ${address} (webhooks.allow_private_networks is off)`);
  return connect(deps, target);
}

/** The job handler of the sync queue: one record into its target, then synced (or failed, and the queue retries). */
export function createSyncDeliveryHandler(deps: DeliveryDeps): (job: JobRecord) => Promise<void> {
  const { db, clock, metrics } = deps;
  return async (job) => {
    const syncId = (job.payload as { sync_id?: unknown } | null)?.sync_id;
    if (typeof syncId !== 'string') throw new PermanentJobError('sync job without a sync_id');
    const record = await repo.getRecord(db, job.tenantId, syncId);
    if (!record || record.status === 'synced' || record.status === 'skipped' || record.target_id === null) return;
    const target = await repo.getTarget(db, job.tenantId, record.target_id);
    const mapping = target?.mappings[record.kind];
    if (!target || !mapping) {
      await repo.markFailed(db, job.tenantId, syncId, `the target ${record.target_id} was deleted or no longer maps ${record.kind} records`, clock.now());
      throw new PermanentJobError('sync target gone');
    }
    const password = deps.box.open<string>(target.password_sealed);
    try {
      const connection = await connectChecked(deps, target);
      const { columns, values } = mapRecord(record.kind, mapping, record.record as Record<string, unknown>);
      await connection.run(insertStatement(dialectOf(target.type), mapping.table, mapping.key_column, record.record_id, columns, values));
    } catch (err) {
      const message = errorText(err, password);
      metrics.failures.inc({ target_type: target.type });
      await repo.markFailed(db, job.tenantId, syncId, message, clock.now());
      throw new Error(`sync to ${target.type} target ${target.target_id} failed: ${message}`);
    }
    const now = clock.now();
    const createdAt = await repo.markSynced(db, job.tenantId, syncId, now);
    if (createdAt) {
      metrics.synced.inc({ target_type: target.type });
      metrics.lag.observe({ target_type: target.type }, Math.max(0, now.getTime() - createdAt.getTime()) / 1000);
    }
  };
}

/**
 * The queue's onDead hook of the sync queue: a job given up leaves no record `pending` forever
 * (the lease of its last attempt may have expired before the handler recorded the failure).
 */
export function createSyncDeadHandler(deps: Pick<DeliveryDeps, 'db' | 'clock' | 'metrics'>): (job: JobRecord, lastError: string) => Promise<void> {
  return async (job, lastError) => {
    const syncId = (job.payload as { sync_id?: unknown } | null)?.sync_id;
    if (typeof syncId !== 'string') return;
    const record = await repo.getRecord(deps.db, job.tenantId, syncId);
    if (!record || record.status !== 'pending') return;
    const target = record.target_id === null ? undefined : await repo.getTarget(deps.db, job.tenantId, record.target_id);
    if (await repo.markDead(deps.db, job.tenantId, syncId, errorText(lastError, ''), Math.min(job.attempt, job.maxAttempts), deps.clock.now())) {
      deps.metrics.failures.inc({ target_type: target?.type ?? 'unknown' });
    }
  };
}

/** Connects to the target and checks that every mapped table exists with its key and mapped columns, and a unique key on the key column. */
export async function checkTarget(deps: DeliveryDeps, target: repo.TargetRow): Promise<CheckView> {
  const started = Date.now();
  const password = deps.box.open<string>(target.password_sealed);
  const dialect = dialectOf(target.type);
  const kinds: CheckView['kinds'] = [];
  try {
    const connection = await connectChecked(deps, target);
    for (const kind of Object.keys(target.mappings).sort() as RecordKind[]) {
      const mapping = target.mappings[kind]!;
      const { rows } = await connection.run(columnsStatement(dialect, mapping.table));
      const present = rows.map((row) => String(row.name ?? row.NAME ?? ''));
      const wanted = [mapping.key_column, ...Object.values(mapping.fields)];
      const unique = present.length > 0 ? (await connection.run(uniqueKeyStatement(dialect, mapping.table, mapping.key_column))).rows[0] : undefined;
      kinds.push({
        kind,
        table: mapping.table,
        table_found: present.length > 0,
        missing_columns: wanted.filter((column) => !present.some((p) => sameColumn(p, column))),
        key_unique: Number(unique?.n ?? unique?.N ?? 0) > 0,
      });
    }
  } catch (err) {
    return { target_id: target.target_id, ok: false, latency_ms: Date.now() - started, error: errorText(err, password), kinds };
  }
  const ok = kinds.every((k) => k.table_found && k.missing_columns.length === 0 && k.key_unique);
  return { target_id: target.target_id, ok, latency_ms: Date.now() - started, error: null, kinds };
}
