/**
 * WeChat sign-in: `POST /api/v1/auth/wechat` (the product document's path, verbatim) and
 * `POST /v1/auth/wechat`, the same call; and the tenant's WeChat apps, `PUT` / `GET
 * /v1/wechat/apps/{app_id}` (admin keys: they hold credentials). Sign-in takes a tenant key; the
 * document's path also answers a published campaign's landing page without one.
 */
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import { resolveClientIp } from '../../platform/client-ip.js';
import type { Api, RouteAuth } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { AppParams, PutAppBody, SignInAnswer, SignInBody, WechatApp } from './wechat.schemas.js';
import type { WechatAuthService } from './wechat.service.js';

const tags = ['wechat'];

export function wechatAuthRoutes(app: Api, deps: { wechat: WechatAuthService; uow: UnitOfWork; admit: (clientIp: string) => Promise<void> }): void {
  const { wechat, uow } = deps;
  // Not replayed by Idempotency-Key: the codes are single-use at WeChat, and the answer (a phone number) is not to be stored.
  // The document's path also answers the landing page without a key ({code, campaign_id}; per-IP limit first).
  for (const path of ['/api/v1/auth/wechat', '/v1/auth/wechat']) {
    const auth: RouteAuth = path.startsWith('/api/') ? 'optional' : 'tenant';
    app.post(
      path,
      {
        config: { auth, idempotent: false },
        schema: {
          tags,
          summary: 'WeChat sign-in: wx.login code -> openid (and the phone number with a getPhoneNumber code)',
          body: SignInBody,
          response: { 200: SignInAnswer, ...errors(...authErrors, 404, 422, 429, 503) },
        },
      },
      async (request) => {
        if (!request.actor) await deps.admit(resolveClientIp(request).ip);
        return wechat.signIn(request.actor, request.body);
      },
    );
  }
  const admin = { auth: 'tenant' as const, role: 'admin' as const };
  app.put(
    '/v1/wechat/apps/:app_id',
    { config: admin, schema: { tags, summary: 'Create or replace a WeChat app (AppID and AppSecret) of the tenant', params: AppParams, body: PutAppBody, response: { 200: WechatApp, ...errors(...authErrors) } } },
    async (request, reply) => uow(request, reply, 200, (trx) => wechat.putApp(request.actor!, request.params.app_id, request.body, trx)),
  );
  app.get(
    '/v1/wechat/apps/:app_id',
    { config: admin, schema: { tags, summary: 'A WeChat app of the tenant (never its secret)', params: AppParams, response: { 200: WechatApp, ...errors(...authErrors, 404) } } },
    async (request) => wechat.getApp(request.actor!, request.params.app_id),
  );
}
