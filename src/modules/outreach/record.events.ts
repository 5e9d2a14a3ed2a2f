import { sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import { countersSql } from './record.statements.js';

/**
 * What happens to a record after the send: a provider's status report (delivered, failed,
 * bounced, opened), a tracked click or open, an unsubscribe. Each timestamp is set once and its
 * counter moves once (a repeated report changes nothing); the status only moves forward
 * (sent -> delivered -> opened -> clicked), except that a bounce fails a delivered message.
 */

export type RecordEvent =
  | { kind: 'delivered' }
  | { kind: 'failed' | 'bounced'; error?: string | undefined }
  | { kind: 'opened'; machine?: boolean | undefined }
  | { kind: 'clicked'; linkId: string }
  | { kind: 'unsubscribed' };

const RANK: Record<string, number> = { sending: 0, deferred: 0, pending: 0, sent: 1, delivered: 2, opened: 3, clicked: 4 };

/** A record by id (tenant given when the caller speaks for one: a signed tracking token needs none), or by the provider's id. */
export type RecordLocator = { runId: string; seq: number; tenantId?: string | undefined } | { providerMessageId: string; tenantId: string };

interface Locked {
  tenant_id: string;
  run_id: string;
  seq: number;
  customer_id: string;
  channel: string;
  variant: string | null;
  status: string;
  address: string | null;
  delivered_at: Date | null;
  failed_at: Date | null;
  opened_at: Date | null;
  machine_opened_at: Date | null;
  clicked_at: Date | null;
}

export interface AppliedEvent {
  tenantId: string;
  runId: string;
  seq: number;
  customerId: string;
  channel: string;
  address: string | null;
  /** Milestones this event reached for the first time (empty: a repeat). */
  moved: string[];
  /** The record became delivered with this event (a reward may follow). */
  delivered: boolean;
}

async function lock(exec: Executor, at: RecordLocator): Promise<Locked | undefined> {
  const where = 'runId' in at ? sql`run_id = ${at.runId} and seq = ${at.seq}${at.tenantId ? sql` and tenant_id = ${at.tenantId}` : sql``}` : sql`provider_message_id = ${at.providerMessageId} and tenant_id = ${at.tenantId}`;
  const r = await sql<Locked>`
    select tenant_id, run_id, seq, customer_id, channel, variant, status, address, delivered_at, failed_at, opened_at, machine_opened_at, clicked_at
    from outreach_record where ${where} limit 1 for update`.execute(exec);
  return r.rows[0];
}

/** Applies one event to one record in `exec` (a transaction); undefined when no such record. */
export async function applyEvent(exec: Executor, at: RecordLocator, event: RecordEvent, now: Date): Promise<AppliedEvent | undefined> {
  const row = await lock(exec, at);
  if (!row) return undefined;
  const set: Record<string, unknown> = {};
  const moved: string[] = [];
  const sent = RANK[row.status] !== undefined && RANK[row.status]! >= 1;
  const forward = (status: string) => {
    if ((RANK[status] ?? 0) > (RANK[(set.status as string) ?? row.status] ?? 0)) set.status = status;
  };
  const deliver = () => {
    if (row.delivered_at || row.failed_at) return;
    set.delivered_at = now;
    moved.push('delivered');
    forward('delivered');
  };
  // A report that arrives before the send's outcome is written (a fast provider) is kept on the
  // record, without status or counters; applyOutcomes applies it with the acceptance.
  const early = row.status === 'sending' && !row.delivered_at && !row.failed_at;
  // Never handed to a provider (a simulation's samples, skipped, cancelled, held, pending): its
  // links reach nobody but whoever read the samples, so opens, clicks and unsubscribes count nothing.
  const neverSent = ['would_send', 'skipped', 'cancelled', 'held', 'pending'].includes(row.status);
  switch (event.kind) {
    case 'delivered':
      if (sent) deliver();
      else if (early) set.delivered_at = now;
      break;
    case 'failed':
    case 'bounced':
      if (!row.failed_at && (sent || row.status === 'delivered')) {
        set.failed_at = now;
        set.status = 'failed';
        set.reason = event.kind === 'bounced' ? 'bounced' : 'undelivered';
        set.error_message = event.error ?? null;
        moved.push('failed');
        if (event.kind === 'bounced') moved.push('bounced');
        if (row.delivered_at) moved.push('-delivered');
      } else if (early) {
        set.failed_at = now;
        set.reason = event.kind === 'bounced' ? 'bounced' : 'undelivered';
        set.error_message = event.error ?? null;
      }
      break;
    case 'opened':
      if (neverSent) break;
      if (event.machine) {
        if (!row.machine_opened_at) {
          set.machine_opened_at = now;
          moved.push('machine_opened');
        }
      } else if (!row.opened_at && !row.failed_at) {
        deliver();
        set.opened_at = now;
        moved.push('opened');
        forward('opened');
      }
      break;
    case 'clicked':
      if (!row.clicked_at && !row.failed_at && !neverSent) {
        deliver();
        set.clicked_at = now;
        set.response = JSON.stringify({ action: 'click', link_id: event.linkId });
        moved.push('clicked');
        forward('clicked');
      }
      break;
    case 'unsubscribed':
      if (neverSent) break;
      set.response = JSON.stringify({ action: 'unsubscribe' });
      moved.push('unsubscribed');
      break;
  }
  if (Object.keys(set).length > 0) {
    await exec
      .updateTable('outreach_record')
      .set({ ...set, updated_at: now })
      .where('run_id', '=', row.run_id)
      .where('seq', '=', row.seq)
      .execute();
  }
  const deltas: Record<string, number> = {};
  for (const m of moved) deltas[m.replace(/^-/, '')] = (deltas[m.replace(/^-/, '')] ?? 0) + (m.startsWith('-') ? -1 : 1);
  const counters = countersSql(row.tenant_id, row.run_id, row.variant ?? '', deltas);
  if (counters) await counters.execute(exec);
  return {
    tenantId: row.tenant_id,
    runId: row.run_id,
    seq: row.seq,
    customerId: row.customer_id,
    channel: row.channel,
    address: row.address,
    moved: moved.filter((m) => !m.startsWith('-')),
    delivered: moved.includes('delivered'),
  };
}

/** A record id as the API shows it: `{run_id}-{seq}`. */
export function parseRecordId(recordId: string): { runId: string; seq: number } | null {
  const m = /^(run_[0-9A-Za-z]+)-([0-9]{1,9})$/.exec(recordId);
  return m ? { runId: m[1]!, seq: Number(m[2]) } : null;
}
