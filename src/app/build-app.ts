import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Redis } from 'ioredis';
import Fastify, { type FastifyBaseLogger, type FastifyServerOptions } from 'fastify';
import type { Config } from '../config/schema.js';
import type { DatabaseHandle } from '../db/client.js';
import { campaignRoutes } from '../modules/campaigns/index.js';
import { appRoutes } from '../modules/apps/index.js';
import { tenantRoutes } from '../modules/tenants/index.js';
import { partnerRoutes } from '../modules/partners/index.js';
import { ledgerRoutes } from '../modules/ledger/index.js';
import { rewardRoutes } from '../modules/rewards/index.js';
import { inventoryRoutes } from '../modules/inventory/index.js';
import { grantRoutes } from '../modules/grants/index.js';
import { redeemCodeRoutes } from '../modules/redeem-codes/index.js';
import { customerRoutes } from '../modules/customers/index.js';
import { audienceRoutes } from '../modules/audiences/index.js';
import { taskRoutes } from '../modules/tasks/index.js';
import { outreachRoutes, templateRoutes } from '../modules/outreach/index.js';
import { couponMarketingRoutes, couponRoutes } from '../modules/coupons/index.js';
import { groupBuyDocumentRoutes, groupBuyRoutes } from '../modules/group-buys/index.js';
import { promotionRoutes } from '../modules/promotions/index.js';
import { checkoutRoutes } from '../modules/checkout/index.js';
import { referralCallbackRoutes, referralRoutes } from '../modules/referrals/index.js';
import { landingPageRoutes } from '../modules/landing-page/index.js';
import { adminConsoleRoutes } from '../modules/admin-console/index.js';
import { posterRoutes } from '../modules/posters/index.js';
import { wechatAuthRoutes } from '../modules/wechat-auth/index.js';
import { syncRoutes } from '../modules/sync/index.js';
import { paymentRoutes } from '../modules/payments/index.js';
import { mediaRoutes } from '../modules/media/index.js';
import { clientAccessRoutes } from '../modules/client-access/index.js';
import { installAudit, operatorRoutes, sessionRoutes } from '../modules/operators/index.js';
import { type Clock, systemClock } from '../platform/clock.js';
import { installAuth } from './auth.js';
import { ErrorBody } from '../platform/http/common.schemas.js';
import { answerClientError, answerFrameworkError, installErrorHandling, MAX_PARAM_LENGTH } from './error-handler.js';
import { healthRoutes } from './health.routes.js';
import { installIdempotency } from './idempotency-hooks.js';
import { createMetricsRegistry, installHttpMetrics } from './metrics.js';
import { installOperationalMetrics } from './ops-metrics.js';
import { createServices } from './services.js';
import type { Api } from '../platform/http/types.js';
import { createUnitOfWork } from '../platform/http/unit-of-work.js';
import { installInputGuard, unsafeBody, validatorCompiler } from './validation.js';

export interface BuildAppOptions {
  config: Readonly<Config>;
  database: DatabaseHandle;
  masterKeyHash: string | null;
  clock?: Clock;
  /** A Redis client instead of the configured one (tests); the caller closes it. */
  redis?: Redis | null;
  /** A ready pino logger (serve), or pino options; tests pass `false`. */
  logger?: FastifyBaseLogger | FastifyServerOptions['logger'];
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function loggerOptions(config: Readonly<Config>): FastifyServerOptions['logger'] {
  return {
    level: config.log.level,
    // Keys and secrets never reach the logs, even at debug level.
    redact: ['req.headers.authorization', 'req.headers["idempotency-key"]', '*.key', '*.master_key', '*.secret'],
    ...(config.log.pretty ? { transport: { target: 'pino-pretty' } } : {}),
  };
}

/** Builds the HTTP application: every route, hook and service over one database. */
export async function buildApp(options: BuildAppOptions): Promise<Api> {
  const { config, database } = options;
  const clock = options.clock ?? systemClock;
  const db = database.db;
  const logger = options.logger === undefined ? loggerOptions(config) : options.logger;
  const isLoggerInstance = typeof logger === 'object' && logger !== null && 'child' in logger;

  const app = Fastify({
    ...(isLoggerInstance ? { loggerInstance: logger as FastifyBaseLogger } : { logger: logger as FastifyServerOptions['logger'] }),
    bodyLimit: config.server.http.body_limit_bytes,
    trustProxy: config.server.http.trust_proxy,
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    ajv: { customOptions: { strict: false } },
    // Path ids are validated by each route's schema; the router's own 100-character default would
    // refuse long (or percent-encoded non-ASCII) user ids. Past MAX_PARAM_LENGTH the router refuses.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    // What the router and Node's HTTP parser refuse is answered in the one error shape too.
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
    // A request arriving while the server closes is refused by installErrorHandling's hook instead.
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.addSchema(ErrorBody);

  // An empty body with Content-Type: application/json is "no body", as many HTTP clients send on
  // action calls such as POST /publish; anything else goes through Fastify's safe JSON parser.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  // The API speaks JSON only: a text/plain body is a 415, not a string handed to a route.
  app.removeContentTypeParser('text/plain');
  // A parsed body is walked once for what no route may take (NUL, lone surrogates, non-finite or
  // inexact numbers, nesting past MAX_JSON_DEPTH; see platform/input-guard.ts): every route gets
  // the same 400 naming the field before any of its code runs.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (typeof body === 'string' && body.trim() === '') return done(null, undefined);
    void jsonParser(request, body as string, (err, value) => {
      if (err) return done(err);
      const refusal = unsafeBody(value);
      return refusal ? done(refusal) : done(null, value);
    });
  });

  // Hooks on every request are callback style where they need no await: no promise per call.
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'marketing-hub',
        version: '0.1.0',
        description:
          'Marketing middle platform API. Every /v1 call takes `Authorization: Bearer <key>`; every POST takes an optional `Idempotency-Key`.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearerAuth: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const registry = createMetricsRegistry();
  const services = createServices({
    config,
    db,
    clock,
    registry,
    masterKeyHash: options.masterKeyHash,
    databaseKind: database.kind,
    pool: database.pool ?? null,
    warn: (err, message) => app.log.warn({ err }, message),
    info: (message) => app.log.info(message),
    ...(options.redis !== undefined ? { redis: options.redis } : {}),
  });
  // Closing the app (SIGTERM, tests) also closes the Redis connection the services opened.
  app.addHook('onClose', async () => services.close());
  // The server starts in-process job workers on these same services (see server.ts).
  app.decorate('services', services);
  const { idempotency, apps, tenants, apiKeys, campaigns, ledger, rewards, grants, inventory } = services;
  const uow = createUnitOfWork({ db, idempotency });

  installErrorHandling(app);
  installInputGuard(app);
  installHttpMetrics(app, registry);
  installOperationalMetrics(registry, { db, pool: database.pool ?? null, redis: services.redis });
  installAuth(app, apiKeys, { clientAccess: services.clientAccess, guard: services.clientGuard }, services.operatorSessions);
  installAudit(app, services.audit);
  installIdempotency(app, idempotency);

  healthRoutes(app, { db, redis: services.redis });
  tenantRoutes(app, { tenants, apiKeys, uow });
  partnerRoutes(app, { partners: services.partners, uow, mirror: services.codeMirror });
  appRoutes(app, { apps, uow });
  clientAccessRoutes(app, { clientAccess: services.clientAccess, uow });
  campaignRoutes(app, { campaigns, uow });
  ledgerRoutes(app, { ledger, uow });
  rewardRoutes(app, { rewards, uow });
  inventoryRoutes(app, { inventory, uow });
  grantRoutes(app, { grants, uow });
  redeemCodeRoutes(app, { batches: services.redeemBatches, codes: services.redeemCodes, redemptions: services.redemptions, uow, mirror: services.codeMirror });
  customerRoutes(app, { customers: services.customers, uow });
  audienceRoutes(app, { audiences: services.audiences, uow });
  taskRoutes(app, { tasks: services.tasks, uow });
  templateRoutes(app, { templates: services.templates, uow });
  outreachRoutes(app, { outreach: services.outreach, uow });
  groupBuyRoutes(app, { groupBuys: services.groupBuys, uow });
  groupBuyDocumentRoutes(app, { groupBuys: services.groupBuys, uow });
  couponRoutes(app, { coupons: services.coupons, uow });
  couponMarketingRoutes(app, { coupons: services.coupons, uow });
  promotionRoutes(app, { promotions: services.promotions, uow });
  checkoutRoutes(app, { checkout: services.checkout, uow });
  referralRoutes(app, { referrals: services.referrals, payments: services.referralPayments, guard: services.referralGuard, hub: services.referralHub, uow });
  referralCallbackRoutes(app, { payments: services.referralPayments });
  // The landing page inlines the same public form the page's API answers (same per-IP limit, same 404).
  landingPageRoutes(app, {
    wechatOauthBaseUrl: config.wechat.oauth_base_url,
    loadForm: async (campaignId, clientIp) => {
      await services.referralGuard.admit(clientIp);
      return services.referrals.publicForm(campaignId);
    },
  });
  // The admin console's pages and built files (public; its API calls carry the operator's session).
  adminConsoleRoutes(app);
  // The poster and WeChat sign-in answer a published campaign's page without a key, under the page's per-IP limit.
  const admitPage = (clientIp: string) => services.referralGuard.admit(clientIp);
  posterRoutes(app, { posters: services.posters, admit: admitPage });
  wechatAuthRoutes(app, { wechat: services.wechat, uow, admit: admitPage });
  mediaRoutes(app, { media: services.media, uow, maxBytes: config.media.max_bytes });
  syncRoutes(app, { sync: services.sync, uow });
  paymentRoutes(app, { merchants: services.merchants, uow });
  sessionRoutes(app, { sessions: services.operatorSessions });
  operatorRoutes(app, { operators: services.operators, audit: services.audit, uow });
  // The sandbox's stored keys are loaded (or generated and stored) once the app starts; a failure is retried at first use.
  app.addHook('onReady', async () => {
    await services.referralSandbox.ready().catch((err: unknown) => app.log.warn({ err }, 'could not load the sandbox payment keys'));
  });


  return app;
}
