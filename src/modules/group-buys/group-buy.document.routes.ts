/**
 * The product document's own group-buy paths, verbatim, as thin adapters over the group-buy
 * service: `POST /marketing/group-buy` opens a group of an activity (the leader joins it) and
 * `POST /marketing/group-buy/{group_id}/join` joins one. Same checks and codes as /v1/group-buys;
 * messages default to the document's language (zh-CN: an inactive activity is 400
 * "活动未开始或已结束") unless Accept-Language prefers English. Both are limited per end user and
 * per end-user IP (`client_ip`) like the /v1 routes (rate_limits.group_buy_join).
 */
import { Type } from 'typebox';
import { endUserIp } from '../../platform/client-ip.js';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { inLanguage } from './group-buy.language.js';
import { Group, GroupParams, JoinBody } from './group-buy.schemas.js';
import type { GroupBuyService } from './group-buy.service.js';

const tags = ['group-buys: product document paths'];
// A client (publishable key, docs/clients.md) may open and join groups for its token's user.
const clientConfig = { auth: 'tenant' as const, client: { user: 'body.user_id' as const } };

const CreateBody = Type.Object(
  {
    activity_id: Type.String({ minLength: 1, maxLength: 64, description: 'The group-buy activity (POST /v1/group-buys/activities)' }),
    user_id: JoinBody.properties.user_id,
    order_id: JoinBody.properties.order_id,
    client_ip: JoinBody.properties.client_ip,
  },
  { additionalProperties: false },
);

export function groupBuyDocumentRoutes(app: Api, deps: { groupBuys: GroupBuyService; uow: UnitOfWork }): void {
  const { groupBuys, uow } = deps;

  app.post(
    '/marketing/group-buy',
    { config: clientConfig, schema: { tags, summary: 'Open a group (创建拼团): the leader joins it', body: CreateBody, response: { 201: Group, ...errors(...authErrors, 404, 409, 429) } } },
    async (request, reply) =>
      inLanguage(request, 'zh-CN', async () => {
        const { activity_id: activityId, ...join } = request.body;
        await groupBuys.admit(request.actor!, join.user_id, endUserIp(request, join.client_ip, { serverCaller: true }));
        return uow(request, reply, 201, (trx) => groupBuys.openGroup(request.actor!, activityId, join, trx));
      }),
  );
  app.post(
    '/marketing/group-buy/:group_id/join',
    { config: clientConfig, schema: { tags, summary: 'Join a group (参与拼团)', params: GroupParams, body: JoinBody, response: { 200: Group, ...errors(...authErrors, 404, 409, 429) } } },
    async (request, reply) =>
      inLanguage(request, 'zh-CN', async () => {
        await groupBuys.admit(request.actor!, request.body.user_id, endUserIp(request, request.body.client_ip, { serverCaller: true }));
        return uow(request, reply, 200, (trx) => groupBuys.joinGroup(request.actor!, request.params.group_id, request.body, trx));
      }),
  );
}
