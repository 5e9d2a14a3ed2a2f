import { endUserIp } from '../../platform/client-ip.js';
import { pipeline, Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { Type } from 'typebox';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import type { BatchService } from './redeem-code.batch.js';
import {
  AssignBody,
  AssignNextBody,
  AssignNextResult,
  Batch,
  BatchList,
  BatchListQuery,
  BatchParams,
  CampaignParams,
  CodeList,
  CodeListQuery,
  CodeParams,
  CreateBatchBody,
  DocumentRedeemBody,
  DocumentRedeemResult,
  EmptyBody,
  ExportQuery,
  RedeemBody,
  RedeemCode,
  RedeemHeaders,
  RedeemResult,
  RedemptionList,
  RedemptionListQuery,
  type BatchView,
  type RedeemCodeView,
  type RedeemResultView,
} from './redeem-code.schemas.js';
import type { CodeService } from './redeem-code.service.js';
import type { RedemptionService } from './redemption.service.js';
import { type CodeMirror, mirroredCreate } from './redeem-code.mirror.js';
import { requireTenant } from '../../platform/actor.js';

const tags = ['redeem-codes'];
const CSV_COLUMNS = ['code', 'code_id', 'batch_id', 'campaign_id', 'reward_id', 'status', 'uses', 'max_uses', 'assigned_user_id', 'expires_at', 'applicable_products', 'extra_data'] as const;

export function redeemCodeRoutes(
  app: Api,
  deps: { batches: BatchService; codes: CodeService; redemptions: RedemptionService; uow: UnitOfWork; mirror?: CodeMirror | undefined },
): void {
  const { batches, codes, redemptions, uow, mirror } = deps;
  // After a change committed, the mirror learns it (best effort: a miss only slows redemptions).
  const tenantOf = (request: { actor?: Parameters<typeof requireTenant>[0] | null | undefined }) => requireTenant(request.actor!).tenantId;
  async function refreshed<T extends RedeemCodeView>(tenantId: string, view: T): Promise<T> {
    await mirror?.refreshCode(tenantId, view.code_id).catch(() => undefined);
    return view;
  }

  app.post(
    '/v1/campaigns/:campaign_id/redeem-codes',
    {
      schema: {
        tags,
        summary: 'Generate a batch of redeem codes for a campaign',
        description:
          'Up to 10,000 codes: 201 with the batch and its codes. More: 202 with the batch (status PENDING); a background job generates them, GET /v1/redeem-code-batches/{batch_id} shows progress, GET /v1/redeem-codes/export streams them. 400 code_space_too_small when codes of that length could be guessed.',
        params: CampaignParams,
        body: CreateBatchBody,
        response: { 201: Batch, 202: Batch, ...errors(...authErrors, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const result = await mirroredCreate(mirror, tenantOf(request), () =>
        uow<{ batch: BatchView; async: boolean }>(request, reply, (r) => (r.async ? 202 : 201), (trx) =>
          batches.createBatch(request.actor!, request.params.campaign_id, request.body, trx), { recordAs: (r) => r.batch }));
      return result.batch;
    },
  );

  app.get(
    '/v1/redeem-code-batches',
    {
      schema: {
        tags,
        summary: "List the tenant's batches, newest first (filters: campaign, status)",
        querystring: BatchListQuery,
        response: { 200: BatchList, ...errors(...authErrors) },
      },
    },
    async (request) => batches.listBatches(request.actor!, request.query),
  );

  app.get(
    '/v1/redeem-code-batches/:batch_id',
    { schema: { tags, summary: 'A batch: status and generated / total', params: BatchParams, response: { 200: Batch, ...errors(...authErrors, 404) } } },
    async (request) => batches.getBatch(request.actor!, request.params.batch_id),
  );

  app.post(
    '/v1/redeem-code-batches/:batch_id/void',
    {
      schema: { tags, summary: 'Void a whole batch: none of its codes redeems afterwards', params: BatchParams, body: EmptyBody, response: { 200: Batch, ...errors(...authErrors, 404, 409, 422) } },
    },
    async (request, reply) => {
      const batch = await uow(request, reply, 200, (trx) => batches.voidBatch(request.actor!, request.params.batch_id, trx));
      await mirror?.refreshBatch(batch.tenant_id, batch.batch_id).catch(() => undefined);
      return batch;
    },
  );

  app.get(
    '/v1/redeem-codes',
    { schema: { tags, summary: 'List codes (filters: campaign, batch, status, user)', querystring: CodeListQuery, response: { 200: CodeList, ...errors(...authErrors) } } },
    async (request) => codes.listCodes(request.actor!, request.query),
  );

  app.get(
    '/v1/redeem-codes/export',
    {
      schema: {
        tags,
        summary: 'Stream the codes of a batch as CSV',
        description: `Columns: ${CSV_COLUMNS.join(', ')}. Streamed page by page; any batch size.`,
        querystring: ExportQuery,
        produces: ['text/csv'],
        response: { 200: Type.String({ description: 'CSV with a header row' }), ...errors(...authErrors, 404) },
      },
    },
    async (request, reply) => {
      const { batch, rows } = await codes.exportBatch(request.actor!, request.query.batch_id);
      // pipeline, not pipe: a database failure after the first page ends the response instead of
      // escaping as an uncaught error.
      const csv = pipeline(Readable.from(toRecords(rows)), stringify({ header: true, columns: [...CSV_COLUMNS] }), (err) => {
        if (err) request.log.warn({ err }, 'redeem-code export ended early');
      });
      void reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${batch.batch_id}.csv"`);
      // A stream is sent as is (no serialisation); the 200 schema above only documents it.
      return reply.send(csv as unknown as string);
    },
  );

  app.get(
    '/v1/redeem-codes/:code',
    { schema: { tags, summary: 'A code (with or without dashes)', params: CodeParams, response: { 200: RedeemCode, ...errors(...authErrors, 404) } } },
    async (request) => codes.getCode(request.actor!, request.params.code),
  );

  app.post(
    '/v1/redeem-codes/:code/assign',
    {
      schema: {
        tags,
        summary: 'Assign an unused code to a user: only that user can redeem it',
        params: CodeParams,
        body: AssignBody,
        response: { 200: RedeemCode, ...errors(...authErrors, 404, 409, 422) },
      },
    },
    async (request, reply) =>
      refreshed(tenantOf(request), await uow(request, reply, 200, (trx) => codes.assignCode(request.actor!, request.params.code, request.body, trx))),
  );

  app.post(
    '/v1/redeem-code-batches/:batch_id/assign-next',
    {
      schema: {
        tags,
        summary: "Hand the batch's next free code to a user (pre-generated codes handed out on demand)",
        description:
          'One statement (FOR UPDATE SKIP LOCKED): parallel calls never get the same code. 200 with the code and reused: false; a one_per_user batch answers a user\'s repeat with the same code and reused: true. 409 batch_exhausted when no free code is left, 409 batch_closed for a voided or expired batch.',
        params: BatchParams,
        body: AssignNextBody,
        response: { 200: AssignNextResult, ...errors(...authErrors, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const result = await uow(request, reply, 200, (trx) => codes.assignNext(request.actor!, request.params.batch_id, request.body, trx));
      await mirror?.refreshCode(tenantOf(request), result.redeem_code.code_id).catch(() => undefined);
      return result;
    },
  );

  app.post(
    '/v1/redeem-codes/:code/void',
    { schema: { tags, summary: 'Void a code', params: CodeParams, body: EmptyBody, response: { 200: RedeemCode, ...errors(...authErrors, 404, 409, 422) } } },
    async (request, reply) => refreshed(tenantOf(request), await uow(request, reply, 200, (trx) => codes.voidCode(request.actor!, request.params.code, trx))),
  );

  app.post(
    '/v1/redeem',
    {
      config: { client: { user: 'body.user_id' } },
      schema: {
        tags,
        summary: 'Redeem a code: checks, use and grant in one statement',
        description:
          '201 with the redemption and the grant. Refusals: 404 code_not_found, 400 code_mistyped (check character), 409 code_already_redeemed / code_expired / code_voided / campaign_not_active, 403 code_not_assigned_to_user / product_not_applicable, and the grant\'s own (409 inventory_exhausted, per_user_limit_reached ...).',
        headers: RedeemHeaders,
        body: RedeemBody,
        response: { 201: RedeemResult, ...errors(...authErrors, 404, 409, 422, 429) },
      },
    },
    async (request, reply) => {
      // Per-IP limits count the end user's address only (client_ip from the calling backend).
      const limitIp = endUserIp(request, request.body.client_ip, { serverCaller: !isClient(request) });
      const attempt = redemptions.attemptOf(request.actor!, request.body, request.headers['x-product-code'], request.ip, limitIp, request.headers['x-device-id']);
      // The service opens the transaction, only when there is an answer to record.
      return redemptions.redeem(request.actor!, attempt, uow.recorder(request, reply, 201));
    },
  );

  // The product document's path (统一接入层: POST /api/redeem, headers x-product-code and
  // x-device-id, body {code, userId}), a tenant key like the other document paths; the same
  // redemption as /v1/redeem, answered with the document's 核销成功 or the error envelope.
  app.post(
    '/api/redeem',
    {
      // A tenant key, or a client (publishable key and the end user's token, whose sub is userId).
      config: { auth: 'tenant' as const, client: { user: 'body.userId' as const } },
      schema: {
        tags: ['redeem-codes: product document paths'],
        summary: 'Redeem a code (核销): the document\'s path, the same redemption as POST /v1/redeem',
        description: '201 {message: "核销成功", redemption, grant, granted?}; refusals as POST /v1/redeem (the error envelope with a stable code: the 错误提示).',
        headers: RedeemHeaders,
        body: DocumentRedeemBody,
        response: { 201: DocumentRedeemResult, ...errors(...authErrors, 404, 409, 422, 429) },
      },
    },
    async (request, reply) => {
      const limitIp = endUserIp(request, undefined, { serverCaller: !isClient(request) });
      const input = { code: request.body.code, user_id: request.body.userId };
      const attempt = redemptions.attemptOf(request.actor!, input, request.headers['x-product-code'], request.ip, limitIp, request.headers['x-device-id']);
      // An Idempotency-Key's replay answers what this route answers: the message included.
      const recorded = uow.recorder<{ message: '核销成功' } & RedeemResultView>(request, reply, 201);
      const recorder = recorded && { record: (trx: Parameters<typeof recorded.record>[0], value: RedeemResultView) => recorded.record(trx, { message: '核销成功', ...value }), committed: () => recorded.committed() };
      const result = await redemptions.redeem(request.actor!, attempt, recorder);
      return { message: '核销成功' as const, ...result };
    },
  );

  app.get(
    '/v1/redemptions',
    {
      schema: { tags, summary: 'Who redeemed what, when, from which product, address and device', querystring: RedemptionListQuery, response: { 200: RedemptionList, ...errors(...authErrors) } },
    },
    async (request) => redemptions.listRedemptions(request.actor!, request.query),
  );
}

/** A client request (publishable key): its connection's address is the end user's own. */
const isClient = (request: { actor: { kind: string } | null }) => request.actor !== null && 'client' in request.actor && request.actor.client !== undefined;

async function* toRecords(rows: AsyncIterable<RedeemCodeView>) {
  for await (const r of rows) yield { ...r, applicable_products: r.applicable_products?.join('|') ?? '', extra_data: r.extra_data ? JSON.stringify(r.extra_data) : '' };
}
