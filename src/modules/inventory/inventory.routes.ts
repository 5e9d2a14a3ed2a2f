import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { Reservation, ReservationList, ReservationListQuery, ReservationParams, ReserveBody } from './inventory.schemas.js';
import type { InventoryService } from './inventory.service.js';

const tags = ['inventory'];

export function inventoryRoutes(app: Api, deps: { inventory: InventoryService; uow: UnitOfWork }): void {
  const { inventory, uow } = deps;

  app.post(
    '/v1/inventory/reserve',
    {
      schema: { tags, summary: 'Hold units of a reward for a while (inventory reservation, 库存预占)', body: ReserveBody, response: { 201: Reservation, ...errors(...authErrors, 404, 409, 422) } },
    },
    async (request, reply) => uow(request, reply, 201, (trx) => inventory.reserve(request.actor!, request.body, trx)),
  );

  app.post(
    '/v1/inventory/:reservation_id/confirm',
    {
      schema: { tags, summary: 'Confirm a reservation: its units become used', params: ReservationParams, response: { 200: Reservation, ...errors(...authErrors, 404, 409, 422) } },
    },
    async (request, reply) => uow(request, reply, 200, (trx) => inventory.confirm(request.actor!, request.params.reservation_id, trx)),
  );

  app.post(
    '/v1/inventory/:reservation_id/cancel',
    {
      schema: { tags, summary: 'Cancel a reservation: its units go back', params: ReservationParams, response: { 200: Reservation, ...errors(...authErrors, 404, 409, 422) } },
    },
    async (request, reply) => uow(request, reply, 200, (trx) => inventory.cancel(request.actor!, request.params.reservation_id, trx)),
  );

  app.get(
    '/v1/inventory/reservations',
    { schema: { tags, summary: 'List reservations', querystring: ReservationListQuery, response: { 200: ReservationList, ...errors(...authErrors) } } },
    async (request) => inventory.listReservations(request.actor!, request.query),
  );
}
