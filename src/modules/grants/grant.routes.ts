import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { grantBatch } from './grant.batch.js';
import { BatchGrantBody, BatchGrantResult, Eligibility, Grant, GrantBody, GrantList, GrantListQuery, GrantParams, StatusBody } from './grant.schemas.js';
import type { GrantService } from './grant.service.js';
import type { GrantView } from './grant.schemas.js';

const tags = ['reward-grants'];

export function grantRoutes(app: Api, deps: { grants: GrantService; uow: UnitOfWork }): void {
  const { grants, uow } = deps;

  app.post(
    '/v1/reward-grants',
    {
      schema: {
        tags,
        summary: 'Grant a reward: validate -> reserve -> generate -> distribute, in one transaction',
        description:
          '201 with the new grant; 200 with the earlier grant when the same (source, source_id) already granted this reward. Refusals are 409 with a code: inventory_exhausted, per_user_limit_reached, min_interval_not_elapsed, campaign_not_active, reward_expired, reward_not_started ...',
        body: GrantBody,
        response: { 200: Grant, 201: Grant, ...errors(...authErrors, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const result = await uow<{ grant: GrantView; created: boolean }>(request, reply, (r) => (r.created ? 201 : 200), (exec) => grants.grantReward(request.actor!, request.body, exec), {
        recordAs: (r) => r.grant,
        selfContained: true,
      });
      return result.grant;
    },
  );

  app.post(
    '/v1/reward-grants/batch',
    {
      schema: {
        tags,
        summary: 'Many grants in one request (up to 100), each answered on its own',
        description:
          '200 with one result per item, in order: granted, replayed (its source and source_id granted before), refused (409-kind refusals: inventory_exhausted, per_user_limit_reached ...) or error (unknown reward, incomplete source pair ...). One grant statement for the set, as a batch of task completions; an item it could not grant runs again alone. An Idempotency-Key covers the whole batch (then one transaction): a retry answers the first results and grants nothing again.',
        body: BatchGrantBody,
        response: { 200: BatchGrantResult, ...errors(...authErrors, 422) },
      },
    },
    async (request, reply) => uow(request, reply, 200, (exec) => grantBatch(grants.grantMany, request.actor!, request.body, exec), { selfContained: true }),
  );

  app.post(
    '/v1/reward-grants/check',
    {
      config: { idempotent: false, client: { user: 'body.user_id' } },
      schema: {
        tags,
        summary: 'Would this grant succeed? The same checks, nothing granted: {eligible, reasons}',
        body: GrantBody,
        response: { 200: Eligibility, ...errors(...authErrors, 404) },
      },
    },
    async (request) => grants.checkEligibility(request.actor!, request.body),
  );

  app.get(
    '/v1/reward-grants',
    { schema: { tags, summary: 'List grants', querystring: GrantListQuery, response: { 200: GrantList, ...errors(...authErrors) } } },
    async (request) => grants.listGrants(request.actor!, request.query),
  );

  app.get(
    '/v1/reward-grants/:grant_id',
    { schema: { tags, summary: 'Get a grant with its delivery status', params: GrantParams, response: { 200: Grant, ...errors(...authErrors, 404) } } },
    async (request) => grants.getGrant(request.actor!, request.params.grant_id),
  );

  app.put(
    '/v1/reward-grants/:grant_id/status',
    {
      schema: {
        tags,
        summary: 'Mark a grant USED, or REVOKE it (stock back if unused, ledger reversal, code or coupon void)',
        params: GrantParams,
        body: StatusBody,
        response: { 200: Grant, ...errors(...authErrors, 404, 409) },
      },
    },
    async (request) => grants.changeStatus(request.actor!, request.params.grant_id, request.body),
  );

  app.post(
    '/v1/reward-grants/:grant_id/retry-delivery',
    {
      schema: {
        tags,
        summary: 'Send a FAILED webhook delivery again',
        params: GrantParams,
        response: { 202: Grant, ...errors(...authErrors, 404, 409, 422) },
      },
    },
    async (request, reply) => uow(request, reply, 202, (trx) => grants.retryDelivery(request.actor!, request.params.grant_id, trx)),
  );
}
