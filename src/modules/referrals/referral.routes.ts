/**
 * The referral hub's routes: the settings and funnel of a campaign (tenant key), and the keyless
 * routes of its landing page at the product document's paths (`/api/v1/...`), each scoped to one
 * published, enabled campaign and limited per end-user IP (rate_limits.referral_page).
 */
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { resolveClientIp } from '../../platform/client-ip.js';
import { authErrors, errors, PageQuery } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import type { HubCampaigns } from './referral.hub-campaigns.js';
import { referralHubCampaignRoutes } from './referral.hub-campaigns.routes.js';
import type { ReferralGuard } from './referral.limits.js';
import { referralOrderRoutes } from './referral.orders.routes.js';
import type { ReferralPayments } from './referral.payment.js';
import {
  CampaignParams,
  Funnel,
  IdParams,
  OrderBody,
  PayBody,
  PayStart,
  PublicForm,
  PublicOrder,
  ReferralSettings,
  ReferralSettingsBody,
  RewardBalance,
  RewardList,
  ScopeQuery,
  UserParams,
  ViewBody,
} from './referral.schemas.js';
import type { ReferralService } from './referral.service.js';
import { referralWithdrawalRoutes } from './referral.withdrawals.routes.js';

const tags = ['referrals'];
const pageTags = ['referrals: landing page (keyless)'];
// Not recorded under Idempotency-Key: every anonymous caller would share one record (a sign-up is
// already one per phone, a payment one per order, a callback one per trade_no).
const keyless = { auth: 'public' as const, idempotent: false };
const RecordsQuery = Type.Object({ ...ScopeQuery.properties, ...PageQuery });

export interface ReferralRouteDeps {
  referrals: ReferralService;
  payments: ReferralPayments;
  guard: ReferralGuard;
  /** The product document's campaign paths (referral.hub-campaigns.routes.ts). */
  hub: HubCampaigns;
  uow: UnitOfWork;
}

export function referralRoutes(app: Api, deps: ReferralRouteDeps): void {
  const { referrals, payments, guard, uow } = deps;
  const admit = (request: FastifyRequest) => guard.admit(resolveClientIp(request).ip);

  app.put(
    '/v1/campaigns/:campaign_id/referral',
    { config: { role: 'admin' }, schema: { tags, summary: 'Set the referral settings of a campaign (image, reward rule, payment, status)', params: CampaignParams, body: ReferralSettingsBody, response: { 200: ReferralSettings, ...errors(...authErrors, 404) } } },
    async (request, reply) => uow(request, reply, 200, (trx) => referrals.putSettings(request.actor!, request.params.campaign_id, request.body, trx)),
  );
  app.get(
    '/v1/campaigns/:campaign_id/referral',
    { schema: { tags, summary: 'The referral settings of a campaign', params: CampaignParams, response: { 200: ReferralSettings, ...errors(...authErrors, 404) } } },
    async (request) => referrals.getSettings(request.actor!, request.params.campaign_id),
  );
  app.get(
    '/v1/campaigns/:campaign_id/funnel',
    { schema: { tags, summary: 'Views -> orders -> paid of a referral campaign, by channel (c_id)', params: CampaignParams, response: { 200: Funnel, ...errors(...authErrors, 404) } } },
    async (request) => referrals.funnel(request.actor!, request.params.campaign_id),
  );
  app.get(
    '/v1/referrals/rewards/balance/:userId',
    { schema: { tags, summary: "A user's balance (BALANCE, fen) and referral rewards in total", params: UserParams, response: { 200: RewardBalance, ...errors(...authErrors) } } },
    async (request) => referrals.rewardBalance((await referrals.scopeOf(request.actor!, undefined)).tenantId, request.params.userId),
  );
  app.get(
    '/v1/referrals/rewards/:userId',
    { schema: { tags, summary: "A user's referral reward records, newest first", params: UserParams, querystring: RecordsQuery, response: { 200: RewardList, ...errors(...authErrors) } } },
    async (request) => {
      const scope = await referrals.scopeOf(request.actor!, request.query.campaign_id);
      return referrals.rewardRecords(scope.tenantId, request.params.userId, scope.campaignId, request.query);
    },
  );

  // The landing page's keyless routes (the product document's paths).
  app.get(
    '/api/v1/campaigns/:id/form',
    { config: keyless, schema: { tags: pageTags, summary: "The campaign's form (获取活动表单配置): schema, title, image, amount", security: [], params: IdParams, response: { 200: PublicForm, ...errors(400, 404, 429) } } },
    async (request) => {
      await admit(request);
      return referrals.publicForm(request.params.id);
    },
  );
  app.post(
    '/api/v1/campaigns/:id/views',
    { config: keyless, schema: { tags: pageTags, summary: 'Count a page view (c_id, u_id) for the funnel', security: [], params: IdParams, body: ViewBody, response: { 204: Type.Null(), ...errors(400, 404, 429) } } },
    async (request, reply) => {
      await admit(request);
      await referrals.countView(request.params.id, request.body ?? {});
      return reply.status(204).send(null);
    },
  );
  app.post(
    '/api/v1/orders',
    { config: keyless, schema: { tags: pageTags, summary: 'Sign up (创建订单): one order per (campaign, phone); 409 already_registered', security: [], body: OrderBody, response: { 201: PublicOrder, ...errors(400, 404, 409, 429) } } },
    async (request, reply) => {
      await admit(request);
      const order = await referrals.createOrder(request.body);
      return reply.status(201).send(order);
    },
  );
  app.get(
    '/api/v1/orders/:id',
    { config: keyless, schema: { tags: pageTags, summary: 'The status of one order (查询订单)', security: [], params: IdParams, response: { 200: PublicOrder, ...errors(400, 404, 429) } } },
    async (request) => {
      await admit(request);
      return referrals.getOrder(request.params.id);
    },
  );
  app.post(
    '/api/v1/orders/:id/pay',
    { config: keyless, schema: { tags: pageTags, summary: 'Start the payment of a pending order through the campaign provider', security: [], params: IdParams, body: PayBody, response: { 200: PayStart, ...errors(400, 404, 409, 429, 503) } } },
    async (request) => {
      await admit(request);
      return payments.startPayment(request.params.id, request.body ?? {}, resolveClientIp(request).ip);
    },
  );
  app.post(
    '/api/v1/orders/:id/sandbox-pay',
    { config: keyless, schema: { tags: pageTags, summary: 'Sandbox campaigns only: pay the order through the sandbox provider (a signed callback)', security: [], params: IdParams, response: { 200: PublicOrder, ...errors(400, 404, 409, 429) } } },
    async (request) => {
      await admit(request);
      return payments.sandboxPay(request.params.id);
    },
  );
  // The document's reward paths: a user's balance and records are personal, so they take a tenant
  // key like /v1/referrals/rewards (the landing page does not call them; end-user access comes with
  // the client tokens). ?campaign_id= narrows the records to one campaign.
  app.get(
    '/api/v1/rewards/balance/:userId',
    { config: { auth: 'tenant' }, schema: { tags, summary: "A user's balance (查询余额, BALANCE in fen) and referral rewards in total", params: UserParams, response: { 200: RewardBalance, ...errors(...authErrors) } } },
    async (request) => referrals.rewardBalance((await referrals.scopeOf(request.actor!, undefined)).tenantId, request.params.userId),
  );
  app.get(
    '/api/v1/rewards/:userId',
    { config: { auth: 'tenant' }, schema: { tags, summary: "A user's referral reward records (查询奖励记录), newest first", params: UserParams, querystring: RecordsQuery, response: { 200: RewardList, ...errors(...authErrors) } } },
    async (request) => {
      const scope = await referrals.scopeOf(request.actor!, request.query.campaign_id);
      return referrals.rewardRecords(scope.tenantId, request.params.userId, scope.campaignId, request.query);
    },
  );
  // The tenant's orders (referral.orders.routes.ts).
  referralOrderRoutes(app, { orders: referrals.orders });
  // Withdrawals and refunds (referral.withdrawals.routes.ts).
  referralWithdrawalRoutes(app, { withdrawals: payments.withdrawals, payments, uow });
  // The document's campaign paths (/api/v1/campaigns, tenant key).
  referralHubCampaignRoutes(app, { hub: deps.hub, uow });
}
