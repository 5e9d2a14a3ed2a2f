import { afterCommit, type Database, type Executor } from '../../db/client.js';
import type { Clock } from '../../platform/clock.js';
import { promotionErrors } from './promotion.errors.js';
import { findPromotion, type ItemRow, type PromotionRow, type ReservationRow } from './promotion.repo.js';
import * as repo from './promotion-reservation.repo.js';
import { lineKey, type QuantityLine } from './promotion-reservation.repo.js';
import type { ReservationView } from './promotion.schemas.js';
import type { ReservationStatus } from './promotion.tables.js';
import { phaseOf, toReservationView } from './promotion.view.js';

/** A reservation holds its units this long unless the caller says otherwise (seconds). */
export const DEFAULT_RESERVATION_TTL_SECONDS = 900;
/** The longest TTL a caller may ask for (7 days, in seconds). */
export const MAX_RESERVATION_TTL_SECONDS = 604_800;
const MAX_LINES = 500;
const MAX_QUANTITY = 1_000_000_000;

export interface ReserveLinesInput {
  user_id: string;
  order_id: string;
  /** How long the units are held before the sweep gives them back (default 900 s). */
  ttl_seconds?: number | undefined;
  lines: readonly { promotion_id: string; item_id: string; quantity: number }[];
}

export type SettleAction = 'commit' | 'release' | 'refund';

const TRANSITIONS: Record<SettleAction, { from: ReservationStatus; to: ReservationStatus; giveBack: boolean }> = {
  commit: { from: 'reserved', to: 'committed', giveBack: false },
  release: { from: 'reserved', to: 'released', giveBack: true },
  refund: { from: 'committed', to: 'refunded', giveBack: true },
};

interface Loaded {
  row: PromotionRow;
  stock: ItemRow[];
}

export interface ReservationDeps {
  db: Database;
  clock: Clock;
  /** The promotion as cached (`fresh`: read again and cached anew); 404 when the tenant has none. */
  load(tenantId: string, id: string, exec: Executor, fresh: boolean): Promise<Loaded>;
  inAudience(tenantId: string, row: PromotionRow, userId: string, exec: Executor): Promise<boolean>;
  /** Stock of the tenant's promotions changed (this process's live list is dropped, now and after the commit). */
  changed(tenantId: string, exec: Executor): void;
}

const bad = promotionErrors.invalid;

/** Checks the input and merges lines of the same promotion and item (their quantities add up), first appearance first. */
function mergeLines(input: ReserveLinesInput): QuantityLine[] {
  const nonEmpty = (v: unknown, field: string) => {
    if (typeof v !== 'string' || v.length === 0 || v.length > 128) throw bad(field, 'must be a string of 1..128 characters');
  };
  nonEmpty(input.user_id, 'user_id');
  nonEmpty(input.order_id, 'order_id');
  const ttl = input.ttl_seconds;
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_RESERVATION_TTL_SECONDS)) throw bad('ttl_seconds', `must be an integer of 1..${MAX_RESERVATION_TTL_SECONDS}`);
  if (!Array.isArray(input.lines) || input.lines.length === 0 || input.lines.length > MAX_LINES) throw bad('lines', `must hold 1..${MAX_LINES} lines`);
  const merged = new Map<string, QuantityLine>();
  input.lines.forEach((l, i) => {
    nonEmpty(l.promotion_id, `lines.${i}.promotion_id`);
    nonEmpty(l.item_id, `lines.${i}.item_id`);
    if (!Number.isInteger(l.quantity) || l.quantity < 1) throw bad(`lines.${i}.quantity`, 'must be a positive integer');
    const key = lineKey(l);
    const seen = merged.get(key);
    const quantity = (seen?.quantity ?? 0) + l.quantity;
    if (quantity > MAX_QUANTITY) throw bad(`lines.${i}.quantity`, `adds up to more than ${MAX_QUANTITY}`);
    merged.set(key, { promotion_id: l.promotion_id, item_id: l.item_id, quantity });
  });
  return [...merged.values()];
}

function sameOrMismatch(r: ReservationRow, userId: string, quantity: number): ReservationRow {
  if (r.user_id !== userId || r.quantity !== quantity) throw promotionErrors.orderMismatch(r.promotion_id, r.order_id);
  return r;
}

/** Reservations of flash-sale and gift stock for orders: reserve lines, settle an order, sweep lapsed ones. */
export function createReservationService(deps: ReservationDeps) {
  const { db, clock } = deps;

  async function loadAll(tenantId: string, ids: string[], exec: Executor, fresh: boolean): Promise<Map<string, Loaded>> {
    const loaded = await Promise.all(ids.map((id) => deps.load(tenantId, id, exec, fresh)));
    return new Map(ids.map((id, i) => [id, loaded[i]!]));
  }

  /** Window (and slots), audience and item of every line, in line order; throws the first refusal. */
  async function check(tenantId: string, lines: QuantityLine[], promos: Map<string, Loaded>, userId: string, now: Date, exec: Executor): Promise<void> {
    const audienceChecked = new Set<string>();
    for (const line of lines) {
      const { row, stock } = promos.get(line.promotion_id)!;
      const phase = phaseOf(row, now);
      if (phase !== 'active') throw promotionErrors.notActive(row.promotion_id, phase === 'scheduled' ? 'not_started' : 'ended');
      if (row.audience_id && !audienceChecked.has(row.promotion_id)) {
        if (!(await deps.inAudience(tenantId, row, userId, exec))) throw promotionErrors.notInAudience(row.promotion_id);
        audienceChecked.add(row.promotion_id);
      }
      if (!stock.some((s) => s.item_id === line.item_id)) throw promotionErrors.itemNotInPromotion(row.promotion_id, line.item_id);
    }
  }

  /** The order already holds every line (a retry): the same reservations, or 409 order_mismatch; null if it does not. */
  async function heldAlready(tenantId: string, input: ReserveLinesInput, lines: QuantityLine[], exec: Executor): Promise<ReservationView[] | null> {
    const held = new Map((await repo.orderReservations(exec, tenantId, input.order_id, [...new Set(lines.map((l) => l.promotion_id))])).map((r) => [lineKey(r), r]));
    if (!lines.every((l) => held.has(lineKey(l)))) return null;
    return lines.map((l) => toReservationView(sameOrMismatch(held.get(lineKey(l))!, input.user_id, l.quantity)));
  }

  /**
   * Takes stock for the lines of an order, all or nothing, in the caller's transaction
   * (`trx`; a refusal throws, which rolls back what it wrote): the reservation rows (insert ... on
   * conflict do nothing: a line the order holds already answers that reservation, with another
   * user or quantity 409 promotion_order_mismatch), the user's counters (n + q <= per_user_limit)
   * and the stock (sold + q <= stock, the promotion still in its window), one statement each for
   * every line. Lines of the same promotion and item are merged. One view per merged line.
   */
  async function reserveLines(tenantId: string, input: ReserveLinesInput, trx: Executor): Promise<ReservationView[]> {
    const lines = mergeLines(input);
    const now = clock.now();
    const expiresAt = new Date(now.getTime() + (input.ttl_seconds ?? DEFAULT_RESERVATION_TTL_SECONDS) * 1000);
    const ids = [...new Set(lines.map((l) => l.promotion_id))];
    let promos = await loadAll(tenantId, ids, trx, false);
    try {
      await check(tenantId, lines, promos, input.user_id, now, trx);
    } catch {
      // A retry of lines the order holds answers them even after the end; any other refusal is
      // confirmed on the rows as stored (the cached copy may predate a change by another process).
      const again = await heldAlready(tenantId, input, lines, trx);
      if (again) return again;
      promos = await loadAll(tenantId, ids, trx, true);
      await check(tenantId, lines, promos, input.user_id, now, trx);
    }
    const rows = new Map<string, ReservationRow>();
    const created: QuantityLine[] = [];
    let pending = lines;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const order = { order_id: input.order_id, user_id: input.user_id, expires_at: expiresAt, now };
      const inserted = await repo.insertReservations(trx, tenantId, order, pending.map((l) => ({ ...l, version: promos.get(l.promotion_id)!.row.updated_at })));
      for (const r of inserted) rows.set(lineKey(r), r);
      created.push(...pending.filter((l) => rows.has(lineKey(l))));
      let missing = pending.filter((l) => !rows.has(lineKey(l)));
      if (missing.length === 0) break;
      const held = await repo.orderReservations(trx, tenantId, input.order_id, [...new Set(missing.map((l) => l.promotion_id))]);
      for (const r of held) {
        const line = missing.find((l) => lineKey(l) === lineKey(r));
        if (line) rows.set(lineKey(r), sameOrMismatch(r, input.user_id, line.quantity));
      }
      missing = missing.filter((l) => !rows.has(lineKey(l)));
      if (missing.length > 0 && attempt >= 3) throw promotionErrors.changed(missing[0]!.promotion_id);
      // Filtered out: the promotion changed since it was cached, ended, or no longer holds the item.
      // Read it again: a refusal now is the real one; else insert those lines with the new version.
      if (missing.length > 0) {
        const again = await loadAll(tenantId, [...new Set(missing.map((l) => l.promotion_id))], trx, true);
        promos = new Map([...promos, ...again]);
        await check(tenantId, missing, promos, input.user_id, now, trx);
      }
      pending = missing;
    }
    if (created.length > 0) {
      const limited = created.filter((l) => limitOf(promos, l) !== null);
      const counted = await repo.countUser(trx, tenantId, input.user_id, limited);
      const over = limited.find((l) => !counted.has(lineKey(l)));
      if (over) throw promotionErrors.perUserLimitReached(over.promotion_id, over.item_id, limitOf(promos, over) ?? 0);
      const taken = await repo.takeStock(trx, tenantId, now, created);
      const short = created.find((l) => !taken.has(lineKey(l)));
      if (short) {
        // Sold out, unless the promotion ended between the statements.
        const row = await findPromotion(trx, tenantId, short.promotion_id);
        const phase = row ? phaseOf(row, now) : 'ended';
        if (phase !== 'active') throw promotionErrors.notActive(short.promotion_id, phase === 'scheduled' ? 'not_started' : 'ended');
        throw promotionErrors.soldOut(short.promotion_id, short.item_id);
      }
      deps.changed(tenantId, trx);
    }
    return lines.map((l) => toReservationView(rows.get(lineKey(l))!));
  }

  /**
   * Commit (reserved -> committed), release (reserved -> released) or refund (committed ->
   * refunded) of every reservation of the order, of one promotion or all: one conditional UPDATE
   * that also gives back the stock and counts of exactly the rows it moved. Again answers the
   * same; a reservation in another state is 409 (a commit after the TTL 409 expired).
   */
  async function settle(tenantId: string, orderId: string, action: SettleAction, trx: Executor, promotionId?: string): Promise<ReservationView[]> {
    const now = clock.now();
    const move = TRANSITIONS[action];
    const moved = await repo.transition(trx, tenantId, { orderId, promotionId }, { ...move, now, notLapsedAt: action === 'commit' ? now : undefined });
    const rows = await repo.orderReservations(trx, tenantId, orderId, promotionId !== undefined ? [promotionId] : undefined);
    if (rows.length === 0) throw promotionErrors.reservationNotFound(promotionId ?? null, orderId);
    const wrong = rows.find((r) => r.status !== move.to);
    if (wrong) {
      // A commit of a hold past its TTL, swept already (released at or after expires_at) or not yet.
      const lapsed = wrong.expires_at !== null && (wrong.status === 'reserved' ? wrong.expires_at <= now : wrong.status === 'released' && wrong.expires_at <= wrong.updated_at);
      if (action === 'commit' && lapsed) throw promotionErrors.reservationExpired(wrong.promotion_id, orderId);
      throw promotionErrors.reservationState(wrong.promotion_id, orderId, wrong.status);
    }
    if (move.giveBack && moved.length > 0) deps.changed(tenantId, trx);
    return rows.map(toReservationView);
  }

  return {
    reserveLines,
    settle,

    /** commit, release or refund every reservation of the order, of all promotions (see settle). */
    settleOrder: (tenantId: string, orderId: string, action: SettleAction, trx: Executor) => settle(tenantId, orderId, action, trx),

    /** The sweep: held reservations past their TTL are released and give their units back (at most `limit` per call). */
    async releaseLapsed(limit = 5000): Promise<number> {
      const byTenant = await repo.releaseLapsed(db, clock.now(), limit);
      for (const t of byTenant) deps.changed(t.tenant_id, db);
      return byTenant.reduce((a, t) => a + t.n, 0);
    },
  };
}

function limitOf(promos: Map<string, Loaded>, l: QuantityLine): number | null {
  return promos.get(l.promotion_id)?.stock.find((s) => s.item_id === l.item_id)?.per_user_limit ?? null;
}

/** Runs `fn` now and again once `exec` commits (a reader in between may have cached the old state). */
export function nowAndAfterCommit(exec: Executor, fn: () => void): void {
  fn();
  if (exec.isTransaction) afterCommit(exec, fn);
}
