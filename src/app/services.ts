import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Database } from '../db/client.js';
import { campaignMetrics, createCampaignService } from '../modules/campaigns/index.js';
import { createAppService } from '../modules/apps/index.js';
import { createApiKeyService, createTenantService } from '../modules/tenants/index.js';
import { createPartnerService } from '../modules/partners/index.js';
import type { Clock } from '../platform/clock.js';
import { createIdempotencyStore } from '../platform/idempotency.js';
import { createJobQueue } from '../platform/jobs.js';
import { createLedgerService } from '../modules/ledger/index.js';
import { createRewardService, rewardMetrics } from '../modules/rewards/index.js';
import { createInventoryService, inventoryMetrics } from '../modules/inventory/index.js';
import { createDeliveryDeadHandler, createDeliveryHandler, createGrantBatcher, createGrantService, grantMetrics } from '../modules/grants/index.js';
import { createSoldOutGate } from '../platform/sold-out-gate.js';
import { closeRedis, createRedis } from '../platform/redis.js';
import { webhookDeliveryCounter } from './metrics.js';
import { createRateLimiter, createRedemptionGuard, rateLimitMetrics } from '../platform/rate-limit/index.js';
import type pg from 'pg';
import { createCustomerService, customerMetrics } from '../modules/customers/index.js';
import { audienceMetrics, createAudienceService } from '../modules/audiences/index.js';
import {
  createBatchService,
  createCodeMirror,
  createCodeService,
  createReconciler,
  createRedemptionBatcher,
  createRedemptionGate,
  createRedemptionService,
  createCodeReader,
  createShapeCache,
  listShapesForCache,
  type RedeemGuard,
  redeemCodeMetrics,
  type RewardRulePorts,
  redemptionLimits,
} from '../modules/redeem-codes/index.js';
import { createTaskService, taskMetrics } from '../modules/tasks/index.js';
import { createOutreach, createTemplateService, outreachMetrics } from '../modules/outreach/index.js';
import { createSecretBox, loadSecretKey } from '../platform/secret-box.js';
import { couponMetrics, createCouponGrants, createCouponGuard, createCouponService } from '../modules/coupons/index.js';
import { createGroupBuyGuard, createGroupBuyNotifyHandler, createGroupBuyService, groupBuyMetrics } from '../modules/group-buys/index.js';
import { createPromotionService } from '../modules/promotions/index.js';
import { checkoutMetrics, createCheckoutService } from '../modules/checkout/index.js';
import { createHmac } from 'node:crypto';
import { createHubCampaigns, createReferralGuard, createReferralPayments, createReferralService, type ProviderName } from '../modules/referrals/index.js';
import { createMerchantService, createStoredSandbox } from '../modules/payments/index.js';
import { createPosterService } from '../modules/posters/index.js';
import { createMediaService } from '../modules/media/index.js';
import { createWechatAuthService, createWechatClient } from '../modules/wechat-auth/index.js';
import { createSyncService, syncMetrics } from '../modules/sync/index.js';
import { createClientAccessService, createClientGuard } from '../modules/client-access/index.js';
import { createAuditLog, createOperatorService, createSessionService, createSignInGuard } from '../modules/operators/index.js';

export interface ServiceDeps {
  config: Readonly<Config>;
  db: Database;
  clock: Clock;
  registry: Registry;
  masterKeyHash: string | null;
  /** PGlite serves one connection: one grant batch in flight at a time is all it can use. */
  databaseKind?: 'pglite' | 'postgres';
  warn: (err: unknown, message: string) => void;
  info?: (message: string) => void;
  /**
   * A Redis client to use instead of the configured one (tests); the caller then closes it.
   * Unset: created from `data.redis` (null without an address) and closed by `close()`.
   */
  redis?: Redis | null;
  /** The PostgreSQL pool behind `db` (null on PGlite), for bulk COPY of redeem codes. */
  pool?: pg.Pool | null;
  /** Abuse defence in front of redemptions (rate limits, lock-out), when one is configured. */
  redeemGuard?: RedeemGuard;
  /** The key that seals stored provider credentials (default: MARKETING_SECRET_KEY, else `<data dir>/secret.key`). */
  secretKey?: Buffer;
}

/**
 * Every service of the product over one database: what the HTTP app, the worker process and the
 * CLI share. Modules get each other's services here, never each other's repos.
 */
export function createServices(deps: ServiceDeps) {
  const { config, db, clock, registry } = deps;
  const idempotency = createIdempotencyStore({
    db,
    clock,
    ttlHours: config.idempotency.ttl_hours,
    lockSeconds: config.idempotency.lock_seconds,
  });
  const apps = createAppService({ db, clock, quotaCacheMs: config.grants.snapshot_cache_ms });
  const tenants = createTenantService({ db, clock });
  const apiKeys = createApiKeyService({
    db,
    clock,
    apps,
    masterKeyHash: () => deps.masterKeyHash,
    cacheSeconds: config.auth.key_cache_seconds,
    onTouchError: (err) => deps.warn(err, 'could not record API key use'),
  });
  const campaigns = createCampaignService({ db, clock, apps, createdCounter: campaignMetrics(registry).created });
  const jobs = createJobQueue({ db, clock });
  const ledger = createLedgerService({ db, clock });
  const gate = createSoldOutGate();
  const rewards = createRewardService({
    db,
    clock,
    apps,
    campaigns,
    createdCounter: rewardMetrics(registry).created,
    // Called only after a request, when `grants` below exists.
    onStockChanged: (tenantId, rewardId) => grants.clearSoldOut(tenantId, rewardId),
    // A COUPON reward's coupon_template_id must name a template of the tenant (called after `couponGrants` below exists).
    couponTemplateExists: (tenantId, templateId, exec) => couponGrants.templateExists(tenantId, templateId, exec),
  });
  // Before grants: a campaign's audience gates its rewards.
  const audiences = createAudienceService({
    db,
    clock,
    apps,
    evaluated: audienceMetrics(registry).evaluated,
    uploadChunkSize: config.audiences.upload_chunk_size,
    uploadMaxBytes: config.audiences.upload_max_bytes,
    // An audience a campaign uses cannot be deleted; the 409 lists those campaigns.
    campaignsUsing: (tenantId, audienceId, exec) => campaigns.campaignsUsingAudience(tenantId, audienceId, exec),
  });
  const grantSettings = config.grants;
  const metricsOfGrants = grantMetrics(registry);
  const grants = createGrantService({
    db,
    clock,
    rewards,
    campaigns,
    ledger,
    jobs,
    gate,
    metrics: metricsOfGrants,
    audiences,
    // COUPON rewards with a coupon template put coupons in the wallet (the coupons module, created below).
    coupons: {
      issue: (trx, grant) => couponGrants.issue(trx, grant),
      check: (exec, grant) => couponGrants.check(exec, grant),
      voidOfGrant: (exec, tenantId, grantId) => couponGrants.voidOfGrant(exec, tenantId, grantId),
    },
    snapshotTtlMs: grantSettings.snapshot_cache_ms,
    batcher: grantSettings.batch_max_size > 1 ? createGrantBatcher(db, {
            maxSize: grantSettings.batch_max_size,
            concurrency: deps.databaseKind === 'pglite' ? 1 : grantSettings.batch_concurrency,
            onBatch: (size) => metricsOfGrants.batchSize.observe(size),
            onBatchFailed: () => metricsOfGrants.batchFailed.inc(),
          }) : null,
  });
  const inventory = createInventoryService({
    db,
    clock,
    rewards,
    metrics: inventoryMetrics(registry),
    onStockReturned: (tenantId, rewardId) => grants.clearSoldOut(tenantId, rewardId),
  });
  const countWebhook = webhookDeliveryCounter(registry);
  const delivery = createDeliveryHandler({ db, clock, allowPrivateNetworks: config.webhooks.allow_private_networks, countAttempt: countWebhook('reward_grant') });
  const deliveryDead = createDeliveryDeadHandler({ db, clock });

  const log = { warn: deps.warn, info: (message: string) => deps.info?.(message) };
  const ownsRedis = deps.redis === undefined;
  const redis = ownsRedis ? createRedis(config.data.redis, log) : (deps.redis ?? null);
  const limiterMetrics = rateLimitMetrics(registry);
  const limiter = createRateLimiter({
    redis,
    metrics: limiterMetrics,
    lockout: { failures: config.rate_limits.lockout.failures, windowMs: config.rate_limits.lockout.window_seconds * 1000 },
    now: () => clock.now().getTime(),
    keyPrefix: config.data.redis.key_prefix,
    memoryMaxKeys: config.rate_limits.memory_max_keys,
    log,
  });
  // What the redeem-codes module calls around each redemption (attempt limits and lock-out).
  const redeemGuard = createRedemptionGuard({
    limiter,
    limits: config.rate_limits.redeem,
    productQuotas: (tenantId, productCode) => apps.getRateLimits(tenantId, productCode),
  });
  /** Releases what the services hold besides the database (the Redis connection they opened). */
  const close = async () => {
    if (ownsRedis) await closeRedis(redis);
  };
  const codeMetrics = redeemCodeMetrics(registry);
  const codeShapes = createShapeCache({ load: listShapesForCache(db), reloadMs: config.redeem_codes.shape_reload_ms });
  // The Redis mirror of code states (fast refusals); without Redis it is off and every redemption asks the database.
  const codeMirror = createCodeMirror({
    redis,
    db,
    metrics: codeMetrics,
    log,
    settings: { keyPrefix: config.data.redis.key_prefix, rosterReloadMs: config.redeem_codes.shape_reload_ms, pendingTtlMs: 600_000, loadPageSize: config.redeem_codes.export_page_size },
  });
  // What batches with reward rules need: the user's tags (customers) and coupon templates (coupons),
  // both created below; called only after a request.
  const rulePorts: RewardRulePorts = {
    userTags: async (tenantId, userId, exec) => (await customers.findCustomer(tenantId, userId, exec))?.tags ?? [],
    couponTemplateExists: (tenantId, templateId, exec) => couponGrants.templateExists(tenantId, templateId, exec),
    claimCoupon: (tenantId, templateId, userId, exec) => coupons.issueForTenant(tenantId, templateId, userId, exec),
  };
  const codeReconciler = createReconciler({ db, mirror: codeMirror, redis, metrics: codeMetrics, pageSize: config.redeem_codes.export_page_size });
  const redeemBatches = createBatchService({
    db,
    clock,
    apps,
    campaigns,
    rewards,
    jobs,
    pool: deps.pool ?? null,
    shapes: codeShapes,
    generated: codeMetrics.generated,
    codesGenerated: codeMetrics.codesGenerated,
    rulePorts,
    mirror: codeMirror,
    // A tenant's code-generation quota, charged in the batch's transaction (tenants/code-quota.ts).
    chargeCodes: tenants.chargeCodes,
    settings: {
      syncLimit: config.redeem_codes.sync_limit,
      chunkSize: config.redeem_codes.chunk_size,
      maxGuessProbability: config.redeem_codes.max_guess_probability,
    },
  });
  // The channel partner flow: a campaign and its codes in one transaction (partners module).
  const partners = createPartnerService({ db, tenants, campaigns, batches: redeemBatches });
  const redeemCodes = createCodeService({ db, clock, exportPageSize: config.redeem_codes.export_page_size });
  const redemptions = createRedemptionService({
    db,
    clock,
    campaigns,
    grants,
    shapes: codeShapes,
    metrics: codeMetrics,
    guard: deps.redeemGuard ?? redemptionLimits(redeemGuard),
    rulePorts,
    mirror: codeMirror,
    // One Redis call for the admission, the probe and an unknown code's failure count (not with
    // a guard injected in place of the limits: the gate runs the limits' own script).
    gate: redis && !deps.redeemGuard ? createRedemptionGate({ redis, guard: redeemGuard, mirror: codeMirror }) : undefined,
    // Redemptions group-commit like grants (same switch and in-flight limit), in their own batches.
    batcher: grantSettings.batch_max_size > 1 ? createRedemptionBatcher(db, {
      maxSize: grantSettings.batch_max_size,
      concurrency: deps.databaseKind === 'pglite' ? 1 : grantSettings.batch_concurrency,
      onBatch: (size) => codeMetrics.batchSize.observe(size),
      onBatchFailed: () => codeMetrics.batchFailed.inc(),
    }) : undefined,
    // Grouped like the grants they lead to (same switch and in-flight limit).
    reader: grantSettings.batch_max_size > 1 ? createCodeReader(db, { maxSize: 64, concurrency: deps.databaseKind === 'pglite' ? 1 : grantSettings.batch_concurrency }) : undefined,
  });
  const customers = createCustomerService({
    db,
    clock,
    importChunkSize: config.customers.import_chunk_size,
    importMaxBytes: config.customers.import_max_bytes,
    imported: customerMetrics(registry).imported,
    // Erasing a customer also takes them out of every audience list, in the same transaction.
    onErase: (exec, tenantId, userId) => audiences.forgetUser(exec, tenantId, userId),
  });
  const tasks = createTaskService({
    db,
    clock,
    apps,
    campaigns,
    rewards,
    grants,
    audiences,
    warn: deps.warn,
    metrics: taskMetrics(registry),
    // Single events group-commit like grants (same switch and in-flight limit).
    grouping: { maxSize: grantSettings.batch_max_size, concurrency: deps.databaseKind === 'pglite' ? 1 : grantSettings.batch_concurrency },
  });
  const templates = createTemplateService({ db, clock, customers });
  const secretKey = deps.secretKey ?? loadSecretKey(process.env, config.data.dir);
  const outreach = createOutreach({
    db,
    clock,
    box: createSecretBox(secretKey),
    trackingKey: createHmac('sha256', secretKey).update('outreach-tracking').digest(),
    jobs,
    limiter,
    metrics: outreachMetrics(registry),
    settings: config.outreach,
    allowPrivateNetworks: config.webhooks.allow_private_networks,
    audienceExists: (actor, audienceId, exec) => audiences.getAudience(actor, audienceId, exec),
    audienceMembers: (tenantId, audienceId, exec) => audiences.membersSql(tenantId, audienceId, exec),
    rewardExists: (actor, rewardId, exec) => rewards.getReward(actor, rewardId, exec),
    grantReward: async (tenantId, input) => {
      const actor = { kind: 'tenant' as const, tenantId, keyId: 'outreach', role: 'service' as const, productCodes: null };
      await grants.grantReward(actor, { reward_id: input.reward_id, user_id: input.user_id, source: 'outreach', source_id: input.source_id });
    },
    warn: deps.warn,
  });
  const groupBuys = createGroupBuyService({
    db,
    clock,
    jobs,
    metrics: groupBuyMetrics(registry),
    maxGroupSize: config.group_buys.max_group_size,
    guard: createGroupBuyGuard(limiter, config.rate_limits.group_buy_join),
  });
  const groupBuyNotify = createGroupBuyNotifyHandler({ groupBuys, allowPrivateNetworks: config.webhooks.allow_private_networks, countAttempt: countWebhook('group_buy') });
  // Promotions: audience_id asks the audiences module too; promotions.cache_ttl_ms keeps hot ones in this process.
  const promotions = createPromotionService({ db, clock, cacheTtlMs: config.promotions.cache_ttl_ms, membership: (tenantId, audienceId, userId, exec) => audiences.findMembership(tenantId, audienceId, userId, exec) });
  // Coupons: claim_policy audience asks the audiences module whether the user is a member.
  const coupons = createCouponService({
    db,
    clock,
    checkIntervalMs: config.coupons.check_interval_seconds * 1000,
    quoteCacheTtlMs: config.coupons.quote_cache_ttl_ms,
    metrics: couponMetrics(registry),
    membership: (tenantId, audienceId, userId, exec) => audiences.findMembership(tenantId, audienceId, userId, exec),
    guard: createCouponGuard(limiter, { claim: config.rate_limits.coupon_claim, use: config.rate_limits.coupon_use }),
  });
  // What grants of COUPON rewards with a coupon template issue and void (coupon.grant.ts).
  const couponGrants = createCouponGrants({ coupons, clock });
  // The quote and checkout combine promotions and coupons through their services (ports.ts).
  const checkout = createCheckoutService({
    db,
    clock,
    metrics: checkoutMetrics(registry),
    membershipTtlMs: config.promotions.cache_ttl_ms,
    ports: {
      livePromotions: (tenantId) => promotions.live(tenantId),
      quoteCoupons: (tenantId, userId, input) => coupons.forQuote(tenantId, userId, input),
      inAudience: async (tenantId, audienceId, userId) => (await audiences.findMembership(tenantId, audienceId, userId, db))?.member ?? false,
      reservePromotions: (tenantId, input, trx) => promotions.reserveLines(tenantId, input, trx),
      lockCoupons: (tenantId, input, trx) => coupons.lockForOrder(tenantId, input, trx),
      settlePromotions: (tenantId, orderId, action, trx) => promotions.settleOrder(tenantId, orderId, action, trx),
      settleCoupons: (tenantId, orderId, action, trx) => coupons.settleOrder(tenantId, orderId, action, trx),
    },
  });
  // Sync to the customers' databases: targets' passwords sealed like provider credentials; connection pools closed on shutdown.
  const sync = createSyncService({
    db,
    clock,
    jobs,
    box: createSecretBox(secretKey),
    metrics: syncMetrics(registry),
    settings: config.sync,
    allowPrivateNetworks: config.webhooks.allow_private_networks,
  });
  // Uploaded images (campaign main images), stored in the database, served at /media/{id}.{ext}.
  const media = createMediaService({ db, clock });
  // Referral posters: the campaign through the campaigns module; the QR's landing URL on outreach.public_url.
  // Keyless: a campaign the referral hub publishes (its settings' image); /media/ images read from the media module.
  const posters = createPosterService({
    getCampaign: (actor, campaignId) => campaigns.getCampaign(actor, campaignId),
    publishedCampaign: async (campaignId) => {
      const { settings, campaign } = await referrals.openPage(campaignId);
      return { tenant_id: settings.tenant_id, campaign_id: campaign.campaign_id, campaign_name: campaign.campaign_name, image_url: settings.image_url };
    },
    readLocal: (path) => media.read(path),
    publicBaseUrl: config.outreach.public_url,
    image: { maxBytes: config.posters.image_max_bytes, timeoutMs: config.posters.image_timeout_ms, allowPrivateNetworks: config.webhooks.allow_private_networks },
    cacheTtlMs: config.posters.cache_ttl_ms,
    cacheMaxBytes: config.posters.cache_max_bytes,
  });
  // WeChat sign-in: app secrets sealed like outreach credentials; WeChat's API at wechat.api_base_url.
  const wechat = createWechatAuthService({
    db,
    clock,
    box: createSecretBox(secretKey),
    client: createWechatClient({ baseUrl: config.wechat.api_base_url, timeoutMs: config.wechat.timeout_ms, clock }),
    // Keyless sign-in from a published campaign's page: its tenant and the AppID of its referral settings.
    pageApp: async (campaignId) => {
      const { settings } = await referrals.openPage(campaignId);
      return { tenantId: settings.tenant_id, appId: settings.wechat_app_id };
    },
  });
  // Referral hub: settings, keyless page routes, payments settled with the referrer's reward in one
  // transaction. The sandbox provider's keys are generated once and stored sealed (every process
  // and restart verifies its callbacks); WeChat Pay uses each tenant's stored merchant credentials.
  const referrals = createReferralService({ db, clock, campaigns, ledger, publicUrl: config.outreach.public_url, pageCacheMs: config.referrals.page_cache_ms });
  const publicUrl = config.outreach.public_url.replace(/\/+$/, '');
  const merchants = createMerchantService({ db, clock, box: createSecretBox(secretKey), allowPrivateNetworks: config.webhooks.allow_private_networks });
  const referralSandbox = createStoredSandbox({
    db,
    clock,
    box: createSecretBox(secretKey),
    deliver: async (headers, body) => {
      await referralPayments.handleCallback(headers, body, 'sandbox');
    },
    pay_url: (outTradeNo) => `${publicUrl}/api/v1/orders/${encodeURIComponent(outTradeNo)}/sandbox-pay`,
    // A sandbox refund is confirmed by a signed REFUND.SUCCESS notice, delivered like a payment's.
    notify_refunds: true,
  });
  const referralPayments = createReferralPayments({
    db,
    clock,
    ledger,
    referrals,
    notifyUrl: `${publicUrl}/api/v1/orders/payment/notify`,
    unpaidTimeoutMs: config.referrals.unpaid_timeout_seconds * 1000,
    ports: {
      provider: async (tenantId: string, name: ProviderName) => (name === 'sandbox' ? referralSandbox : merchants.provider(tenantId)),
      // The sandbox, and the WeChat Pay credentials of the tenants that registered the callback's platform serial.
      callbackProviders: async (headers, hint) => [
        ...(hint === undefined || hint === 'sandbox' ? [{ name: 'sandbox' as const, tenantId: null, provider: referralSandbox }] : []),
        ...(hint === undefined || hint === 'wechat_pay' ? (await merchants.bySerial(headers['wechatpay-serial'])).map((m) => ({ name: 'wechat_pay' as const, ...m })) : []),
      ],
      // The paid order and its rewards are copied to the customer's database (enqueued in the payment transaction).
      syncEnqueue: (trx, job) => sync.enqueue(trx, job),
      sandboxPay: async (orderId, amount) => {
        await referralSandbox.pay(orderId, { amount });
      },
    },
  });
  const referralGuard = createReferralGuard(limiter, config.rate_limits.referral_page);
  // Client-side access: publishable keys and end-user token keys per app (HS256 secrets sealed), client rate limits.
  const clientAccess = createClientAccessService({
    db,
    clock,
    apps,
    box: createSecretBox(secretKey),
    cacheSeconds: config.auth.key_cache_seconds,
    tokenRules: { skewSeconds: config.auth.user_token_clock_skew_seconds, maxLifetimeSeconds: config.auth.user_token_max_lifetime_seconds },
  });
  const clientGuard = createClientGuard(limiter, config.rate_limits.client);
  // The document's campaign paths: a campaign and its referral settings as one resource.
  const referralHub = createHubCampaigns({ db, clock, campaigns, referrals, publicUrl: config.outreach.public_url });
  // Console operators: sign-in failures counted per (tenant, e-mail) and per IP by limiters of their own thresholds.
  const operatorSettings = config.operators;
  const signInLimiter = (failures: number) =>
    createRateLimiter({
      redis,
      metrics: limiterMetrics,
      lockout: { failures, windowMs: operatorSettings.lockout_window_seconds * 1000 },
      now: () => clock.now().getTime(),
      keyPrefix: config.data.redis.key_prefix,
      memoryMaxKeys: config.rate_limits.memory_max_keys,
      log,
    });
  const audit = createAuditLog({ db, clock, warn: deps.warn });
  const operatorSessions = createSessionService({
    db,
    clock,
    guard: createSignInGuard({ email: signInLimiter(operatorSettings.lockout_failures), ip: signInLimiter(operatorSettings.ip_lockout_failures) }),
    idleMs: operatorSettings.session_idle_minutes * 60_000,
    absoluteMs: operatorSettings.session_absolute_hours * 3_600_000,
    cacheSeconds: config.auth.key_cache_seconds,
    warn: deps.warn,
    events: (event) => audit.recordSessionEvent(event),
  });
  const operators = createOperatorService({ db, clock, tenantExists: (tenantId, exec) => tenants.requireTenantExists(tenantId, exec), forgetSessions: (id) => operatorSessions.forgetOperator(id) });
  const closeServices = async () => {
    await audit.close();
    await outreach.close();
    await sync.close();
    await close();
  };
  return { db, clock, registry, customers, audiences, templates, outreach, idempotency, apps, tenants, apiKeys, campaigns, jobs, ledger, rewards, grants, inventory, delivery, deliveryDead, redis, limiter, redeemGuard, redeemBatches, partners, redeemCodes, redemptions, codeMirror, codeReconciler, tasks, groupBuys, groupBuyNotify, coupons, promotions, checkout, sync, posters, wechat, referrals, referralPayments, referralSandbox, referralGuard, referralHub, merchants, media, clientAccess, clientGuard, operators, operatorSessions, audit, close: closeServices };
}

export type Services = ReturnType<typeof createServices>;
