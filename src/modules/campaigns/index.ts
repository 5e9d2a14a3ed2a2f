import { Counter, type Registry } from 'prom-client';

export { createCampaignService, type CampaignService } from './campaign.service.js';
export type { CampaignRow } from './campaign.repo.js';
export { campaignRoutes } from './campaign.routes.js';
export { Campaign, CreateCampaignBody } from './campaign.schemas.js';
export { activeCampaignsSql, campaignStatus, isCampaignActive, type CampaignStatus } from './campaign.status.js';

/** The campaign module's Prometheus metrics. */
export function campaignMetrics(registry: Registry) {
  return {
    created: new Counter({
      name: 'marketing_campaign_created_total',
      help: 'Campaigns created',
      labelNames: ['campaign_type'] as const,
      registers: [registry],
    }),
  };
}
