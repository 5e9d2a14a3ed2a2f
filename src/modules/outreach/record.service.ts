import type { Database, Executor } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import { invalidRequest } from '../../platform/errors.js';
import { pagination, toPage } from '../../platform/paging.js';
import { parseInstant } from '../../platform/time.js';
import { outreachErrors } from './outreach.errors.js';
import * as repo from './record.repo.js';
import type { RecordFilterInput, RecordListInput, RecordView } from './record.schemas.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * An address as records show it: an e-mail keeps its first character and its domain
 * (`c***@example.test`); a phone number (or a device token, a URL) keeps its last 4 characters.
 */
export function maskAddress(address: string | null): string | null {
  if (address === null) return null;
  const at = address.lastIndexOf('@');
  if (at > 0) return `${address[0]}***${address.slice(at)}`;
  if (address.length <= 4) return '*'.repeat(address.length);
  return `${'*'.repeat(Math.min(address.length - 4, 12))}${address.slice(-4)}`;
}

export const recordIdOf = (runId: string, seq: number) => `${runId}-${seq}`;

/** `<run_id>-<seq>` apart, or null when it cannot name a record. */
export function parseRecordId(recordId: string): { runId: string; seq: number } | null {
  const m = /^(.{1,64})-([1-9][0-9]{0,8})$/.exec(recordId);
  return m ? { runId: m[1]!, seq: Number(m[2]) } : null;
}

export function toRecordView(r: repo.RecordRow): RecordView {
  return {
    record_id: recordIdOf(r.run_id, r.seq),
    run_id: r.run_id,
    campaign_id: r.campaign_id,
    customer_id: r.customer_id,
    channel: r.channel,
    variant: r.variant,
    status: r.status,
    reason: r.reason,
    error_message: r.error_message,
    address: maskAddress(r.address),
    attempts: r.attempts,
    provider_message_id: r.provider_message_id,
    response: r.response ?? null,
    sent_at: iso(r.sent_at),
    delivered_at: iso(r.delivered_at),
    failed_at: iso(r.failed_at),
    opened_at: iso(r.opened_at),
    machine_opened_at: iso(r.machine_opened_at),
    clicked_at: iso(r.clicked_at),
    converted_at: iso(r.converted_at),
    updated_at: r.updated_at.toISOString(),
  };
}

/** A bound of from / to: an instant the database holds too (years 1 to 9999), else 400 naming the field. */
function bound(field: 'from' | 'to', value: string | undefined): Date | undefined {
  const date = parseInstant(field, value);
  if (date === null) return undefined;
  const year = date.getUTCFullYear();
  if (year < 1 || year > 9999) throw invalidRequest(field, 'is out of range (years 1 to 9999)');
  return date;
}

function filterOf(q: RecordFilterInput): repo.RecordFilter {
  return {
    campaignId: q.campaign_id,
    runId: q.run_id,
    customerId: q.customer_id,
    status: q.status,
    channel: q.channel,
    from: bound('from', q.from),
    to: bound('to', q.to),
  };
}

export interface RecordServiceDeps {
  db: Database;
  /** Records per read of the CSV export. */
  exportPageSize?: number;
}

export type RecordService = ReturnType<typeof createRecordService>;

/** The message records of runs: one per (run, customer, channel), read-only here. */
export function createRecordService(deps: RecordServiceDeps) {
  const { db } = deps;
  return {
    async listRecords(actor: Actor, query: RecordListInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const page = toPage(query);
      const { rows, total } = await repo.listRecords(exec, tenant.tenantId, filterOf(query), { limit: page.limit, offset: page.offset });
      return { records: rows.map(toRecordView), pagination: pagination(total, page) };
    },

    /** 404 record_not_found for an id that names nothing of this tenant (another tenant's included). */
    async getRecord(actor: Actor, recordId: string, exec: Executor = db): Promise<RecordView> {
      const tenant = requireTenant(actor);
      const key = parseRecordId(recordId);
      const row = key ? await repo.findRecord(exec, tenant.tenantId, key.runId, key.seq) : undefined;
      if (!row) throw outreachErrors.recordNotFound(recordId);
      return toRecordView(row);
    },

    /**
     * The matching records in list order, read `exportPageSize` at a time by key (no OFFSET, one
     * page in memory; records that change status meanwhile are neither skipped nor repeated). The
     * first page is read before this answers, so a refusal comes before anything streams.
     */
    async exportRecords(actor: Actor, query: RecordFilterInput, options: { pageSize?: number; onPage?: (rows: number) => void } = {}): Promise<AsyncGenerator<RecordView>> {
      const tenant = requireTenant(actor);
      const filter = filterOf(query);
      const pageSize = options.pageSize ?? deps.exportPageSize ?? 1_000;
      const first = await repo.pageAfter(db, tenant.tenantId, filter, null, pageSize);
      return (async function* rows() {
        let after: { runId: string; seq: number } | null = null;
        for (;;) {
          const page: repo.RecordRow[] = after === null ? first : await repo.pageAfter(db, tenant.tenantId, filter, after, pageSize);
          options.onPage?.(page.length);
          for (const r of page) yield toRecordView(r);
          if (page.length < pageSize) return;
          const last = page.at(-1)!;
          after = { runId: last.run_id, seq: last.seq };
        }
      })();
    },
  };
}
