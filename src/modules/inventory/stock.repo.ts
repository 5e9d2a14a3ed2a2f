import { sql } from 'kysely';
import type { Executor } from '../../db/client.js';
import { inventoryErrors } from './inventory.errors.js';

/**
 * Stock of one reward, split over up to MAX_SLOTS rows. A request takes its units from one slot
 * in one conditional UPDATE, so parallel grants of a hot reward lock different rows and commit in
 * parallel instead of queueing behind one row's lock and WAL flush. Every slot keeps
 * reserved + used <= total (CHECK), so the reward as a whole can never be over-issued.
 */
export const MAX_SLOTS = 16;

export type StockColumn = 'used' | 'reserved';
/** Which slots a take came from, to give the units back to the same rows. */
export type SlotTake = { slot: number; quantity: number }[];

/** A take either got its units, or learned how many were left (fewer than asked). */
export type TakeResult = { takes: SlotTake; free?: undefined } | { takes: null; free: number };

export interface StockSummary {
  total: number | null;
  reserved: number;
  used: number;
  available: number | null;
}

/** How many slots a reward of this size gets: one per unit for tiny stocks, at most MAX_SLOTS. */
export const slotCountFor = (total: number | null) => (total === null ? MAX_SLOTS : Math.max(1, Math.min(MAX_SLOTS, total)));

/** Splits `total` over `count` slots as evenly as possible. */
export function splitTotal(total: number, count: number): number[] {
  const base = Math.floor(total / count);
  const extra = total % count;
  return Array.from({ length: count }, (_, i) => base + (i < extra ? 1 : 0));
}

export async function createSlots(exec: Executor, tenantId: string, rewardId: string, total: number | null, count: number): Promise<void> {
  const totals = total === null ? Array<number | null>(count).fill(null) : splitTotal(total, count);
  await exec
    .insertInto('reward_stock_slot')
    .values(totals.map((t, slot) => ({ tenant_id: tenantId, reward_id: rewardId, slot, total: t, reserved: 0, used: 0 })))
    .execute();
}

/**
 * Takes `quantity` units into `column` (used for grants, reserved for reservations), or answers
 * how many were free when the reward does not have that many: exactly, never a false "sold out"
 * while units remain. The database function mh_take_stock (sql/mh_take_stock.sql) does it in one round
 * trip: a random free slot, else a wait on a slot with room, else a take across slots near sell-out.
 */
export async function takeStock(exec: Executor, tenantId: string, rewardId: string, quantity: number, column: StockColumn): Promise<TakeResult> {
  const { rows } = await sql<{ r: { takes?: SlotTake; free?: number } }>`
    select mh_take_stock(${tenantId}, ${rewardId}, ${quantity}, ${column}) as r`.execute(exec);
  const r = rows[0]!.r;
  return r.takes ? { takes: r.takes } : { takes: null, free: Number(r.free ?? 0) };
}

/** Gives units back (revocation, cancellation, expiry) to the slots they came from. */
export async function releaseStock(exec: Executor, tenantId: string, rewardId: string, takes: SlotTake, column: StockColumn): Promise<void> {
  if (takes.length === 0) return;
  const returns = takes.map((t) => ({ tenant_id: tenantId, reward_id: rewardId, slot: t.slot, quantity: t.quantity }));
  // One statement for all of them (sql/mh_return_stock.sql, also what grants' SQL returns stock with).
  await sql`select mh_return_stock(${JSON.stringify(returns)}::jsonb, ${column})`.execute(exec);
}

/** Turns reserved units into used ones (a confirmed reservation), in the same slots. */
export async function confirmReserved(exec: Executor, tenantId: string, rewardId: string, takes: SlotTake): Promise<void> {
  for (const t of takes) {
    await sql`update reward_stock_slot set reserved = reserved - ${t.quantity}, used = used + ${t.quantity}
              where tenant_id = ${tenantId} and reward_id = ${rewardId} and slot = ${t.slot}`.execute(exec);
  }
}

/** total / reserved / used / available of each reward, summed over its slots. */
export async function summarizeStock(exec: Executor, tenantId: string, rewardIds: readonly string[]): Promise<Map<string, StockSummary>> {
  const out = new Map<string, StockSummary>();
  if (rewardIds.length === 0) return out;
  const rows = await exec
    .selectFrom('reward_stock_slot')
    .select((eb) => [
      'reward_id',
      eb.fn.sum<number>('reserved').as('reserved'),
      eb.fn.sum<number>('used').as('used'),
      eb.fn.sum<number>('total').as('total'),
      sql<boolean>`bool_or(total is null)`.as('unlimited'),
    ])
    .where('tenant_id', '=', tenantId)
    .where('reward_id', 'in', rewardIds)
    .groupBy('reward_id')
    .execute();
  for (const r of rows) {
    const reserved = Number(r.reserved);
    const used = Number(r.used);
    const total = r.unlimited ? null : Number(r.total);
    out.set(r.reward_id, { total, reserved, used, available: total === null ? null : total - reserved - used });
  }
  return out;
}

/**
 * Changes the reward's total, never below what is already reserved or used: the slots are locked
 * and re-split so each keeps what it holds plus an even share of the new room.
 */
export async function resizeStock(exec: Executor, tenantId: string, rewardId: string, newTotal: number | null): Promise<void> {
  const slots = await sql<{ slot: number; held: number }>`
    select slot, reserved + used as held from reward_stock_slot
    where tenant_id = ${tenantId} and reward_id = ${rewardId}
    order by slot for update`.execute(exec);
  const held = slots.rows.reduce((sum, r) => sum + Number(r.held), 0);
  if (newTotal !== null && newTotal < held) {
    throw inventoryErrors.belowIssued(newTotal, held);
  }
  const room = newTotal === null ? null : splitTotal(newTotal - held, slots.rows.length);
  for (const [i, row] of slots.rows.entries()) {
    const total = room === null ? null : Number(row.held) + room[i]!;
    await sql`update reward_stock_slot set total = ${total}
              where tenant_id = ${tenantId} and reward_id = ${rewardId} and slot = ${row.slot}`.execute(exec);
  }
}
