/**
 * A tenant's WeChat Pay merchant credentials (admin keys: they hold the private key and the
 * APIv3 key, which are sealed and never answered).
 */
import { Type } from 'typebox';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { WechatPayBody, WechatPayView } from './merchant.schemas.js';
import type { MerchantService } from './merchant.service.js';

const tags = ['payments'];
const admin = { role: 'admin' as const };

export function paymentRoutes(app: Api, deps: { merchants: MerchantService; uow: UnitOfWork }): void {
  const { merchants, uow } = deps;
  app.put(
    '/v1/payments/wechat-pay',
    { config: admin, schema: { tags, summary: "Store the tenant's WeChat Pay merchant credentials (secrets sealed, never answered)", body: WechatPayBody, response: { 200: WechatPayView, ...errors(...authErrors) } } },
    async (request, reply) => uow(request, reply, 200, (trx) => merchants.put(request.actor!, request.body, trx)),
  );
  app.get(
    '/v1/payments/wechat-pay',
    { config: admin, schema: { tags, summary: "The tenant's WeChat Pay merchant (mchid, appid, serials; never a secret)", response: { 200: WechatPayView, ...errors(...authErrors, 404) } } },
    async (request) => merchants.get(request.actor!),
  );
  app.delete(
    '/v1/payments/wechat-pay',
    { config: admin, schema: { tags, summary: "Delete the tenant's WeChat Pay credentials (its wechat_pay campaigns answer 503 until new ones are stored)", response: { 204: Type.Null(), ...errors(...authErrors, 404) } } },
    async (request, reply) => {
      await uow(request, reply, 204, (trx) => merchants.remove(request.actor!, trx));
    },
  );
}
