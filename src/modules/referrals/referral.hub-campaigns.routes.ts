import { Type } from 'typebox';
import { authErrors, errors, ProductCodeHeader } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import type { HubCampaigns } from './referral.hub-campaigns.js';
import { HubCampaign, HubCampaignBody, HubCampaignList, HubCampaignPatch, HubCampaignQuery } from './referral.hub-campaigns.schemas.js';
import { IdParams } from './referral.schemas.js';

const tags = ['referrals: the document\'s campaign paths'];
// The operator's API, outside /v1: a tenant key; writes need the role of the referral settings PUT.
const read = { auth: 'tenant' as const };
const write = { auth: 'tenant' as const, role: 'admin' as const };

/** The product document's campaign paths (营销活动管理): one resource of a campaign and its referral settings. */
export function referralHubCampaignRoutes(app: Api, deps: { hub: HubCampaigns; uow: UnitOfWork }): void {
  const { hub, uow } = deps;
  app.post(
    '/api/v1/campaigns',
    { config: write, schema: { tags, summary: 'Create a referral campaign (创建活动), online at once when status is active', headers: ProductCodeHeader, body: HubCampaignBody, response: { 201: HubCampaign, ...errors(...authErrors, 409) } } },
    async (request, reply) => uow(request, reply, 201, (trx) => hub.create(request.actor!, request.body, request.headers['x-product-code'], trx)),
  );
  app.get(
    '/api/v1/campaigns',
    { config: read, schema: { tags, summary: 'The referral campaigns (获取活动列表): paging, keyword, status', headers: ProductCodeHeader, querystring: HubCampaignQuery, response: { 200: HubCampaignList, ...errors(...authErrors) } } },
    async (request) => hub.list(request.actor!, request.query, request.headers['x-product-code']),
  );
  app.get(
    '/api/v1/campaigns/:id',
    { config: read, schema: { tags, summary: 'One referral campaign (获取活动详情)', params: IdParams, response: { 200: HubCampaign, ...errors(...authErrors, 404) } } },
    async (request) => hub.get(request.actor!, request.params.id),
  );
  app.put(
    '/api/v1/campaigns/:id',
    { config: write, schema: { tags, summary: 'Change some fields of a referral campaign (更新活动)', params: IdParams, body: HubCampaignPatch, response: { 200: HubCampaign, ...errors(...authErrors, 404, 409) } } },
    async (request, reply) => uow(request, reply, 200, (trx) => hub.update(request.actor!, request.params.id, request.body, trx)),
  );
  app.delete(
    '/api/v1/campaigns/:id',
    { config: write, schema: { tags, summary: 'Delete a referral campaign (删除活动, soft): its page answers 404 at once', params: IdParams, response: { 204: Type.Null(), ...errors(...authErrors, 404) } } },
    async (request, reply) => {
      await uow(request, reply, 204, (trx) => hub.remove(request.actor!, request.params.id, trx));
      return reply.status(204).send(null);
    },
  );
}
