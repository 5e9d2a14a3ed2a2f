import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import type { ApiKeyService } from './api-key.service.js';
import {
  ApiKey,
  ApiKeyList,
  ApiKeyListQuery,
  ApiKeyParams,
  CreateApiKeyBody,
  CreatedApiKey,
  CreateTenantBody,
  Tenant,
  TenantIdParam,
  TenantList,
  TenantListQuery,
} from './tenant.schemas.js';
import type { TenantService } from './tenant.service.js';

const tags = ['tenants'];

export function tenantRoutes(app: Api, deps: { tenants: TenantService; apiKeys: ApiKeyService; uow: UnitOfWork }): void {
  const { tenants, apiKeys, uow } = deps;

  app.post(
    '/v1/tenants',
    {
      config: { auth: 'master' },
      schema: {
        tags,
        summary: 'Create a tenant (master key)',
        body: CreateTenantBody,
        response: { 201: Tenant, ...errors(...authErrors, 409, 422) },
      },
    },
    async (request, reply) => uow(request, reply, 201, (trx) => tenants.createTenant(request.body, trx)),
  );

  app.get(
    '/v1/tenants',
    {
      config: { auth: 'master' },
      schema: { tags, summary: 'List tenants (master key)', querystring: TenantListQuery, response: { 200: TenantList, ...errors(...authErrors) } },
    },
    async (request) => tenants.listTenants(request.query),
  );

  app.get(
    '/v1/tenants/:tenant_id',
    {
      config: { auth: 'any' },
      schema: { tags, summary: 'Get a tenant (master key or a key of this tenant)', params: TenantIdParam, response: { 200: Tenant, ...errors(...authErrors, 404) } },
    },
    async (request) => tenants.getTenant(request.actor!, request.params.tenant_id),
  );

  app.post(
    '/v1/tenants/:tenant_id/api-keys',
    {
      config: { auth: 'any', role: 'admin' },
      schema: {
        tags,
        summary: 'Create an API key (master key or the tenant\'s admin key); the secret is shown once',
        params: TenantIdParam,
        body: CreateApiKeyBody,
        response: { 201: CreatedApiKey, ...errors(...authErrors, 404, 409, 422) },
      },
    },
    async (request, reply) =>
      uow(request, reply, 201, (trx) => apiKeys.createKey(request.actor!, request.params.tenant_id, request.body, trx), {
        // The secret is shown once: a replay of this request answers without it.
        recordAs: ({ key: _secret, ...rest }) => rest,
      }),
  );

  app.get(
    '/v1/tenants/:tenant_id/api-keys',
    {
      config: { auth: 'any', role: 'admin' },
      schema: {
        tags,
        summary: 'List API keys (no secrets)',
        params: TenantIdParam,
        querystring: ApiKeyListQuery,
        response: { 200: ApiKeyList, ...errors(...authErrors, 404) },
      },
    },
    async (request) => apiKeys.listKeys(request.actor!, request.params.tenant_id, request.query),
  );

  app.delete(
    '/v1/tenants/:tenant_id/api-keys/:key_id',
    {
      config: { auth: 'any', role: 'admin' },
      schema: {
        tags,
        summary: 'Revoke an API key',
        params: ApiKeyParams,
        response: { 200: ApiKey, ...errors(...authErrors, 404) },
      },
    },
    async (request) => apiKeys.revokeKey(request.actor!, request.params.tenant_id, request.params.key_id),
  );
}
