import { Type, type Static } from 'typebox';
import { Timestamp } from '../../platform/http/common.schemas.js';

// A WeChat AppID as WeChat issues them to mini-programs and official accounts: wx and 16 hex digits.
const AppId = Type.String({ minLength: 18, maxLength: 18, pattern: '^wx[0-9a-f]{16}$', description: 'The WeChat AppID, e.g. wx1234567890abcdef' });
// wx.login / getPhoneNumber codes: short printable tokens.
const Code = (description: string) => Type.String({ minLength: 1, maxLength: 256, pattern: '^[\\x21-\\x7e]+$', description });

export const AppParams = Type.Object({ app_id: AppId });

export const PutAppBody = Type.Object(
  {
    secret: Type.String({ minLength: 8, maxLength: 256, pattern: '^[\\x21-\\x7e]+$', description: 'The AppSecret: stored sealed, never answered' }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[^\\x00-\\x1f\\x7f]+$' })),
  },
  { additionalProperties: false },
);
export type PutAppInput = Static<typeof PutAppBody>;

export const WechatApp = Type.Object({
  app_id: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  secret_set: Type.Boolean({ description: 'Always true: the secret itself is never answered' }),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type WechatAppView = Static<typeof WechatApp>;

export const SignInBody = Type.Object(
  {
    code: Code("The code of wx.login() in the mini-program, or (kind web) the code WeChat's web authorisation sent back to the page"),
    kind: Type.Optional(
      Type.Union([Type.Literal('mini_program'), Type.Literal('web')], {
        description: "mini_program (default): a wx.login code, exchanged at WeChat's jscode2session. web: an official account's web authorisation code (snsapi_base), exchanged at WeChat's oauth2/access_token",
      }),
    ),
    phone_code: Type.Optional(Code('The code of the getPhoneNumber button, when the user granted the phone number')),
    app_id: Type.Optional(AppId),
    campaign_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\x00-\\x1f\\x7f]+$', description: "Without a key: the published campaign whose page signs in (its referral settings name the app); ignored with a key" })),
  },
  { additionalProperties: false },
);
export type SignInInput = Static<typeof SignInBody>;

export const SignInAnswer = Type.Object({
  openid: Type.String(),
  unionid: Type.Union([Type.String(), Type.Null()], { description: 'Null unless the app is bound to a WeChat open platform account' }),
  phone_number: Type.Optional(Type.String({ description: 'Only with phone_code' })),
});
export type SignInView = Static<typeof SignInAnswer>;
