import { Type } from 'typebox';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import type { ApiKeyService } from './api-key.service.js';
import {
  ApiKey,
  ApiKeyList,
  ApiKeyListQuery,
  ApiKeyParams,
  CodeQuota,
  CreateApiKeyBody,
  CreatedApiKey,
  CreateTenantBody,
  SetCodeQuotaBody,
  Tenant,
  TenantIdParam,
  TenantList,
  TenantListQuery,
  UpdateTenantBody,
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

  app.put(
    '/v1/tenants/:tenant_id',
    {
      config: { auth: 'master' },
      schema: {
        tags,
        summary: 'Rename a tenant or set its type, PLATFORM or CHANNEL (master key)',
        params: TenantIdParam,
        body: UpdateTenantBody,
        response: { 200: Tenant, ...errors(...authErrors, 404, 422) },
      },
    },
    async (request, reply) => uow(request, reply, 200, (trx) => tenants.updateTenant(request.params.tenant_id, request.body, trx)),
  );

  app.get(
    '/v1/tenants/:tenant_id/code-quota',
    {
      config: { auth: 'any' },
      schema: {
        tags,
        summary: "The tenant's redeem-code generation quota and what is left today and in all (master key or a key of this tenant)",
        params: TenantIdParam,
        response: { 200: CodeQuota, ...errors(...authErrors, 404) },
      },
    },
    async (request) => tenants.getCodeQuota(request.actor!, request.params.tenant_id),
  );

  app.put(
    '/v1/tenants/:tenant_id/code-quota',
    {
      config: { auth: 'master' },
      schema: {
        tags,
        summary: 'Set the redeem codes a tenant may generate per day and in all (master key); the counters stay',
        description: 'Every batch of codes the tenant creates is charged in its own transaction; past a limit it is refused with code_quota_exceeded (429 for the day, 409 for the total). Voided batches stay counted.',
        params: TenantIdParam,
        body: SetCodeQuotaBody,
        response: { 200: CodeQuota, ...errors(...authErrors, 404, 422) },
      },
    },
    async (request, reply) => uow(request, reply, 200, (trx) => tenants.setCodeQuota(request.params.tenant_id, request.body, trx)),
  );

  app.delete(
    '/v1/tenants/:tenant_id/code-quota',
    {
      config: { auth: 'master' },
      schema: {
        tags,
        summary: "Remove a tenant's code quota (master key): it generates without limit again",
        params: TenantIdParam,
        response: { 204: Type.Null(), ...errors(...authErrors, 404) },
      },
    },
    async (request, reply) => {
      await tenants.removeCodeQuota(request.params.tenant_id);
      return reply.code(204).send(null);
    },
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
