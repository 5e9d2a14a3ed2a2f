import { Ajv, type ValidateFunction } from 'ajv';
import { afterCommit, type Database, type Executor } from '../../db/client.js';
import { type Actor, requireTenant, type TenantActor } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { invalidRequest } from '../../platform/errors.js';
import { newId } from '../../platform/ids.js';
import { pagination, toPage } from '../../platform/paging.js';
import { type CampaignService, campaignStatus } from '../campaigns/index.js';
import type { LedgerService } from '../ledger/index.js';
import { referralErrors } from './referral.errors.js';
import { createReferralOrders } from './referral.orders.js';
import { createPageCache, type PageRows } from './referral.page-cache.js';
import * as repo from './referral.repo.js';
import type {
  FunnelView,
  OrderInput,
  PublicFormView,
  PublicOrderView,
  ReferralSettingsInput,
  ReferralSettingsView,
  RewardBalanceView,
  RewardRecordView,
} from './referral.schemas.js';

export interface ReferralServiceDeps {
  db: Database;
  clock: Clock;
  campaigns: CampaignService;
  ledger: LedgerService;
  /** The base of the landing page URL (`{public_url}/p/{campaign_id}`). */
  publicUrl: string;
  /** How long this process keeps a page's settings and campaign rows (referrals.page_cache_ms; 0: read them on every request). */
  pageCacheMs?: number;
}

/** A mainland China mobile number: 11 digits starting 13-19, an optional +86 / 86 in front. */
const PHONE = /^(?:\+?86)?(1[3-9]\d{9})$/;

export function normalizePhone(raw: string): string | null {
  const match = PHONE.exec(raw.replace(/[\s-]/g, ''));
  return match ? match[1]! : null;
}

/** Percent (two decimals) to basis points and back. */
const toBp = (percent: number) => Math.round(percent * 100);
const fromBp = (bp: number) => bp / 100;

export function toSettingsView(row: repo.SettingsRow, publicUrl: string): ReferralSettingsView {
  return {
    campaign_id: row.campaign_id,
    image_url: row.image_url,
    reward_rule:
      row.reward_kind === 'fixed'
        ? { type: 'fixed', amount: Number(row.reward_value) }
        : { type: 'percent', percent: fromBp(Number(row.reward_value)), cap: row.reward_cap === null ? null : Number(row.reward_cap) },
    payment: { amount: Number(row.amount), currency: row.currency, provider: row.provider },
    status: row.status,
    second_level: row.second_level_rate === null ? null : { percent: fromBp(row.second_level_rate) },
    wechat_app_id: row.wechat_app_id,
    page_url: `${publicUrl.replace(/\/+$/, '')}/p/${encodeURIComponent(row.campaign_id)}`,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    version: row.version,
  };
}

/** The sign-up code shown on the page once the order is paid. */
export const successCode = (order: repo.OrderRow) => (order.status === 'paid' ? order.order_id.slice(-8).toUpperCase() : null);

export function toPublicOrder(row: repo.OrderRow): PublicOrderView {
  return {
    order_id: row.order_id,
    campaign_id: row.campaign_id,
    status: row.status,
    pay_status: row.pay_status,
    amount: Number(row.amount),
    currency: row.currency,
    success_code: successCode(row),
    created_at: row.created_at.toISOString(),
    paid_at: row.paid_at?.toISOString() ?? null,
  };
}

export function toRewardView(row: repo.RewardRow): RewardRecordView {
  return {
    reward_id: row.reward_id,
    order_id: row.order_id,
    campaign_id: row.campaign_id,
    user_id: row.user_id,
    level: row.level,
    amount: Number(row.amount),
    status: row.status,
    settled_at: row.settled_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
  };
}

/**
 * The referral reward of one level (integer fen, rounded down): `fixed` fen per paid order, or
 * `bp` basis points of the amount, at most `cap`.
 */
export function computeReward(kind: 'fixed' | 'percent', value: number, cap: number | null, orderAmount: number): number {
  if (kind === 'fixed') return value;
  const amount = Math.floor((orderAmount * value) / 10_000);
  return cap === null ? amount : Math.min(amount, cap);
}

const serviceActor = (tenantId: string): TenantActor => ({ kind: 'tenant', tenantId, keyId: 'referrals', role: 'readonly', productCodes: null });

export type ReferralService = ReturnType<typeof createReferralService>;

export function createReferralService(deps: ReferralServiceDeps) {
  const { db, clock, campaigns, ledger } = deps;
  const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
  const validators = new Map<string, ValidateFunction>();

  function formValidator(campaignId: string, updatedAt: Date, schema: Record<string, unknown>): ValidateFunction {
    const key = `${campaignId}:${updatedAt.getTime()}`;
    let validate = validators.get(key);
    if (!validate) {
      validate = ajv.compile(schema);
      if (validators.size > 1000) validators.clear();
      validators.set(key, validate);
    }
    return validate;
  }

  async function readPage(campaignId: string, exec: Executor): Promise<PageRows | null> {
    const settings = await repo.findSettingsByCampaign(exec, campaignId);
    if (!settings) return null;
    const campaign = await campaigns.findForGrant(settings.tenant_id, campaignId, exec);
    return campaign ? { settings, campaign } : null;
  }
  const pages = createPageCache({ ttlMs: deps.pageCacheMs ?? 0, now: () => clock.now().getTime(), load: (campaignId) => readPage(campaignId, db) });

  /**
   * The campaign behind a keyless route: it has referral settings, is enabled, and its campaign
   * is ACTIVE (published, inside its window). Anything else is the same 404 as an unknown id.
   * The rows come from the page cache (referral.page-cache.ts) unless a transaction is given; the
   * decision is made here on every call, against the clock.
   */
  async function openPage(campaignId: string, exec: Executor = db): Promise<PageRows> {
    const rows = exec === db ? await pages.get(campaignId) : await readPage(campaignId, exec);
    if (!rows || rows.settings.status !== 'enabled' || campaignStatus(rows.campaign, clock.now()) !== 'ACTIVE') throw referralErrors.pageNotFound(campaignId);
    return rows;
  }

  /**
   * Drops a page's cached rows in this process: now, and again once `exec` has committed (a page
   * read between the two would otherwise keep the old rows for the TTL). For any change to a
   * campaign's settings or its campaign (state, window, form) made through this process.
   */
  function forgetPage(campaignId: string, exec: Executor = db): void {
    pages.drop(campaignId);
    afterCommit(exec, () => pages.drop(campaignId));
  }

  const service = {
    openPage,
    forgetPage,
    /** The tenant's own list and detail of its orders (referral.orders.ts). */
    orders: createReferralOrders({ db }),

    /** Creates or replaces a campaign's referral settings (the campaign must be visible to the key). */
    async putSettings(actor: Actor, campaignId: string, input: ReferralSettingsInput, exec: Executor = db): Promise<ReferralSettingsView> {
      const tenant = requireTenant(actor);
      await campaigns.getCampaign(tenant, campaignId, exec);
      const rule = input.reward_rule;
      if (rule.type === 'fixed' && rule.amount > input.payment.amount) {
        throw invalidRequest('reward_rule.amount', 'must not exceed the payment amount');
      }
      const now = clock.now();
      const row = await repo.upsertSettings(exec, {
        tenant_id: tenant.tenantId,
        campaign_id: campaignId,
        image_url: input.image_url ?? null,
        reward_kind: rule.type,
        reward_value: rule.type === 'fixed' ? rule.amount : toBp(rule.percent),
        reward_cap: rule.type === 'percent' ? (rule.cap ?? null) : null,
        amount: input.payment.amount,
        currency: input.payment.currency,
        provider: input.payment.provider,
        status: input.status ?? 'enabled',
        second_level_rate: input.second_level ? toBp(input.second_level.percent) : null,
        wechat_app_id: input.wechat_app_id ?? null,
        created_at: now,
        updated_at: now,
      });
      forgetPage(campaignId, exec);
      return toSettingsView(row, deps.publicUrl);
    },

    async getSettings(actor: Actor, campaignId: string, exec: Executor = db): Promise<ReferralSettingsView> {
      const tenant = requireTenant(actor);
      await campaigns.getCampaign(tenant, campaignId, exec);
      const row = await repo.findSettings(exec, tenant.tenantId, campaignId);
      if (!row) throw referralErrors.settingsNotFound(campaignId);
      return toSettingsView(row, deps.publicUrl);
    },

    /** Keyless: what the landing page renders, and nothing else of the tenant. */
    async publicForm(campaignId: string): Promise<PublicFormView> {
      const { settings, campaign } = await openPage(campaignId);
      return {
        campaign_id: campaign.campaign_id,
        title: campaign.campaign_name,
        description: campaign.description,
        image_url: settings.image_url,
        wechat_app_id: settings.wechat_app_id,
        form_fields: (campaign.form_fields as Record<string, unknown> | null) ?? null,
        amount: Number(settings.amount),
        currency: settings.currency,
        start_time: campaign.start_time?.toISOString() ?? null,
        end_time: campaign.end_time?.toISOString() ?? null,
      };
    },

    /** Keyless: one more page view of (campaign, c_id, u_id). */
    async countView(campaignId: string, input: { c_id?: string | undefined; u_id?: string | undefined }): Promise<void> {
      const { settings } = await openPage(campaignId);
      await repo.countView(db, { tenant_id: settings.tenant_id, campaign_id: campaignId, channel: input.c_id ?? '', referrer_id: input.u_id ?? '' });
    },

    /**
     * Keyless: a sign-up. The phone and the form are checked on the server; one order per
     * (campaign, phone) is held by the unique index (a second gets 409 already_registered with the
     * first order's id, whatever races).
     */
    async createOrder(input: OrderInput): Promise<PublicOrderView> {
      const { settings, campaign } = await openPage(input.campaign_id);
      const phone = normalizePhone(input.phone);
      if (!phone) throw invalidRequest('phone', 'must be a mainland China mobile number (11 digits starting with 13-19)');
      if (input.u_id !== undefined && (input.u_id === phone || normalizePhone(input.u_id) === phone)) throw referralErrors.selfReferral();
      const schema = campaign.form_fields as Record<string, unknown> | null;
      if (schema) {
        const validate = formValidator(campaign.campaign_id, campaign.updated_at, schema);
        if (!validate(input.form_data)) {
          throw referralErrors.formInvalid((validate.errors ?? []).slice(0, 10).map((e) => ({ path: e.instancePath || '/', message: e.message ?? 'is invalid' })));
        }
      }
      // The share link carries the referrer's order id (never the phone): a paid order of this
      // campaign resolves to its phone, so rewards accrue to one identity per person; any other
      // u_id is the tenant's own user id, kept as given.
      const referrerId = input.u_id !== undefined && input.u_id.startsWith('rfo_') ? ((await repo.findPaidOrderPhone(db, campaign.campaign_id, input.u_id)) ?? input.u_id) : (input.u_id ?? null);
      if (referrerId === phone) throw referralErrors.selfReferral();
      const now = clock.now();
      const row = await repo.insertOrder(db, {
        order_id: newId('rfo', now.getTime()),
        tenant_id: settings.tenant_id,
        campaign_id: campaign.campaign_id,
        phone,
        form_data: JSON.stringify(input.form_data),
        referrer_id: referrerId,
        channel: input.c_id ?? null,
        status: 'pending',
        pay_status: 'unpaid',
        amount: Number(settings.amount),
        currency: settings.currency,
        provider: settings.provider,
        trade_no: null,
        flag_reason: null,
        paid_at: null,
        created_at: now,
        updated_at: now,
      });
      if (row) return toPublicOrder(row);
      const first = await repo.findOrderByPhone(db, campaign.campaign_id, phone);
      throw referralErrors.alreadyRegistered(first?.order_id ?? '', first?.status ?? 'pending');
    },

    /** Keyless: the status of one order (its id is the capability; nothing of other orders). */
    async getOrder(orderId: string): Promise<PublicOrderView> {
      const row = await repo.findOrder(db, orderId);
      if (!row) throw referralErrors.orderNotFound(orderId);
      return toPublicOrder(row);
    },

    /** Views -> orders -> paid of a campaign of the key's tenant, in total and by channel (c_id). */
    async funnel(actor: Actor, campaignId: string): Promise<FunnelView> {
      const tenant = requireTenant(actor);
      await campaigns.getCampaign(tenant, campaignId);
      const { views, orders } = await repo.funnel(db, tenant.tenantId, campaignId);
      const channels = new Map<string, { views: number; orders: number; paid: number }>();
      const at = (c: string) => channels.get(c) ?? channels.set(c, { views: 0, orders: 0, paid: 0 }).get(c)!;
      for (const v of views) at(v.channel).views += Number(v.n);
      for (const o of orders) {
        at(o.channel).orders += Number(o.n);
        at(o.channel).paid += Number(o.paid);
      }
      const byChannel = [...channels].map(([c, n]) => ({ c_id: c === '' ? null : c, ...n })).sort((a, b) => b.views - a.views || b.orders - a.orders);
      const sum = (k: 'views' | 'orders' | 'paid') => byChannel.reduce((s, c) => s + c[k], 0);
      return { campaign_id: campaignId, views: sum('views'), orders: sum('orders'), paid: sum('paid'), by_channel: byChannel };
    },

    /**
     * The tenant whose rewards a call may read: the key's, or (keyless) the tenant of the
     * published, enabled campaign named by `campaign_id`.
     */
    async scopeOf(actor: Actor | null, campaignId: string | undefined): Promise<{ tenantId: string; campaignId: string | undefined }> {
      if (actor) return { tenantId: requireTenant(actor).tenantId, campaignId };
      if (campaignId === undefined) throw referralErrors.campaignRequired();
      const { settings } = await openPage(campaignId);
      return { tenantId: settings.tenant_id, campaignId };
    },

    /** The user's BALANCE (the ledger's, fen) and what referral rewards brought in total. */
    async rewardBalance(tenantId: string, userId: string): Promise<RewardBalanceView> {
      const balances = await ledger.getBalances(serviceActor(tenantId), userId);
      const balance = balances.balances.find((b) => b.asset === 'BALANCE')?.balance ?? 0;
      return { user_id: userId, balance, total_reward: await repo.totalRewards(db, tenantId, userId), currency: 'CNY' };
    },

    /** The user's reward records, newest first (of one campaign when scoped by it). */
    async rewardRecords(tenantId: string, userId: string, campaignId: string | undefined, query: { page?: number | undefined; page_size?: number | undefined }) {
      const page = toPage(query);
      const { rows, total } = await repo.listRewards(db, tenantId, userId, campaignId, page);
      return { rewards: rows.map(toRewardView), pagination: pagination(total, page) };
    },
  };
  return service;
}
