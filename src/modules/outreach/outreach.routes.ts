import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { Campaign, CampaignList, CampaignListQuery, CampaignParams, CreateCampaignBody, UpdateCampaignBody } from './campaign.schemas.js';
import type { Outreach } from './outreach.module.js';
import { providerRoutes } from './provider.routes.js';
import { publicOutreachRoutes } from './public.routes.js';
import { recordRoutes } from './record.routes.js';
import { CampaignStats, Run, RunList, RunListQuery, RunParams, TriggerBody } from './run.schemas.js';

const tags = ['outreach'];

/** Outreach campaigns, runs and stats; providers and settings; callbacks and tracking. */
export function outreachRoutes(app: Api, deps: { outreach: Outreach; uow: UnitOfWork }): void {
  const { outreach, uow } = deps;
  const { campaigns, runs } = outreach;

  app.post(
    '/v1/outreach/campaigns',
    { schema: { tags, summary: 'Create an outreach campaign (draft, or scheduled with a future start_time or a cron schedule)', body: CreateCampaignBody, response: { 201: Campaign, ...errors(...authErrors, 404) } } },
    async (request, reply) => uow(request, reply, 201, (trx) => campaigns.createCampaign(request.actor!, request.body, trx)),
  );
  app.get(
    '/v1/outreach/campaigns',
    { schema: { tags, summary: 'List outreach campaigns, newest first', querystring: CampaignListQuery, response: { 200: CampaignList, ...errors(...authErrors) } } },
    async (request) => campaigns.listCampaigns(request.actor!, request.query),
  );
  app.get(
    '/v1/outreach/campaigns/:campaign_id',
    { schema: { tags, summary: 'Get an outreach campaign', params: CampaignParams, response: { 200: Campaign, ...errors(...authErrors, 404) } } },
    async (request) => campaigns.getCampaign(request.actor!, request.params.campaign_id),
  );
  app.put(
    '/v1/outreach/campaigns/:campaign_id',
    { schema: { tags, summary: 'Change a campaign before it starts (draft or scheduled)', params: CampaignParams, body: UpdateCampaignBody, response: { 200: Campaign, ...errors(...authErrors, 404, 409) } } },
    async (request, reply) => uow(request, reply, 200, (trx) => campaigns.updateCampaign(request.actor!, request.params.campaign_id, request.body, trx)),
  );
  app.post(
    '/v1/outreach/campaigns/:campaign_id/archive',
    { schema: { tags, summary: 'Archive a campaign (refused while a run is in progress)', params: CampaignParams, response: { 200: Campaign, ...errors(...authErrors, 404, 409) } } },
    async (request, reply) =>
      uow(request, reply, 200, (trx) =>
        campaigns.archiveCampaign(request.actor!, request.params.campaign_id, (exec) => runs.liveRunOf(request.actor!.kind === 'tenant' ? request.actor!.tenantId : '', request.params.campaign_id, exec), trx),
      ),
  );
  app.post(
    '/v1/outreach/campaigns/:campaign_id/trigger',
    {
      schema: { tags, summary: 'Start a run now: actual, or a simulation that sends nothing', params: CampaignParams, body: TriggerBody, response: { 202: Run, ...errors(...authErrors, 404, 409) } },
      // The body is optional (actual by default).
      preValidation: (request, _reply, done) => {
        request.body ??= {};
        done();
      },
    },
    async (request, reply) => uow(request, reply, 202, (trx) => runs.trigger(request.actor!, request.params.campaign_id, request.body?.execution_type ?? 'actual', trx)),
  );
  app.get(
    '/v1/outreach/campaigns/:campaign_id/stats',
    { schema: { tags, summary: "A campaign's counts and rates over its actual runs, per variant too", params: CampaignParams, response: { 200: CampaignStats, ...errors(...authErrors, 404) } } },
    async (request) => runs.campaignStats(request.actor!, request.params.campaign_id),
  );

  app.get(
    '/v1/outreach/runs',
    { schema: { tags, summary: 'List runs, newest first', querystring: RunListQuery, response: { 200: RunList, ...errors(...authErrors) } } },
    async (request) => runs.listRuns(request.actor!, request.query),
  );
  app.get(
    '/v1/outreach/runs/:run_id',
    { schema: { tags, summary: 'A run: status, counts by status, rates, ETA (simulation: predicted duration and samples)', params: RunParams, response: { 200: Run, ...errors(...authErrors, 404) } } },
    async (request) => runs.getRun(request.actor!, request.params.run_id),
  );
  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post(
      `/v1/outreach/runs/:run_id/${action}`,
      { schema: { tags, summary: `${action[0]!.toUpperCase()}${action.slice(1)} a run`, params: RunParams, response: { 200: Run, ...errors(...authErrors, 404, 409) } } },
      async (request, reply) => uow(request, reply, 200, (trx) => runs[action](request.actor!, request.params.run_id, trx)),
    );
  }

  providerRoutes(app, { outreach, uow });
  publicOutreachRoutes(app, { outreach });
  recordRoutes(app, { outreach, uow });
}
