import { type Static, Type } from 'typebox';
import { Timestamp } from '../../platform/http/common.schemas.js';

const Serial = (description: string) => Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9A-Za-z_]+$', description });
const Pem = (description: string) => Type.String({ minLength: 1, maxLength: 16_384, description });

export const WechatPayBody = Type.Object(
  {
    mchid: Type.String({ minLength: 1, maxLength: 32, pattern: '^[0-9]+$', description: 'The merchant id (商户号)' }),
    appid: Type.String({ minLength: 1, maxLength: 32, pattern: '^[0-9A-Za-z_]+$', description: 'The AppID bound to the merchant (JSAPI openids belong to it)' }),
    serial_no: Serial('The merchant API certificate serial number'),
    private_key_pem: Pem('apiclient_key.pem (PKCS#8): stored sealed, never answered'),
    apiv3_key: Type.String({ minLength: 1, maxLength: 64, description: 'The APIv3 key, 32 characters: stored sealed, never answered' }),
    platform_certificates: Type.Array(Type.Object({ serial_no: Serial('The certificate serial or the public key id (PUB_KEY_ID_...)'), public_key_pem: Pem('A certificate or public key PEM') }, { additionalProperties: false }), {
      minItems: 1,
      maxItems: 10,
      description: 'WeChat Pay platform certificates or WeChat Pay public keys, by serial (list the old and the new during a rotation)',
    }),
    base_url: Type.Optional(Type.Union([Type.String({ maxLength: 512, pattern: '^https?://[^\\s]+$' }), Type.Null()], { description: 'Leave unset (https://api.mch.weixin.qq.com); tests point it at a local peer' })),
  },
  { additionalProperties: false },
);
export type WechatPayInput = Static<typeof WechatPayBody>;

export const WechatPayView = Type.Object({
  configured: Type.Boolean(),
  mchid: Type.String(),
  appid: Type.String(),
  serial_no: Type.String(),
  platform_serials: Type.Array(Type.String()),
  base_url: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type WechatPayViewType = Static<typeof WechatPayView>;
