import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { Database } from '../db/client.js';

/**
 * This process among the API processes that share a database: the owner recorded on its
 * Idempotency-Key claims. One per OS process (every app built in it shares it), new at each start.
 */
export const PROCESS_INSTANCE_ID = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

/** How often a live process writes its heartbeat. */
export const HEARTBEAT_INTERVAL_MS = 1_000;
/**
 * A heartbeat older than this means its process is gone: three missed beats and some slack for a
 * busy event loop. Taking a live but stalled process for dead is safe, only wasteful: its claim's
 * token no longer matches, so its transaction rolls back instead of committing next to the retry's.
 */
export const HEARTBEAT_STALE_SECONDS = 4;
// Rows of processes that died without removing theirs (kill -9) are kept a while for diagnosis;
// no claim can still refer to them usefully after the idempotency lock time.
const DEAD_ROW_KEEP_HOURS = 24;

export interface InstanceHeartbeat {
  instanceId: string;
  stop(): Promise<void>;
}

export interface HeartbeatLog {
  warn(obj: object, msg: string): void;
}

/**
 * Announces this process as alive and keeps it so while it runs. On PostgreSQL several processes
 * share the database, so each beats every second and the others judge its claims by that beat
 * (database time, so the machines' clocks do not matter). The embedded database belongs to one
 * process: every claim left by another instance is from a process that died, released at once.
 */
export async function startInstanceHeartbeat(deps: {
  db: Database;
  kind: 'pglite' | 'postgres';
  log: HeartbeatLog;
  instanceId?: string;
  intervalMs?: number;
}): Promise<InstanceHeartbeat> {
  const { db, log } = deps;
  const instanceId = deps.instanceId ?? PROCESS_INSTANCE_ID;
  const beat = () =>
    sql`insert into process_instance (instance_id, started_at, heartbeat_at) values (${instanceId}, now(), now())
        on conflict (instance_id) do update set heartbeat_at = now()`.execute(db);

  await beat();
  await sql`delete from process_instance where heartbeat_at < now() - make_interval(hours => ${DEAD_ROW_KEEP_HOURS})`.execute(db);
  if (deps.kind === 'pglite') {
    await releaseClaimsOfOtherInstances(db, instanceId);
    return { instanceId, stop: () => forget(db, instanceId) };
  }

  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    // One beat at a time: a slow database must not pile up writes.
    if (running) return;
    running = beat()
      .catch((err: unknown) => log.warn({ err }, 'could not write the process heartbeat'))
      .finally(() => (running = undefined));
  }, deps.intervalMs ?? HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return {
    instanceId,
    async stop() {
      clearInterval(timer);
      await running;
      await forget(db, instanceId);
    },
  };
}

/** Deletes every in-progress Idempotency-Key claim not held by `instanceId` (nothing of theirs committed). */
export async function releaseClaimsOfOtherInstances(db: Database, instanceId: string): Promise<number> {
  const result = await db
    .deleteFrom('idempotency_key')
    .where('status', '=', 'IN_PROGRESS')
    .where((eb) => eb.or([eb('owner_instance', 'is', null), eb('owner_instance', '<>', instanceId)]))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

// A process that stops cleanly has settled its claims first (requests finish before the database
// closes); its row goes, and a claim of it that somehow remains falls back to `locked_until`.
async function forget(db: Database, instanceId: string): Promise<void> {
  await db.deleteFrom('process_instance').where('instance_id', '=', instanceId).execute();
}
