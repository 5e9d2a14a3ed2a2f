import { AppError } from '../../platform/errors.js';
import { sharedErrors } from '../../platform/shared-errors.js';
import type { ReservationStatus } from './inventory.tables.js';

/**
 * The inventory module's error codes and messages, one factory per refusal. `code` is the
 * contract with clients: never change an existing one.
 */
export const inventoryErrors = {
  /** 409: the reward's validity has ended; nothing can be reserved. */
  rewardExpired: sharedErrors.rewardExpired,

  /** 409: fewer free units than asked for. */
  exhausted: sharedErrors.inventoryExhausted,

  /** 409: confirming a reservation whose hold has run out. */
  reservationExpired: (expiresAt: Date) =>
    new AppError('conflict', 'reservation_expired', `Reservation expired at ${expiresAt.toISOString()}`, {
      expires_at: expiresAt.toISOString(),
    }),

  /** 409: confirm or cancel of a reservation that is no longer RESERVED. */
  invalidTransition: (action: 'confirm' | 'cancel', status: ReservationStatus) =>
    new AppError('conflict', 'invalid_reservation_transition', `Cannot ${action} a ${status} reservation`, { status }),

  /** 409: a new total_stock below what is already reserved or used. */
  belowIssued: (newTotal: number, held: number) =>
    new AppError('conflict', 'stock_below_issued', `total_stock ${newTotal} is below the ${held} units already reserved or used`, {
      field: 'total_stock',
      issued: held,
    }),
};
