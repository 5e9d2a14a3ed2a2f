import type { Database, Executor } from '../../db/client.js';
import { type Actor, requireTenant, type TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { pagination, toPage } from '../../platform/paging.js';
import type { CampaignService } from '../campaigns/index.js';
import { referralErrors } from './referral.errors.js';
import * as repo from './referral.hub-campaigns.repo.js';
import type {
  HubCampaignInput,
  HubCampaignPatchInput,
  HubCampaignQueryInput,
  HubCampaignView,
  HubRewardRuleInput,
  HubStatus,
} from './referral.hub-campaigns.schemas.js';
import type { RewardRuleType, ReferralSettingsInput, ReferralSettingsView } from './referral.schemas.js';
import { type ReferralService, toSettingsView } from './referral.service.js';

/**
 * The product document's campaign paths (`/api/v1/campaigns`): a facade over the campaigns
 * module (name, description, form, window, lifecycle) and the referral settings (image, reward
 * rule, payment, status). Every write runs in the caller's one transaction: a failure at any step
 * leaves nothing behind.
 */
export interface HubCampaignDeps {
  db: Database;
  clock: Clock;
  campaigns: CampaignService;
  referrals: ReferralService;
  /** The base of the landing page URL (as the referral service's). */
  publicUrl: string;
}

type CampaignView = Awaited<ReturnType<CampaignService['getCampaign']>>;

/** How many campaigns one get-many statement asks for while listing. */
const BATCH = 500;

/** The document's rate (0.1) as the settings' percent rule (10.00%, basis points); objects as given. */
export function toRewardRule(rule: HubRewardRuleInput): RewardRuleType {
  if (typeof rule !== 'number') return rule;
  const bp = Math.round(rule * 10_000);
  if (bp < 1) throw referralErrors.rewardRateTooSmall(rule);
  return { type: 'percent', percent: bp / 100 };
}

/** active / scheduled / ended follow the campaign's window; disabled: settings off, or the campaign not published. */
export function hubStatus(campaign: CampaignView, settings: ReferralSettingsView): HubStatus {
  if (settings.status !== 'enabled') return 'disabled';
  if (campaign.status === 'ACTIVE') return 'active';
  if (campaign.status === 'SCHEDULED') return 'scheduled';
  if (campaign.status === 'ENDED') return 'ended';
  return 'disabled';
}

export function toHubView(campaign: CampaignView, settings: ReferralSettingsView): HubCampaignView {
  const rule = settings.reward_rule;
  return {
    id: campaign.campaign_id,
    name: campaign.campaign_name,
    description: campaign.description,
    image_url: settings.image_url,
    form_fields: campaign.form_fields,
    reward_rule: rule,
    reward_rate: rule.type === 'percent' && rule.percent !== undefined ? Math.round(rule.percent * 100) / 10_000 : null,
    payment: settings.payment,
    second_level: settings.second_level,
    wechat_app_id: settings.wechat_app_id,
    start_time: campaign.start_time,
    end_time: campaign.end_time,
    status: hubStatus(campaign, settings),
    page_url: settings.page_url,
    created_at: campaign.created_at,
    updated_at: settings.updated_at > campaign.updated_at ? settings.updated_at : campaign.updated_at,
  };
}

/** The settings as the referral settings PUT takes them (to change some fields and keep the rest). */
function settingsInput(view: ReferralSettingsView): ReferralSettingsInput {
  const rule = view.reward_rule;
  return {
    image_url: view.image_url,
    reward_rule: rule.type === 'fixed' ? { type: 'fixed', amount: rule.amount ?? 0 } : { type: 'percent', percent: rule.percent ?? 0, cap: rule.cap ?? null },
    payment: { amount: view.payment.amount, currency: 'CNY', provider: view.payment.provider as 'sandbox' | 'wechat_pay' },
    status: view.status as 'enabled' | 'disabled',
    second_level: view.second_level,
    wechat_app_id: view.wechat_app_id,
  };
}

export type HubCampaigns = ReturnType<typeof createHubCampaigns>;

export function createHubCampaigns(deps: HubCampaignDeps) {
  const { db, clock, campaigns, referrals } = deps;

  async function requireLive(tenant: TenantActor, campaignId: string, exec: Executor): Promise<void> {
    if (!(await repo.isLive(exec, tenant.tenantId, campaignId))) throw referralErrors.hubCampaignNotFound(campaignId);
  }

  /** Publishes (or resumes) the campaign so the page is online at once; nothing when it already is. */
  async function goLive(tenant: TenantActor, campaign: CampaignView, exec: Executor): Promise<CampaignView> {
    if (campaign.status === 'DRAFT') return campaigns.transitionCampaign(tenant, campaign.campaign_id, 'publish', exec);
    if (campaign.status === 'PAUSED') return campaigns.transitionCampaign(tenant, campaign.campaign_id, 'resume', exec);
    return campaign;
  }

  async function read(tenant: TenantActor, campaignId: string, exec: Executor): Promise<HubCampaignView> {
    await requireLive(tenant, campaignId, exec);
    const campaign = await campaigns.getCampaign(tenant, campaignId, exec).catch(() => {
      throw referralErrors.hubCampaignNotFound(campaignId);
    });
    return toHubView(campaign, await referrals.getSettings(tenant, campaignId, exec));
  }

  return {
    /** 创建活动: the campaign, its referral settings and (status active) its publication, in `trx`. */
    async create(actor: Actor, input: HubCampaignInput, productHeader: string | undefined, trx: Executor): Promise<HubCampaignView> {
      const tenant = requireTenant(actor);
      const rule = toRewardRule(input.reward_rule);
      const created = await campaigns.createCampaign(
        tenant,
        {
          campaign_name: input.name,
          campaign_type: 'REFERRAL',
          description: input.description ?? null,
          start_time: input.start_time ?? null,
          end_time: input.end_time ?? null,
          form_fields: input.form_fields,
          ...(input.product_code !== undefined && { product_code: input.product_code }),
        },
        productHeader,
        trx,
      );
      const active = (input.status ?? 'active') === 'active';
      const settings = await referrals.putSettings(
        tenant,
        created.campaign_id,
        {
          image_url: input.image_url ?? null,
          reward_rule: rule,
          payment: { amount: input.payment.amount, currency: 'CNY', provider: input.payment.provider ?? 'wechat_pay' },
          status: active ? 'enabled' : 'disabled',
          second_level: input.second_level ?? null,
          wechat_app_id: input.wechat_app_id ?? null,
        },
        trx,
      );
      const campaign = active ? await goLive(tenant, created, trx) : created;
      return toHubView(campaign, settings);
    },

    /** 获取活动详情. */
    get(actor: Actor, campaignId: string): Promise<HubCampaignView> {
      return read(requireTenant(actor), campaignId, db);
    },

    /**
     * 获取活动列表: the tenant's campaigns with referral settings that are not deleted, newest
     * first; the campaigns are fetched in sets of BATCH, then filtered by keyword and status.
     */
    async list(actor: Actor, query: HubCampaignQueryInput, productHeader?: string) {
      const tenant = requireTenant(actor);
      const page = toPage(query);
      const rows = await repo.listLive(db, tenant.tenantId);
      const keyword = query.keyword?.toLowerCase();
      const matched: HubCampaignView[] = [];
      let total = 0;
      for (let i = 0; i < rows.length; i += BATCH) {
        const batch = rows.slice(i, i + BATCH);
        const byId = new Map((await campaigns.getCampaigns(tenant, batch.map((r) => r.campaign_id))).map((c) => [c.campaign_id, c]));
        for (const settings of batch) {
          const campaign = byId.get(settings.campaign_id);
          if (!campaign || (productHeader !== undefined && campaign.product_code !== productHeader)) continue;
          if (keyword !== undefined && !campaign.campaign_name.toLowerCase().includes(keyword)) continue;
          const view = toHubView(campaign, toSettingsView(settings, deps.publicUrl));
          if (query.status !== undefined && view.status !== query.status) continue;
          if (total >= page.offset && matched.length < page.limit) matched.push(view);
          total += 1;
        }
      }
      return { campaigns: matched, pagination: pagination(total, page) };
    },

    /** 更新活动: the campaign's fields through the campaigns module, the rest through the settings, in `trx`. */
    async update(actor: Actor, campaignId: string, input: HubCampaignPatchInput, trx: Executor): Promise<HubCampaignView> {
      const tenant = requireTenant(actor);
      await requireLive(tenant, campaignId, trx);
      const changes = {
        ...(input.name !== undefined && { campaign_name: input.name }),
        ...(input.description !== undefined && { description: input.description }),
        ...(input.start_time !== undefined && { start_time: input.start_time }),
        ...(input.end_time !== undefined && { end_time: input.end_time }),
        ...(input.form_fields !== undefined && { form_fields: input.form_fields }),
      };
      let campaign = Object.keys(changes).length > 0 ? await campaigns.updateCampaign(tenant, campaignId, changes, trx) : await campaigns.getCampaign(tenant, campaignId, trx);
      const current = settingsInput(await referrals.getSettings(tenant, campaignId, trx));
      const next: ReferralSettingsInput = {
        ...current,
        ...(input.image_url !== undefined && { image_url: input.image_url }),
        ...(input.reward_rule !== undefined && { reward_rule: toRewardRule(input.reward_rule) }),
        ...(input.payment !== undefined && { payment: { ...current.payment, ...input.payment, currency: 'CNY' } }),
        ...(input.status !== undefined && { status: input.status === 'active' ? 'enabled' : 'disabled' }),
        ...(input.second_level !== undefined && { second_level: input.second_level }),
        ...(input.wechat_app_id !== undefined && { wechat_app_id: input.wechat_app_id }),
      };
      const settings = await referrals.putSettings(tenant, campaignId, next, trx);
      if (input.status === 'active') campaign = await goLive(tenant, campaign, trx);
      // The campaign's own changes (window, form, publication) reach this process's page cache too.
      referrals.forgetPage(campaignId, trx);
      return toHubView(campaign, settings);
    },

    /**
     * 删除活动 (soft): the settings row stays with deleted_at and status disabled (the page answers
     * 404 at once), and the campaign is archived (a draft is deleted) through the campaigns module.
     */
    async remove(actor: Actor, campaignId: string, trx: Executor): Promise<void> {
      const tenant = requireTenant(actor);
      const current = await referrals.getSettings(tenant, campaignId, trx).catch(() => {
        throw referralErrors.hubCampaignNotFound(campaignId);
      });
      if (!(await repo.markDeleted(trx, tenant.tenantId, campaignId, clock.now()))) throw referralErrors.hubCampaignNotFound(campaignId);
      await referrals.putSettings(tenant, campaignId, { ...settingsInput(current), status: 'disabled' }, trx);
      const campaign = await campaigns.getCampaign(tenant, campaignId, trx);
      if (campaign.status === 'DRAFT') await campaigns.deleteCampaign(tenant, campaignId, trx);
      else if (campaign.status !== 'ARCHIVED') await campaigns.transitionCampaign(tenant, campaignId, 'archive', trx);
      referrals.forgetPage(campaignId, trx);
    },
  };
}
