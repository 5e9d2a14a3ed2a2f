import type { Counter } from 'prom-client';
import { type Database, type Executor, inTransaction } from '../../db/client.js';
import { type Actor, requireTenant, type TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { AppError, invalidRequest, notFound } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import { parseInstant } from '../../platform/time.js';
import type { AppService } from '../apps/index.js';
import type { CampaignService } from '../campaigns/index.js';
import { createSlots, resizeStock, slotCountFor, type StockSummary, summarizeStock } from '../inventory/index.js';
import { couponTemplateOf, parseRewardConfig, publicConfig, type RewardConfig } from './reward.config.js';
import { rewardErrors } from './reward.errors.js';
import * as repo from './reward.repo.js';
import type { CreateRewardInput, RewardListInput, RewardView, UpdateRewardInput } from './reward.schemas.js';

export type RewardService = ReturnType<typeof createRewardService>;

const UNLIMITED: StockSummary = { total: null, reserved: 0, used: 0, available: null };

export function toRewardView(row: repo.RewardRow, stock: StockSummary | undefined): RewardView {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    reward_id: row.reward_id,
    tenant_id: row.tenant_id,
    product_code: row.product_code,
    campaign_id: row.campaign_id,
    reward_name: row.reward_name,
    reward_type: row.reward_type,
    total_stock: row.total_stock === null ? null : Number(row.total_stock),
    valid_from: iso(row.valid_from),
    valid_until: iso(row.valid_until),
    config: publicConfig(row.config as RewardConfig) as RewardView['config'],
    stock: stock ?? UNLIMITED,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    version: row.version,
    ...(row.created_by !== undefined && { created_by: row.created_by, updated_by: row.updated_by }),
  };
}

function checkValidity(from: Date | null, until: Date | null): void {
  if (from && until && until.getTime() <= from.getTime()) throw invalidRequest('valid_until', 'must be after valid_from');
}

const visibility = (a: TenantActor): repo.Visibility => ({ tenantId: a.tenantId, productCodes: a.productCodes });

export function createRewardService(deps: {
  db: Database;
  clock: Clock;
  apps: AppService;
  campaigns: CampaignService;
  createdCounter: Counter<'reward_type'>;
  /** Called after total_stock changed, so a sold-out gate lets requests through again. */
  onStockChanged?: (tenantId: string, rewardId: string) => void;
  /**
   * Whether a coupon template exists in the tenant (the coupons module, wired in app/services.ts),
   * for a COUPON reward's config.generator.coupon_template_id. Absent: no template can be named.
   */
  couponTemplateExists?: (tenantId: string, templateId: string, exec: Executor) => Promise<boolean>;
}) {
  const { db, clock, apps, campaigns } = deps;

  async function withStock(exec: Executor, rows: repo.RewardRow[]): Promise<RewardView[]> {
    if (rows.length === 0) return [];
    const stock = await summarizeStock(exec, rows[0]!.tenant_id, rows.map((r) => r.reward_id));
    return rows.map((r) => toRewardView(r, stock.get(r.reward_id)));
  }

  async function checkCampaign(tenantId: string, campaignId: string, productCode: string, exec: Executor): Promise<void> {
    const campaign = await campaigns.findCampaignForTenant(tenantId, campaignId, exec).catch((err: unknown) => {
      if (err instanceof AppError && err.kind === 'not_found') {
        throw rewardErrors.unknownCampaign(campaignId);
      }
      throw err;
    });
    if (campaign.product_code !== productCode) {
      throw rewardErrors.campaignProductMismatch(campaignId, campaign.product_code);
    }
  }

  /** A COUPON reward's coupon template must exist in the tenant when the reward is saved (400 unknown_coupon_template). */
  async function checkCouponTemplate(tenantId: string, rewardType: string, config: RewardConfig, exec: Executor): Promise<void> {
    const templateId = couponTemplateOf(rewardType, config);
    if (templateId === null) return;
    if (!deps.couponTemplateExists || !(await deps.couponTemplateExists(tenantId, templateId, exec))) {
      throw rewardErrors.unknownCouponTemplate(templateId);
    }
  }

  return {
    /** Creates a reward template and its stock slots. */
    async createReward(actor: Actor, input: CreateRewardInput, productHeader?: string, exec: Executor = db): Promise<RewardView> {
      const tenant = requireTenant(actor);
      const config = parseRewardConfig(input.reward_type, input.config);
      const validFrom = parseInstant('valid_from', input.valid_from);
      const validUntil = parseInstant('valid_until', input.valid_until);
      checkValidity(validFrom, validUntil);
      return inTransaction(exec, async (trx) => {
        const productCode = await apps.resolveProductCode(tenant, input.product_code, productHeader, trx);
        if (input.campaign_id) await checkCampaign(tenant.tenantId, input.campaign_id, productCode, trx);
        await checkCouponTemplate(tenant.tenantId, input.reward_type, config, trx);
        const now = clock.now();
        const total = input.total_stock ?? null;
        const slotCount = slotCountFor(total);
        const row = await repo.insertReward(trx, {
          tenant_id: tenant.tenantId,
          reward_id: newId('rwd', now.getTime()),
          product_code: productCode,
          campaign_id: input.campaign_id ?? null,
          reward_name: input.reward_name,
          reward_type: input.reward_type,
          total_stock: total,
          valid_from: validFrom,
          valid_until: validUntil,
          config: JSON.stringify(config),
          stock_slot_count: slotCount,
          deleted_at: null,
          created_at: now,
          updated_at: now,
        });
        await createSlots(trx, tenant.tenantId, row.reward_id, total, slotCount);
        deps.createdCounter.inc({ reward_type: row.reward_type });
        return toRewardView(row, { total, reserved: 0, used: 0, available: total });
      });
    },

    async getReward(actor: Actor, rewardId: string, exec: Executor = db): Promise<RewardView> {
      const row = await repo.findReward(exec, visibility(requireTenant(actor)), rewardId);
      if (!row) throw notFound('reward', rewardId);
      return (await withStock(exec, [row]))[0]!;
    },

    async listRewards(actor: Actor, query: RewardListInput, productHeader?: string, exec: Executor = db) {
      const tenant = requireTenant(actor);
      const page = toPage(query);
      const { rows, total } = await repo.listRewards(
        exec,
        visibility(tenant),
        { rewardType: query.reward_type, campaignId: query.campaign_id, productCode: query.product_code ?? productHeader, name: query.name },
        page,
      );
      return { rewards: await withStock(exec, rows), pagination: pagination(total, page) };
    },

    /** Changes name, window, config or total stock (never below what is reserved or used). */
    async updateReward(actor: Actor, rewardId: string, input: UpdateRewardInput, exec: Executor = db): Promise<RewardView> {
      const tenant = requireTenant(actor);
      return inTransaction(exec, async (trx) => {
        const current = await repo.findReward(trx, visibility(tenant), rewardId, { forUpdate: true });
        if (!current) throw notFound('reward', rewardId);
        const config = input.config ? parseRewardConfig(current.reward_type, input.config, current.config as RewardConfig) : undefined;
        if (config) await checkCouponTemplate(tenant.tenantId, current.reward_type, config, trx);
        const validFrom = input.valid_from !== undefined ? parseInstant('valid_from', input.valid_from) : current.valid_from;
        const validUntil = input.valid_until !== undefined ? parseInstant('valid_until', input.valid_until) : current.valid_until;
        checkValidity(validFrom, validUntil);
        if (input.total_stock !== undefined) {
          await resizeStock(trx, tenant.tenantId, rewardId, input.total_stock);
          deps.onStockChanged?.(tenant.tenantId, rewardId);
        }
        const row = await repo.updateReward(trx, tenant.tenantId, rewardId, {
          ...(input.reward_name !== undefined && { reward_name: input.reward_name }),
          ...(input.total_stock !== undefined && { total_stock: input.total_stock }),
          ...(input.valid_from !== undefined && { valid_from: validFrom }),
          ...(input.valid_until !== undefined && { valid_until: validUntil }),
          ...(config && { config: JSON.stringify(config) }),
          updated_at: clock.now(),
        });
        return (await withStock(trx, [row]))[0]!;
      });
    },

    /** Deletes a reward (soft: its grants keep their reference); no new grants afterwards. */
    async deleteReward(actor: Actor, rewardId: string, exec: Executor = db): Promise<void> {
      const deleted = await repo.softDeleteReward(exec, visibility(requireTenant(actor)), rewardId, clock.now());
      if (!deleted) throw notFound('reward', rewardId);
    },

    /** For the grant flow: the live reward row of a tenant, as the caller's key may see it. */
    async findForGrant(actor: TenantActor, rewardId: string, exec: Executor = db): Promise<repo.RewardRow> {
      const row = await repo.findReward(exec, visibility(actor), rewardId);
      if (!row) throw notFound('reward', rewardId);
      return row;
    },
  };
}
