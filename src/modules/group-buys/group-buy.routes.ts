import { endUserIp } from '../../platform/client-ip.js';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { inLanguage } from './group-buy.language.js';
import {
  Activity,
  ActivityList,
  ActivityStats,
  ActivityListQuery,
  ActivityParams,
  CreateActivityBody,
  Group,
  GroupList,
  GroupListQuery,
  GroupParams,
  JoinBody,
  UpdateActivityBody,
} from './group-buy.schemas.js';
import type { GroupBuyService } from './group-buy.service.js';

const tags = ['group-buys'];

/** Group-buy (拼团) activities (admin keys) and their groups (service keys open and join). */
export function groupBuyRoutes(app: Api, deps: { groupBuys: GroupBuyService; uow: UnitOfWork }): void {
  const { groupBuys, uow } = deps;
  const admin = { role: 'admin' as const };

  app.post(
    '/v1/group-buys/activities',
    { config: admin, schema: { tags, summary: 'Create a group-buy activity', body: CreateActivityBody, response: { 201: Activity, ...errors(...authErrors) } } },
    async (request, reply) => inLanguage(request, 'en', () => uow(request, reply, 201, (trx) => groupBuys.createActivity(request.actor!, request.body, trx))),
  );
  app.get(
    '/v1/group-buys/activities',
    { schema: { tags, summary: 'List group-buy activities', querystring: ActivityListQuery, response: { 200: ActivityList, ...errors(...authErrors) } } },
    async (request) => groupBuys.listActivities(request.actor!, request.query),
  );
  app.get(
    '/v1/group-buys/activities/:activity_id',
    { schema: { tags, summary: 'Get a group-buy activity', params: ActivityParams, response: { 200: Activity, ...errors(...authErrors, 404) } } },
    async (request) => inLanguage(request, 'en', () => groupBuys.getActivity(request.actor!, request.params.activity_id)),
  );
  app.get(
    '/v1/group-buys/activities/:activity_id/stats',
    {
      schema: {
        tags,
        summary: 'Figures of an activity: groups opened, open, succeeded, failed, virtually filled; participants, members, success rate, average time to fill',
        params: ActivityParams,
        response: { 200: ActivityStats, ...errors(...authErrors, 404) },
      },
    },
    async (request) => inLanguage(request, 'en', () => groupBuys.activityStats(request.actor!, request.params.activity_id)),
  );
  app.put(
    '/v1/group-buys/activities/:activity_id',
    {
      config: admin,
      schema: { tags, summary: 'Change an activity before it starts', params: ActivityParams, body: UpdateActivityBody, response: { 200: Activity, ...errors(...authErrors, 404, 409) } },
    },
    async (request, reply) =>
      inLanguage(request, 'en', () => uow(request, reply, 200, (trx) => groupBuys.updateActivity(request.actor!, request.params.activity_id, request.body, trx))),
  );
  app.post(
    '/v1/group-buys/activities/:activity_id/end',
    { config: admin, schema: { tags, summary: 'End an activity now (its open groups settle at the next sweep)', params: ActivityParams, response: { 200: Activity, ...errors(...authErrors, 404, 409) } } },
    async (request, reply) => inLanguage(request, 'en', () => uow(request, reply, 200, (trx) => groupBuys.endActivity(request.actor!, request.params.activity_id, trx))),
  );
  app.post(
    '/v1/group-buys/activities/:activity_id/groups',
    {
      config: { client: { user: 'body.user_id' } },
      schema: {
        tags,
        summary: 'Open a group; the leader is its first member (rate_limits.group_buy_join applies)',
        params: ActivityParams,
        body: JoinBody,
        response: { 201: Group, ...errors(...authErrors, 404, 409, 429) },
      },
    },
    async (request, reply) =>
      inLanguage(request, 'en', async () => {
        await groupBuys.admit(request.actor!, request.body.user_id, endUserIp(request, request.body.client_ip, { serverCaller: true }));
        return uow(request, reply, 201, (trx) => groupBuys.openGroup(request.actor!, request.params.activity_id, request.body, trx));
      }),
  );
  app.get(
    '/v1/group-buys/activities/:activity_id/groups',
    {
      schema: { tags, summary: "An activity's groups (status=open: the groups still joinable, soonest to expire first)", params: ActivityParams, querystring: GroupListQuery, response: { 200: GroupList, ...errors(...authErrors, 404) } },
    },
    async (request) => inLanguage(request, 'en', () => groupBuys.listGroups(request.actor!, request.params.activity_id, request.query)),
  );
  app.post(
    '/v1/group-buys/groups/:group_id/join',
    {
      config: { client: { user: 'body.user_id' } },
      schema: { tags, summary: 'Join a group (rate_limits.group_buy_join applies)', params: GroupParams, body: JoinBody, response: { 200: Group, ...errors(...authErrors, 404, 409, 429) } },
    },
    async (request, reply) =>
      inLanguage(request, 'en', async () => {
        await groupBuys.admit(request.actor!, request.body.user_id, endUserIp(request, request.body.client_ip, { serverCaller: true }));
        return uow(request, reply, 200, (trx) => groupBuys.joinGroup(request.actor!, request.params.group_id, request.body, trx));
      }),
  );
  app.get(
    '/v1/group-buys/groups/:group_id',
    { schema: { tags, summary: 'A group with its members', params: GroupParams, response: { 200: Group, ...errors(...authErrors, 404) } } },
    async (request) => inLanguage(request, 'en', () => groupBuys.getGroup(request.actor!, request.params.group_id)),
  );
}
