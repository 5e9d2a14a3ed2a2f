import type { Database, Executor } from '../../db/client.js';
import type { Actor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import * as repo from './operator.repo.js';
import type { AuditEntryView, AuditQueryType } from './operator.schemas.js';
import type { SessionEvent } from './session.service.js';

export type AuditLog = ReturnType<typeof createAuditLog>;

export type AuditEntryInput = Omit<repo.AuditInsert, 'audit_id' | 'at'>;

/**
 * The audit log: entries are queued by the response hook (after the answer has gone) and written
 * in one multi-row INSERT per `flushMs` or per `maxBatch` entries, so a change costs its request
 * no database round trip. A crash loses at most the last `flushMs` of entries; `close()` writes
 * what is queued. Reads write the queue first, so this process reads its own entries.
 */
export function createAuditLog(deps: { db: Database; clock: Clock; flushMs?: number; maxBatch?: number; warn?: (err: unknown, message: string) => void }) {
  const { db, clock } = deps;
  const flushMs = deps.flushMs ?? 200;
  const maxBatch = deps.maxBatch ?? 200;
  let queue: repo.AuditInsert[] = [];
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> = Promise.resolve();

  function flush(): Promise<void> {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (queue.length === 0) return writing;
    const rows = queue;
    queue = [];
    // One write at a time, in order.
    writing = writing.then(() =>
      repo.insertAuditEntries(db, rows).catch((err: unknown) => deps.warn?.(err, `could not write ${rows.length} audit log entries`)),
    );
    return writing;
  }

  return {
    /** Queues one entry (never throws, never waits). */
    record(entry: AuditEntryInput): void {
      const now = clock.now();
      queue.push({ ...entry, audit_id: newId('aud', now.getTime()), at: now });
      if (queue.length >= maxBatch) void flush();
      else if (!timer) {
        timer = setTimeout(() => void flush(), flushMs);
        timer.unref();
      }
    },

    /** Queues a console sign-in event (sign-in, failed sign-in, lock-out, sign-out). */
    recordSessionEvent(e: SessionEvent): void {
      this.record({
        tenant_id: e.tenantId,
        actor_kind: e.operatorId ? 'operator' : 'anonymous',
        operator_id: e.operatorId,
        key_id: null,
        method: e.event === 'sign_out' ? 'DELETE' : 'POST',
        route: '/v1/console/session',
        entity_id: e.operatorId,
        status: e.status,
        request_id: e.requestId ?? '',
        event: e.event,
        details: { email: e.email, ...(e.ip ? { ip: e.ip } : {}) },
      });
    },

    flush,

    /** Entries, newest first: a tenant caller sees its tenant's; the master scope all, or one tenant's. */
    async list(actor: Actor, query: AuditQueryType, exec: Executor = db) {
      await flush();
      const page = toPage(query);
      const { rows, total } = await repo.listAuditEntries(
        exec,
        {
          tenantId: actor.kind === 'tenant' ? actor.tenantId : query.tenant_id,
          operatorId: query.operator_id,
          keyId: query.key_id,
          route: query.route,
          method: query.method,
          entityId: query.entity_id,
          actorKind: query.actor_kind,
          event: query.event,
          since: query.since ? new Date(query.since) : undefined,
          until: query.until ? new Date(query.until) : undefined,
        },
        page,
      );
      return { entries: rows.map(toAuditView), pagination: pagination(total, page) };
    },

    close: flush,
  };
}

function toAuditView(row: repo.AuditRow): AuditEntryView {
  return {
    audit_id: row.audit_id,
    tenant_id: row.tenant_id,
    actor_kind: row.actor_kind,
    operator_id: row.operator_id,
    key_id: row.key_id,
    method: row.method,
    route: row.route,
    entity_id: row.entity_id,
    status: row.status,
    request_id: row.request_id,
    at: row.at.toISOString(),
    event: row.event ?? null,
    details: row.details ?? null,
  };
}
