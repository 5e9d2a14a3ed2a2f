import { requireTenant } from '../../platform/actor.js';
import { authErrors, errors, ProductCodeHeader } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { mirroredCreate } from '../redeem-codes/index.js';
import { CreatePartnerCampaignBody, PartnerCampaign, type PartnerCampaignView } from './partner.schemas.js';
import type { PartnerService } from './partner.service.js';

const tags = ['partners'];

export function partnerRoutes(app: Api, deps: { partners: PartnerService; uow: UnitOfWork; mirror?: Parameters<typeof mirroredCreate>[0] }): void {
  const { partners, uow, mirror } = deps;

  app.post(
    '/v1/partner/campaigns',
    {
      schema: {
        tags,
        summary: 'A channel partner creates a campaign with its batch of redeem codes, in one transaction',
        description:
          "For CHANNEL tenants (403 tenant_not_channel otherwise). Checks the tenant, creates the campaign, generates the codes (charging the tenant's code quota: 429 or 409 code_quota_exceeded, nothing written) and answers the campaign, the batch (with its codes up to 10,000; 202 and a background job above) and the quota left.",
        headers: ProductCodeHeader,
        body: CreatePartnerCampaignBody,
        response: { 201: PartnerCampaign, 202: PartnerCampaign, ...errors(...authErrors, 404, 409, 422, 429) },
      },
    },
    async (request, reply) => {
      // The master key is refused (403 tenant_key_required) before the Redis mirror is held.
      const tenantId = requireTenant(request.actor!).tenantId;
      const result = await mirroredCreate(mirror, tenantId, () =>
        uow<PartnerCampaignView & { async: boolean }>(
          request,
          reply,
          (r) => (r.async ? 202 : 201),
          (trx) => partners.createCampaign(request.actor!, request.body, request.headers['x-product-code'], trx),
          { recordAs: ({ async: _async, ...view }) => view },
        ),
      );
      const { async: _async, ...view } = result;
      return view;
    },
  );
}
