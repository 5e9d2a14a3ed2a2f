import { type RawBuilder, sql } from 'kysely';
import type { Executor } from '../../db/client.js';

/**
 * The set-based statements of a run, each ONE statement so that records and their counters never
 * disagree: fan-out (every record of a run, and the `planned` counter), claim (due records to
 * `sending` with a lease), and outcomes (records moved and counters added together).
 */

export interface VariantCell {
  key: string;
  /** Cumulative upper bound of the cell in 0..99 buckets (exclusive). */
  upTo: number;
}

/**
 * Writes one record per target customer of the run (pending, or held for an A/B winner), in one
 * INSERT ... SELECT. The unique (run, customer, channel) index makes a second record impossible;
 * a repeat of the statement adds nothing. Returns how many were written.
 */
export async function fanOut(
  exec: Executor,
  input: {
    tenantId: string;
    runId: string;
    campaignId: string;
    channel: string;
    targets: RawBuilder<{ user_id: string }>;
    cells: VariantCell[] | null;
    /** With an A/B winner rule: buckets at or above the last cell wait (held) until the winner is known. */
    heldUntil: Date | null;
    now: Date;
  },
): Promise<number> {
  const { cells, now } = input;
  const bucket = sql`(abs(hashtextextended(${input.runId} || t.user_id, 0)) % 100)`;
  let variant: RawBuilder<string | null> = sql`null::text`;
  if (cells && cells.length > 0) {
    const whens = cells.map((c) => sql`when ${bucket} < ${c.upTo} then ${c.key}`);
    variant = sql`case ${sql.join(whens, sql` `)} else null end`;
  }
  const lastUpTo = cells && cells.length > 0 ? cells[cells.length - 1]!.upTo : 100;
  const status = input.heldUntil ? sql`case when ${bucket} < ${lastUpTo} then 'pending' else 'held' end` : sql`'pending'`;
  const nextAt = input.heldUntil ? sql`case when ${bucket} < ${lastUpTo} then ${now}::timestamptz else ${input.heldUntil}::timestamptz end` : sql`${now}::timestamptz`;
  const r = await sql<{ n: number }>`
    with targets as (select distinct user_id from (${input.targets}) t0),
    ins as (
      insert into outreach_record (run_id, seq, tenant_id, campaign_id, customer_id, channel, variant, status, next_attempt_at, updated_at)
      select ${input.runId}, (row_number() over (order by t.user_id))::int, ${input.tenantId}, ${input.campaignId}, t.user_id, ${input.channel},
             ${variant}, ${status}, ${nextAt}, ${now}
      from targets t
      on conflict do nothing
      returning variant, status
    ),
    counted as (
      insert into outreach_run_stat (tenant_id, run_id, variant, metric, n)
      select ${input.tenantId}, ${input.runId}, coalesce(variant, ''), m.metric, count(*)
      from ins, lateral (values ('planned'), (case when status = 'held' then 'held' end)) m(metric)
      where m.metric is not null
      group by 1, 2, 3, 4
      on conflict (run_id, variant, metric) do update set n = outreach_run_stat.n + excluded.n
    )
    select count(*)::int as n from ins`.execute(exec);
  return r.rows[0]!.n;
}

export interface ClaimedRecord {
  run_id: string;
  seq: number;
  customer_id: string;
  variant: string | null;
  attempts: number;
  old_status: string;
  reason: string | null;
}

/**
 * Claims up to `limit` due records of a run: pending, deferred past their time, or `sending`
 * whose lease ran out (a worker died mid-send: sent again with the same idempotency key).
 */
export async function claimDue(exec: Executor, runId: string, now: Date, leaseUntil: Date, limit: number): Promise<ClaimedRecord[]> {
  const r = await sql<ClaimedRecord>`
    with c as (
      select run_id, seq, status as old_status from outreach_record
      where run_id = ${runId} and status in ('pending', 'deferred', 'sending') and next_attempt_at <= ${now}
      order by next_attempt_at, seq
      limit ${limit}
      for update skip locked
    )
    update outreach_record r set status = 'sending', attempts = r.attempts + 1, next_attempt_at = ${leaseUntil}, updated_at = ${now}
    from c where r.run_id = c.run_id and r.seq = c.seq
    returning r.run_id, r.seq, r.customer_id, r.variant, r.attempts, c.old_status, r.reason`.execute(exec);
  return r.rows;
}

/** One claimed record's outcome, and the counters it moves (a leading '-' subtracts). */
export interface Outcome {
  seq: number;
  status: string;
  reason: string | null;
  error: string | null;
  address: string | null;
  providerMessageId: string | null;
  nextAttemptAt: Date | null;
  sent: boolean;
  delivered: boolean;
  failed: boolean;
  metrics: string[];
  response: unknown;
}

/**
 * Writes the outcomes of claimed records and adds their counters, in one statement. Only records
 * still `sending` are written (a cancel in between already moved them).
 */
export async function applyOutcomes(exec: Executor, tenantId: string, runId: string, outcomes: readonly Outcome[], now: Date) {
  if (outcomes.length === 0) return [];
  const rows = JSON.stringify(
    outcomes.map((o) => ({
      seq: o.seq,
      status: o.status,
      reason: o.reason,
      error: o.error,
      address: o.address,
      pmid: o.providerMessageId,
      next_at: o.nextAttemptAt?.toISOString() ?? null,
      sent: o.sent,
      delivered: o.delivered,
      failed: o.failed,
      metrics: o.metrics,
      response: o.response ?? null,
    })),
  );
  const r = await sql<{ seq: number; customer_id: string; status: string }>`
    with i as (
      select * from jsonb_to_recordset(${rows}::jsonb) as x(seq int, status text, reason text, error text, address text, pmid text,
        next_at timestamptz, sent boolean, delivered boolean, failed boolean, metrics text[], response jsonb)
    ),
    upd as (
      update outreach_record r set
        -- An acceptance whose delivery report came first (kept by record.events) takes the report's state.
        status = case when i.status = 'sent' and r.failed_at is not null then 'failed' when i.status = 'sent' and r.delivered_at is not null then 'delivered' else i.status end,
        reason = case when i.status = 'sent' and r.failed_at is not null then r.reason else i.reason end,
        error_message = case when i.status = 'sent' and r.failed_at is not null then r.error_message else i.error end,
        address = coalesce(i.address, r.address),
        -- A claim that ended throttled or waiting for quiet hours was no failed attempt (max_attempts counts failures).
        attempts = case when i.status = 'deferred' and i.reason in ('throttled', 'quiet_hours_deferred') then greatest(r.attempts - 1, 0) else r.attempts end,
        provider_message_id = coalesce(i.pmid, r.provider_message_id),
        next_attempt_at = coalesce(i.next_at, r.next_attempt_at),
        sent_at = case when i.sent then coalesce(r.sent_at, ${now}) else r.sent_at end,
        delivered_at = case when i.delivered then coalesce(r.delivered_at, ${now}) else r.delivered_at end,
        failed_at = case when i.failed then coalesce(r.failed_at, ${now}) else r.failed_at end,
        response = coalesce(i.response, r.response),
        updated_at = ${now}
      from i where r.run_id = ${runId} and r.seq = i.seq and r.status = 'sending'
      returning r.seq, r.customer_id, r.status, coalesce(r.variant, '') as variant,
        case when i.status = 'sent' and r.status <> 'sent' then i.metrics || array[r.status] else i.metrics end as metrics
    ),
    counted as (
      insert into outreach_run_stat (tenant_id, run_id, variant, metric, n)
      select ${tenantId}, ${runId}, variant, ltrim(m, '-'), sum(case when left(m, 1) = '-' then -1 else 1 end)
      from upd, unnest(metrics) m
      group by 1, 2, 3, 4
      on conflict (run_id, variant, metric) do update set n = outreach_run_stat.n + excluded.n
    )
    select seq, customer_id, status from upd`.execute(exec);
  return r.rows;
}

/** Adds to counters outside an outcome (cancel, callbacks). */
export function countersSql(tenantId: string, runId: string, variant: string, deltas: Record<string, number>) {
  const entries = Object.entries(deltas).filter(([, n]) => n !== 0);
  if (entries.length === 0) return null;
  return sql`
    insert into outreach_run_stat (tenant_id, run_id, variant, metric, n)
    values ${sql.join(entries.map(([metric, n]) => sql`(${tenantId}, ${runId}, ${variant}, ${metric}, ${n})`))}
    on conflict (run_id, variant, metric) do update set n = outreach_run_stat.n + excluded.n`;
}

/** Whether any record of the run can still be sent (pending, deferred, held, or mid-send). */
export async function hasOpenRecords(exec: Executor, runId: string): Promise<boolean> {
  const r = await sql<{ open: boolean }>`
    select exists (select 1 from outreach_record where run_id = ${runId} and status in ('pending', 'deferred', 'sending', 'held')) as open`.execute(exec);
  return r.rows[0]!.open;
}

/** Cancels what is still to send: pending, deferred and held records become cancelled, counted per variant. */
export async function cancelOpen(exec: Executor, tenantId: string, runId: string, now: Date): Promise<number> {
  const r = await sql<{ n: number }>`
    with c as (
      select run_id, seq, status as old_status from outreach_record
      where run_id = ${runId} and status in ('pending', 'deferred', 'held')
      for update
    ),
    upd as (
      update outreach_record r set status = 'cancelled', reason = 'run_cancelled', updated_at = ${now}
      from c where r.run_id = c.run_id and r.seq = c.seq
      returning coalesce(r.variant, '') as variant, c.old_status
    ),
    counted as (
      insert into outreach_run_stat (tenant_id, run_id, variant, metric, n)
      select ${tenantId}, ${runId}, variant, m.metric, sum(m.n)
      from upd, lateral (values ('cancelled', 1), (case when old_status in ('deferred', 'held') then old_status end, -1)) m(metric, n)
      where m.metric is not null
      group by 1, 2, 3, 4
      on conflict (run_id, variant, metric) do update set n = outreach_run_stat.n + excluded.n
    )
    select count(*)::int as n from upd`.execute(exec);
  return r.rows[0]!.n;
}
