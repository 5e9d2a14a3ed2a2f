import type { FastifyRequest } from 'fastify';
import type { Api } from '../../platform/http/types.js';
import type { AuditLog } from './audit.service.js';
import type { ResolvedSession } from './session.service.js';

/**
 * Routes a backend calls for its end users, many times a second (grants, redemptions, task
 * events, checkout, coupon and promotion order steps, joins): their own tables already record
 * each call, so an API key's calls of these are not audited (an operator's always are).
 */
const HIGH_VOLUME = new Set([
  'POST /v1/reward-grants',
  'POST /v1/reward-grants/batch',
  'POST /v1/reward-grants/check',
  'POST /v1/redeem',
  'POST /api/redeem',
  'POST /v1/redeem-code-batches/:batch_id/assign-next',
  'POST /v1/tasks/trigger',
  'POST /v1/tasks/trigger/batch',
  'POST /v1/inventory/reserve',
  'POST /v1/inventory/:reservation_id/confirm',
  'POST /v1/inventory/:reservation_id/cancel',
  'POST /v1/users/:user_id/ledger/debit',
  'POST /v1/checkout/quote',
  'POST /v1/checkout/orders',
  'POST /v1/checkout/orders/:order_id/commit',
  'POST /v1/checkout/orders/:order_id/release',
  'POST /v1/checkout/orders/:order_id/refund',
  'POST /v1/coupons/available',
  'POST /v1/coupons/templates/:coupon_template_id/claim',
  'POST /v1/coupons/:coupon_id/lock',
  'POST /v1/coupons/:coupon_id/commit',
  'POST /v1/coupons/:coupon_id/release',
  'POST /v1/coupons/:coupon_id/refund',
  'POST /marketing/coupons/:coupon_id/use',
  'POST /v1/promotions/:promotion_id/eligibility',
  'POST /v1/promotions/:promotion_id/discount',
  'POST /v1/promotions/:promotion_id/reserve',
  'POST /v1/promotions/:promotion_id/commit',
  'POST /v1/promotions/:promotion_id/release',
  'POST /v1/promotions/:promotion_id/refund',
  'POST /v1/group-buys/activities/:activity_id/groups',
  'POST /v1/group-buys/groups/:group_id/join',
  'POST /marketing/group-buy',
  'POST /marketing/group-buy/:group_id/join',
  'POST /v1/posters',
  'POST /api/v1/qrcode/generate',
  'POST /v1/auth/wechat',
  'POST /api/v1/auth/wechat',
  'PUT /v1/customers/:user_id',
  'POST /v1/customers/:user_id/tags',
]);

// A path parameter naming the changed thing; never `code` (a redeem code is a secret).
const ID_PARAM = /(?:_id|Id|^id)$/;
// The first `*_id` of a JSON answer other than tenant_id (the created thing, in this API's answers).
const ANSWER_ID = /"((?!tenant_id")[a-z][a-z0-9_]*_id)":"([^"\\]{1,128})"/;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the onSend hook for a change to record (null: no entity id found). */
    auditEntity?: string | null;
    /** The console session the request was admitted with (src/app/auth.ts), else null. */
    operatorSession: ResolvedSession | null;
  }
}

function auditable(request: FastifyRequest, status: number): boolean {
  const method = request.method;
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || status >= 400) return false;
  const actor = request.actor;
  if (!actor || (actor.kind === 'tenant' && actor.client) || request.routeOptions.url === undefined) return false;
  if (request.operatorSession) return true;
  return actor.kind === 'master' || !HIGH_VOLUME.has(`${method} ${request.routeOptions.url}`);
}

function pathEntity(request: FastifyRequest): string | null {
  const params = request.params as Record<string, unknown> | undefined;
  if (!params) return null;
  let found: string | null = null;
  for (const [name, value] of Object.entries(params)) {
    if (ID_PARAM.test(name) && typeof value === 'string') found = value.slice(0, 200);
  }
  return found;
}

/**
 * Records every change (a non-GET answered below 400) made with an operator session, an API key
 * (not the HIGH_VOLUME routes) or the master key: after the response, queued in memory and written
 * in batches (audit.service.ts). The entity is the path's last id parameter, else the first
 * `*_id` of the answer.
 */
export function installAudit(app: Api, audit: AuditLog): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    if (auditable(request, reply.statusCode)) {
      const fromPath = pathEntity(request);
      const fromAnswer = fromPath === null && typeof payload === 'string' ? ANSWER_ID.exec(payload.slice(0, 4096)) : null;
      request.auditEntity = fromPath ?? fromAnswer?.[2] ?? null;
    }
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const actor = request.actor;
    if (request.auditEntity === undefined || !actor) return done();
    const session = request.operatorSession;
    const params = request.params as { tenant_id?: unknown } | undefined;
    audit.record({
      tenant_id: actor.kind === 'tenant' ? actor.tenantId : typeof params?.tenant_id === 'string' ? params.tenant_id : null,
      actor_kind: session ? 'operator' : actor.kind === 'master' ? 'master' : 'api_key',
      operator_id: session?.operatorId ?? null,
      key_id: !session && actor.kind === 'tenant' ? actor.keyId : null,
      method: request.method,
      route: request.routeOptions.url ?? request.url,
      entity_id: request.auditEntity,
      status: reply.statusCode,
      request_id: request.id,
    });
    done();
  });
}
