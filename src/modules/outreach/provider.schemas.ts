import { Type, type Static } from 'typebox';
import { Timestamp } from '../../platform/http/common.schemas.js';

const Settings = (description: string) =>
  Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 30, description });

export const CreateProviderBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    kind: Type.String({ minLength: 1, maxLength: 32, description: 'smtp, sms_generic, twilio, aliyun_sms, fcm, web_push, webhook' }),
    config: Settings('Settings that are not secret (host, sender, account id); shown back'),
    secrets: Settings('Credentials; sealed when stored and never shown back'),
    rate_per_second: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 10, description: 'Messages per second over all processes' })),
    is_default: Type.Optional(Type.Boolean({ description: "The channel's provider for campaigns that name none" })),
  },
  { additionalProperties: false },
);
export type CreateProviderInput = Static<typeof CreateProviderBody>;

export const UpdateProviderBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    config: Type.Optional(Settings('Replaces the settings')),
    secrets: Type.Optional(Settings('Replaces the credentials')),
    rate_per_second: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    is_default: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateProviderInput = Static<typeof UpdateProviderBody>;

export const Provider = Type.Object({
  provider_id: Type.String(),
  tenant_id: Type.String(),
  name: Type.String(),
  channel: Type.String(),
  kind: Type.String(),
  config: Type.Unknown(),
  secret_fields: Type.Array(Type.String(), { description: 'Names of the stored credentials (values are never shown)' }),
  rate_per_second: Type.Integer(),
  is_default: Type.Boolean(),
  callback_url: Type.String({ description: 'Where the provider posts status reports (path; prefix your public base URL)' }),
  inbound_url: Type.String({ description: 'Where the provider posts inbound messages (SMS replies)' }),
  created_by: Type.String(),
  updated_by: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type ProviderView = Static<typeof Provider>;
export const ProviderList = Type.Object({ providers: Type.Array(Provider) });
export const ProviderParams = Type.Object({ provider_id: Type.String({ minLength: 1, maxLength: 64 }) });
