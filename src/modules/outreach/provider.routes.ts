import { Type } from 'typebox';
import { authErrors, errors } from '../../platform/http/common.schemas.js';
import type { Api } from '../../platform/http/types.js';
import type { UnitOfWork } from '../../platform/http/unit-of-work.js';
import { FrequencyCap, QuietHours } from './campaign.schemas.js';
import type { Outreach } from './outreach.module.js';
import { CreateProviderBody, Provider, ProviderList, ProviderParams, UpdateProviderBody } from './provider.schemas.js';

const tags = ['outreach'];

const Settings = Type.Object({
  tenant_id: Type.String(),
  frequency_cap: Type.Union([FrequencyCap, Type.Null()]),
  quiet_hours: Type.Union([QuietHours, Type.Null()]),
  default_time_zone: Type.String(),
  updated_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
const SettingsBody = Type.Object(
  {
    frequency_cap: Type.Optional(Type.Union([FrequencyCap, Type.Null()])),
    quiet_hours: Type.Optional(Type.Union([QuietHours, Type.Null()])),
    default_time_zone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone for customers without attributes.time_zone' })),
  },
  { additionalProperties: false, minProperties: 1 },
);

/** Providers (admin keys: they hold credentials) and the tenant's outreach settings. */
export function providerRoutes(app: Api, deps: { outreach: Outreach; uow: UnitOfWork }): void {
  const { providers, settings } = deps.outreach;
  const { uow } = deps;
  const admin = { role: 'admin' as const };

  app.post(
    '/v1/outreach/providers',
    { config: admin, schema: { tags, summary: 'Configure a provider (SMTP, an SMS API, FCM, Web Push, a webhook); credentials are sealed', body: CreateProviderBody, response: { 201: Provider, ...errors(...authErrors) } } },
    async (request, reply) => uow(request, reply, 201, (trx) => providers.createProvider(request.actor!, request.body, trx)),
  );
  app.get(
    '/v1/outreach/providers',
    { config: admin, schema: { tags, summary: "The tenant's providers (credentials never shown)", response: { 200: ProviderList, ...errors(...authErrors) } } },
    async (request) => providers.listProviders(request.actor!),
  );
  app.get(
    '/v1/outreach/providers/:provider_id',
    { config: admin, schema: { tags, summary: 'Get a provider', params: ProviderParams, response: { 200: Provider, ...errors(...authErrors, 404) } } },
    async (request) => providers.getProvider(request.actor!, request.params.provider_id),
  );
  app.put(
    '/v1/outreach/providers/:provider_id',
    { config: admin, schema: { tags, summary: 'Change a provider (runs in progress pick it up at their next step)', params: ProviderParams, body: UpdateProviderBody, response: { 200: Provider, ...errors(...authErrors, 404) } } },
    async (request, reply) => uow(request, reply, 200, (trx) => providers.updateProvider(request.actor!, request.params.provider_id, request.body, trx)),
  );
  app.delete(
    '/v1/outreach/providers/:provider_id',
    { config: admin, schema: { tags, summary: 'Remove a provider', params: ProviderParams, response: { 204: Type.Null(), ...errors(...authErrors, 404) } } },
    async (request, reply) => {
      await providers.deleteProvider(request.actor!, request.params.provider_id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/outreach/settings',
    { schema: { tags, summary: "The tenant's frequency cap, quiet hours and default time zone", response: { 200: Settings, ...errors(...authErrors) } } },
    async (request) => settings.get(request.actor!),
  );
  app.put(
    '/v1/outreach/settings',
    { config: admin, schema: { tags, summary: 'Change the tenant defaults (campaigns may override cap and quiet hours)', body: SettingsBody, response: { 200: Settings, ...errors(...authErrors) } } },
    async (request, reply) => uow(request, reply, 200, (trx) => settings.put(request.actor!, request.body, trx)),
  );
}
