import { Type } from 'typebox';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { CheckResult, CreateTargetBody, DocumentOrderParams, OrderParams, OrderSync, RecordList, RecordListQuery, Target, TargetList, TargetParams, UpdateTargetBody } from './sync.schemas.js';
import type { SyncService } from './sync.service.js';

const tags = ['sync'];

/**
 * Sync to the customer's database: targets (admin keys write; the password is never answered),
 * their health check, and per order the sync status and a retry of failed records, under /v1
 * and under the product document's own paths (`/api/v1/sync/status/{orderId}`, `/api/v1/sync/retry/{orderId}`).
 */
export function syncRoutes(app: Api, deps: { sync: SyncService; uow: UnitOfWork }): void {
  const { sync, uow } = deps;
  const admin = { role: 'admin' as const };

  app.post(
    '/v1/sync/targets',
    { config: admin, schema: { tags, summary: 'Add a database the tenant\'s orders and rewards are copied to', body: CreateTargetBody, response: { 201: Target, ...errors(...authErrors) } } },
    async (request, reply) => uow(request, reply, 201, (trx) => sync.createTarget(request.actor!, request.body, trx)),
  );
  app.get(
    '/v1/sync/targets',
    { schema: { tags, summary: 'List the sync targets', response: { 200: TargetList, ...errors(...authErrors) } } },
    async (request) => sync.listTargets(request.actor!),
  );
  app.get(
    '/v1/sync/targets/:target_id',
    { schema: { tags, summary: 'Get a sync target', params: TargetParams, response: { 200: Target, ...errors(...authErrors, 404) } } },
    async (request) => sync.getTarget(request.actor!, request.params.target_id),
  );
  app.put(
    '/v1/sync/targets/:target_id',
    {
      config: admin,
      schema: { tags, summary: 'Change a sync target (a password left out stays)', params: TargetParams, body: UpdateTargetBody, response: { 200: Target, ...errors(...authErrors, 404) } },
    },
    async (request, reply) => uow(request, reply, 200, (trx) => sync.updateTarget(request.actor!, request.params.target_id, request.body, trx)),
  );
  app.delete(
    '/v1/sync/targets/:target_id',
    { config: admin, schema: { tags, summary: 'Delete a sync target', params: TargetParams, response: { 204: Type.Null(), ...errors(...authErrors, 404) } } },
    async (request, reply) => {
      await uow(request, reply, 204, (trx) => sync.deleteTarget(request.actor!, request.params.target_id, trx));
      return reply.code(204).send(null);
    },
  );
  app.post(
    '/v1/sync/targets/:target_id/check',
    {
      // A probe, not a change: nothing to replay with an Idempotency-Key.
      config: { ...admin, idempotent: false },
      schema: { tags, summary: 'Health check: connect, and find the mapped tables and columns', params: TargetParams, response: { 200: CheckResult, ...errors(...authErrors, 404) } },
    },
    async (request) => sync.checkTarget(request.actor!, request.params.target_id),
  );

  app.get(
    '/v1/sync/records',
    { schema: { tags, summary: 'The sync records, last changed first (by status: failed lists those that gave up or were refused; kind; target)', querystring: RecordListQuery, response: { 200: RecordList, ...errors(...authErrors) } } },
    async (request) => sync.listRecords(request.actor!, request.query),
  );

  const statusSchema = { tags, summary: "The sync records of an order and the order's sync status", response: { 200: OrderSync, ...errors(...authErrors, 404) } };
  const retrySchema = { tags, summary: 'Retry the failed sync records of an order (re-enqueued, pending again)', response: { 200: OrderSync, ...errors(...authErrors, 404) } };
  app.get('/v1/sync/status/:order_id', { schema: { ...statusSchema, params: OrderParams } }, async (request) => sync.status(request.actor!, request.params.order_id));
  app.post('/v1/sync/retry/:order_id', { schema: { ...retrySchema, params: OrderParams } }, async (request, reply) =>
    uow(request, reply, 200, (trx) => sync.retry(request.actor!, request.params.order_id, trx)),
  );
  // The product document's paths, verbatim (tenant keys, like /v1).
  const document = { auth: 'tenant' as const };
  const documentTags = ['sync: product document paths'];
  app.get('/api/v1/sync/status/:orderId', { config: document, schema: { ...statusSchema, tags: documentTags, params: DocumentOrderParams } }, async (request) =>
    sync.status(request.actor!, request.params.orderId),
  );
  app.post('/api/v1/sync/retry/:orderId', { config: document, schema: { ...retrySchema, tags: documentTags, params: DocumentOrderParams } }, async (request, reply) =>
    uow(request, reply, 200, (trx) => sync.retry(request.actor!, request.params.orderId, trx)),
  );
}
