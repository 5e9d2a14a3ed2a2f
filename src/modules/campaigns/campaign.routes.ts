import { Type } from 'typebox';
import { authErrors, errors, ProductCodeHeader } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { requireTenant } from '../../platform/actor.js';
import {
  Campaign,
  CampaignList,
  CampaignListQuery,
  CampaignParams,
  CreateCampaignBody,
  UpdateCampaignBody,
} from './campaign.schemas.js';
import type { CampaignService } from './campaign.service.js';
import { CAMPAIGN_ACTIONS, type CampaignAction } from './campaign.status.js';

const tags = ['campaigns'];

const actionSummaries: Record<CampaignAction, string> = {
  publish: 'Publish a DRAFT campaign: SCHEDULED or ACTIVE by its time window',
  pause: 'Pause a SCHEDULED or ACTIVE campaign',
  resume: 'Resume a PAUSED campaign',
  archive: 'Archive a campaign (from any status but ARCHIVED)',
};

export function campaignRoutes(app: Api, deps: { campaigns: CampaignService; uow: UnitOfWork }): void {
  const { campaigns, uow } = deps;

  app.post(
    '/v1/campaigns',
    {
      schema: {
        tags,
        summary: 'Create a campaign (DRAFT)',
        headers: ProductCodeHeader,
        body: CreateCampaignBody,
        response: { 201: Campaign, ...errors(...authErrors, 409, 422) },
      },
    },
    async (request, reply) =>
      uow(request, reply, 201, (trx) =>
        campaigns.createCampaign(requireTenant(request.actor!), request.body, request.headers['x-product-code'], trx),
      ),
  );

  app.get(
    '/v1/campaigns',
    {
      schema: {
        tags,
        summary: 'List campaigns',
        headers: ProductCodeHeader,
        querystring: CampaignListQuery,
        response: { 200: CampaignList, ...errors(...authErrors) },
      },
    },
    async (request) => campaigns.listCampaigns(request.actor!, request.query, request.headers['x-product-code']),
  );

  app.get(
    '/v1/campaigns/:campaign_id',
    {
      schema: { tags, summary: 'Get a campaign', params: CampaignParams, response: { 200: Campaign, ...errors(...authErrors, 404) } },
    },
    async (request) => campaigns.getCampaign(request.actor!, request.params.campaign_id),
  );

  app.put(
    '/v1/campaigns/:campaign_id',
    {
      schema: {
        tags,
        summary: 'Change fields of a campaign',
        params: CampaignParams,
        body: UpdateCampaignBody,
        response: { 200: Campaign, ...errors(...authErrors, 404, 409) },
      },
    },
    async (request, reply) => uow(request, reply, 200, (trx) => campaigns.updateCampaign(request.actor!, request.params.campaign_id, request.body, trx)),
  );

  app.delete(
    '/v1/campaigns/:campaign_id',
    {
      schema: {
        tags,
        summary: 'Delete a DRAFT or ARCHIVED campaign',
        params: CampaignParams,
        response: { 204: Type.Null(), ...errors(...authErrors, 404, 409) },
      },
    },
    async (request, reply) => {
      await campaigns.deleteCampaign(request.actor!, request.params.campaign_id);
      return reply.code(204).send(null);
    },
  );

  for (const action of CAMPAIGN_ACTIONS) {
    app.post(
      `/v1/campaigns/:campaign_id/${action}`,
      {
        schema: {
          tags,
          summary: actionSummaries[action],
          params: CampaignParams,
          response: { 200: Campaign, ...errors(...authErrors, 404, 409, 422) },
        },
      },
      async (request, reply) =>
        uow(request, reply, 200, (trx) => campaigns.transitionCampaign(request.actor!, request.params.campaign_id, action, trx)),
    );
  }
}
