import { sql } from 'kysely';
import type { Executor } from '../../db/client.js';

/**
 * Frequency caps and suppressions, checked when a record is about to be sent (not when the run
 * starts). A cap is reserved for all of a step's customers in ONE statement: a customer whose
 * period already holds `count` messages gets no row back, whatever other runs or processes do
 * at the same moment (the upsert's row lock orders them).
 */

export function periodStart(now: Date, period: 'hour' | 'day' | 'week'): Date {
  const d = new Date(now);
  d.setUTCMinutes(0, 0, 0);
  if (period === 'hour') return d;
  d.setUTCHours(0);
  if (period === 'day') return d;
  const isoDay = (d.getUTCDay() + 6) % 7; // Monday = 0
  return new Date(d.getTime() - isoDay * 86_400_000);
}

/** Reserves one message of the period for each customer; returns those who got one. */
export async function reserveCaps(
  exec: Executor,
  input: { tenantId: string; channel: string; customerIds: readonly string[]; periodStart: Date; count: number },
): Promise<Set<string>> {
  if (input.customerIds.length === 0) return new Set();
  const r = await sql<{ customer_id: string }>`
    insert into outreach_contact_window as w (tenant_id, channel, customer_id, period_start, n)
    select ${input.tenantId}, ${input.channel}, c, ${input.periodStart}, 1 from unnest(${[...input.customerIds]}::text[]) c
    on conflict (tenant_id, channel, customer_id, period_start) do update set n = w.n + 1 where w.n < ${input.count}
    returning customer_id`.execute(exec);
  return new Set(r.rows.map((row) => row.customer_id));
}

/** For a simulation: the customers whose period is already full (nothing is reserved). */
export async function fullAmong(
  exec: Executor,
  input: { tenantId: string; channel: string; customerIds: readonly string[]; periodStart: Date; count: number },
): Promise<Set<string>> {
  if (input.customerIds.length === 0) return new Set();
  const r = await exec
    .selectFrom('outreach_contact_window')
    .select('customer_id')
    .where('tenant_id', '=', input.tenantId)
    .where('channel', '=', input.channel)
    .where('period_start', '=', input.periodStart)
    .where('customer_id', '=', sql<string>`any(${[...input.customerIds]}::text[])`)
    .where('n', '>=', input.count)
    .execute();
  return new Set(r.map((row) => row.customer_id));
}

/** Gives back reservations of messages that were not sent after all (failed for good). */
export async function releaseCaps(exec: Executor, input: { tenantId: string; channel: string; customerIds: readonly string[]; periodStart: Date }): Promise<void> {
  if (input.customerIds.length === 0) return;
  await sql`
    update outreach_contact_window set n = greatest(n - 1, 0)
    where tenant_id = ${input.tenantId} and channel = ${input.channel} and period_start = ${input.periodStart}
      and customer_id = any(${[...input.customerIds]}::text[])`.execute(exec);
}

/** The addresses among these that must not be messaged on the channel. */
export async function suppressedAmong(exec: Executor, tenantId: string, channel: string, addresses: readonly string[]): Promise<Set<string>> {
  if (addresses.length === 0) return new Set();
  const r = await exec
    .selectFrom('outreach_suppression')
    .select('address')
    .where('tenant_id', '=', tenantId)
    .where('channel', '=', channel)
    .where('address', '=', sql<string>`any(${[...addresses]}::text[])`)
    .execute();
  return new Set(r.map((row) => row.address));
}

/** Suppresses several addresses of one channel in one statement (a provider said they do not exist). */
export async function suppressMany(exec: Executor, input: { tenantId: string; channel: string; addresses: readonly string[]; reason: string; now: Date }): Promise<void> {
  if (input.addresses.length === 0) return;
  await exec
    .insertInto('outreach_suppression')
    .values([...new Set(input.addresses)].map((address) => ({ tenant_id: input.tenantId, channel: input.channel, address, reason: input.reason, created_at: input.now })))
    .onConflict((oc) => oc.columns(['tenant_id', 'channel', 'address']).doNothing())
    .execute();
}

export async function suppress(exec: Executor, input: { tenantId: string; channel: string; address: string; reason: string; now: Date }): Promise<void> {
  await exec
    .insertInto('outreach_suppression')
    .values({ tenant_id: input.tenantId, channel: input.channel, address: input.address, reason: input.reason, created_at: input.now })
    .onConflict((oc) => oc.columns(['tenant_id', 'channel', 'address']).doNothing())
    .execute();
}
