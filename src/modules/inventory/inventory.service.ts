import type { Counter } from 'prom-client';
import { type Database, type Executor, inTransaction, runTransaction } from '../../db/client.js';
import { type Actor, requireTenant, type TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { notFound } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import { inventoryErrors } from './inventory.errors.js';
import type { ReservationListInput, ReservationView, ReserveInput } from './inventory.schemas.js';
import * as repo from './reservation.repo.js';
import { confirmReserved, releaseStock, type SlotTake, takeStock } from './stock.repo.js';

export type InventoryService = ReturnType<typeof createInventoryService>;

export interface InventoryMetrics {
  reserved: Counter;
  confirmed: Counter;
  cancelled: Counter;
  expired: Counter;
}

const visibility = (a: TenantActor): repo.Visibility => ({ tenantId: a.tenantId, productCodes: a.productCodes });

function toView(row: repo.ReservationRow): ReservationView {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    reservation_id: row.reservation_id,
    tenant_id: row.tenant_id,
    reward_id: row.reward_id,
    user_id: row.user_id,
    quantity: row.quantity,
    status: row.status,
    expires_at: row.expires_at.toISOString(),
    confirmed_at: iso(row.confirmed_at),
    released_at: iso(row.released_at),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/**
 * What reservations need of a reward. The rewards module's service provides it (wired in
 * app/services.ts); inventory names only this much, so the two modules do not import each other
 * (rewards uses inventory's stock slots).
 */
export interface RewardLookup {
  findForGrant(actor: TenantActor, rewardId: string, exec?: Executor): Promise<{ reward_id: string; product_code: string; valid_until: Date | null }>;
}

/**
 * Inventory reservations: hold units (reserved), then confirm them (used) or give them back
 * (cancel, or expiry by the sweep). At every instant, per slot, reserved + used <= total.
 */
export function createInventoryService(deps: {
  db: Database;
  clock: Clock;
  rewards: RewardLookup;
  metrics: InventoryMetrics;
  /** Called when units come back, so a sold-out gate can let requests through again. */
  onStockReturned?: (tenantId: string, rewardId: string) => void;
}) {
  const { db, clock, rewards, metrics } = deps;

  // A product-limited key sees only reservations of rewards of its products; others look absent.
  async function load(exec: Executor, tenant: TenantActor, reservationId: string) {
    const row = await repo.findReservation(exec, visibility(tenant), reservationId);
    if (!row) throw notFound('reservation', reservationId);
    return row;
  }

  return {
    /** Holds `quantity` units of a reward for `ttl_seconds`; 409 inventory_exhausted if there are not that many. */
    async reserve(actor: Actor, input: ReserveInput, exec: Executor = db): Promise<ReservationView> {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const now = clock.now();
        const reward = await rewards.findForGrant(tenant, input.reward_id, trx);
        if (reward.valid_until && reward.valid_until.getTime() <= now.getTime()) {
          throw inventoryErrors.rewardExpired(reward.valid_until);
        }
        const { takes, free } = await takeStock(trx, tenant.tenantId, reward.reward_id, input.quantity, 'reserved');
        if (!takes) {
          throw inventoryErrors.exhausted(reward.reward_id, free);
        }
        const row = await repo.insertReservation(trx, {
          tenant_id: tenant.tenantId,
          reservation_id: newId('rsv', now.getTime()),
          reward_id: reward.reward_id,
          product_code: reward.product_code,
          user_id: input.user_id ?? null,
          quantity: input.quantity,
          status: 'RESERVED',
          slots: JSON.stringify(takes),
          expires_at: new Date(now.getTime() + (input.ttl_seconds ?? 900) * 1000),
          confirmed_at: null,
          released_at: null,
          created_at: now,
          updated_at: now,
        });
        metrics.reserved.inc();
        return toView(row);
      });
    },

    /** Turns the held units into used ones; refused once the reservation expired. */
    async confirm(actor: Actor, reservationId: string, exec: Executor = db): Promise<ReservationView> {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const now = clock.now();
        const current = await load(trx, tenant, reservationId);
        const row = await repo.settleReservation(trx, tenant.tenantId, reservationId, 'CONFIRMED', now);
        if (!row) {
          if (current.status === 'RESERVED' || current.status === 'EXPIRED') {
            throw inventoryErrors.reservationExpired(current.expires_at);
          }
          throw inventoryErrors.invalidTransition('confirm', current.status);
        }
        await confirmReserved(trx, tenant.tenantId, row.reward_id, row.slots as SlotTake);
        metrics.confirmed.inc();
        return toView(row);
      });
    },

    /** Gives the held units back. */
    async cancel(actor: Actor, reservationId: string, exec: Executor = db): Promise<ReservationView> {
      const tenant = requireTenant(actor);
      const result = await inTransaction(exec, async (trx) => {
        const current = await load(trx, tenant, reservationId);
        const row = await repo.settleReservation(trx, tenant.tenantId, reservationId, 'CANCELLED', clock.now());
        if (!row) throw inventoryErrors.invalidTransition('cancel', current.status);
        await releaseStock(trx, tenant.tenantId, row.reward_id, row.slots as SlotTake, 'reserved');
        metrics.cancelled.inc();
        return row;
      });
      deps.onStockReturned?.(result.tenant_id, result.reward_id);
      return toView(result);
    },

    /** A page of the caller's reservations, newest first: of its products only for a limited key. */
    async listReservations(actor: Actor, query: ReservationListInput, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const page = toPage(query);
      const { rows, total } = await repo.listReservations(exec, visibility(tenant), { rewardId: query.reward_id, userId: query.user_id, status: query.status }, page);
      return { reservations: rows.map(toView), pagination: pagination(total, page) };
    },

    /** The expiry sweep: gives back the units of overdue reservations, in batches; returns how many. */
    async expireDue(batch = 500): Promise<number> {
      let total = 0;
      for (;;) {
        const expired = await runTransaction(db, async (trx) => {
          const rows = await repo.expireDue(trx, clock.now(), batch);
          for (const row of rows) await releaseStock(trx, row.tenant_id, row.reward_id, row.slots as SlotTake, 'reserved');
          return rows;
        });
        for (const row of expired) deps.onStockReturned?.(row.tenant_id, row.reward_id);
        metrics.expired.inc(expired.length);
        total += expired.length;
        if (expired.length < batch) return total;
      }
    },
  };
}
