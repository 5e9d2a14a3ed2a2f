/**
 * The channel partner flow of the product document (渠道商创建活动): one request, one
 * transaction — the tenant is checked (a CHANNEL tenant), the campaign is created, its batch of
 * codes is generated (charging the tenant's code quota in the same transaction), and the answer
 * carries the campaign, the batch and the quota left. Any refusal writes nothing.
 */
import { type Database, type Executor, inTransaction } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { CampaignService } from '../campaigns/index.js';
import type { BatchService } from '../redeem-codes/index.js';
import type { TenantService } from '../tenants/index.js';
import { partnerErrors } from './partner.errors.js';
import type { CreatePartnerCampaignInput, PartnerCampaignView } from './partner.schemas.js';

export type PartnerService = ReturnType<typeof createPartnerService>;

export function createPartnerService(deps: { db: Database; tenants: TenantService; campaigns: CampaignService; batches: BatchService }) {
  const { db, tenants, campaigns, batches } = deps;
  return {
    /** `async` is true when the batch is larger than a request makes at once (a job generates it). */
    async createCampaign(
      actor: Actor,
      input: CreatePartnerCampaignInput,
      productHeader: string | undefined,
      exec: Executor = db,
    ): Promise<PartnerCampaignView & { async: boolean }> {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        // 校验租户有效性: the tenant exists and is a channel partner.
        const type = await tenants.tenantType(tenant.tenantId, trx);
        if (type !== 'CHANNEL') throw partnerErrors.channelOnly(tenant.tenantId, type);
        // 生成活动元数据, then 批量生成兑换码 (the batch charges the code quota in this transaction).
        const campaign = await campaigns.createCampaign(tenant, input.campaign, productHeader, trx);
        const { batch, async } = await batches.createBatch(tenant, campaign.campaign_id, input.redeem_codes, trx);
        // 返回租户配额信息: the quota as this transaction leaves it.
        const quota = await tenants.getCodeQuota(tenant, tenant.tenantId, trx).catch((err: unknown) => {
          if ((err as { code?: string }).code === 'code_quota_not_found') return null;
          throw err;
        });
        return { campaign, batch, quota, async };
      });
    },
  };
}
