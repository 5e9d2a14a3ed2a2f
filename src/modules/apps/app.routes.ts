import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { App, AppList, AppListQuery, AppParams, CreateAppBody, UpdateAppBody } from './app.schemas.js';
import type { AppService } from './app.service.js';

const tags = ['apps'];

export function appRoutes(app: Api, deps: { apps: AppService; uow: UnitOfWork }): void {
  const { apps, uow } = deps;

  app.post(
    '/v1/apps',
    {
      config: { role: 'admin' },
      schema: {
        tags,
        summary: 'Register an app / product line (tenant admin key)',
        body: CreateAppBody,
        response: { 201: App, ...errors(...authErrors, 409, 422) },
      },
    },
    async (request, reply) => uow(request, reply, 201, (trx) => apps.createApp(request.actor!, request.body, trx)),
  );

  app.get(
    '/v1/apps',
    { schema: { tags, summary: 'List apps', querystring: AppListQuery, response: { 200: AppList, ...errors(...authErrors) } } },
    async (request) => apps.listApps(request.actor!, request.query),
  );

  app.get(
    '/v1/apps/:product_code',
    { schema: { tags, summary: 'Get an app', params: AppParams, response: { 200: App, ...errors(...authErrors, 404) } } },
    async (request) => apps.getApp(request.actor!, request.params.product_code),
  );

  app.put(
    '/v1/apps/:product_code',
    {
      config: { role: 'admin' },
      schema: {
        tags,
        summary: 'Rename an app and / or set its redemption quotas',
        params: AppParams,
        body: UpdateAppBody,
        response: { 200: App, ...errors(...authErrors, 404) },
      },
    },
    async (request) => apps.updateApp(request.actor!, request.params.product_code, request.body),
  );
}
