import { Type, type Static } from 'typebox';
import { NullableTimestamp, Slug, Timestamp } from '../../platform/http/common.schemas.js';

export const AppKeyParams = Type.Object({ product_code: Slug('The app (product line)') });
export const PublishableKeyParams = Type.Object({
  product_code: Slug('The app (product line)'),
  key_id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
});
export const TokenKeyParams = Type.Object({
  product_code: Slug('The app (product line)'),
  kid: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
});

// scheme://host[:port], checked again by the service (URL parsing): no path, query or fragment.
const Origin = Type.String({ minLength: 8, maxLength: 255, pattern: '^https?://[^/?#\\s]+$', description: 'An exact origin, e.g. https://shop.example.com' });

export const CreatePublishableKeyBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[^\\x00-\\x1f\\x7f]+$' })),
    allowed_origins: Type.Array(Origin, {
      maxItems: 50,
      description: 'Origins browsers may call from with this key ([] for native apps, which send no Origin)',
    }),
  },
  { additionalProperties: false },
);
export type CreatePublishableKeyInput = Static<typeof CreatePublishableKeyBody>;

export const PublishableKey = Type.Object({
  key_id: Type.String(),
  product_code: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  allowed_origins: Type.Array(Type.String()),
  created_at: Timestamp,
  revoked_at: NullableTimestamp,
});
export type PublishableKeyView = Static<typeof PublishableKey>;

export const CreatedPublishableKey = Type.Object({
  ...PublishableKey.properties,
  // Optional only for the Idempotency-Key record, which does not keep it.
  key: Type.Optional(Type.String({ description: 'pk_...: shown once (only its hash is stored); not a secret, it ships in the client' })),
});
export type CreatedPublishableKeyView = Static<typeof CreatedPublishableKey>;

export const PublishableKeyList = Type.Object({ publishable_keys: Type.Array(PublishableKey) });

export const CreateTokenKeyBody = Type.Object(
  {
    alg: Type.Union([Type.Literal('HS256'), Type.Literal('EdDSA')]),
    public_key: Type.Optional(Type.String({ minLength: 40, maxLength: 2000, description: 'EdDSA only: the Ed25519 public key, SPKI PEM' })),
  },
  { additionalProperties: false },
);
export type CreateTokenKeyInput = Static<typeof CreateTokenKeyBody>;

export const TokenKey = Type.Object({
  kid: Type.String(),
  alg: Type.Union([Type.Literal('HS256'), Type.Literal('EdDSA')]),
  product_code: Type.String(),
  public_key: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  revoked_at: NullableTimestamp,
});
export type TokenKeyView = Static<typeof TokenKey>;

export const CreatedTokenKey = Type.Object({
  ...TokenKey.properties,
  secret: Type.Optional(
    Type.String({ description: 'HS256 only, shown once: sign with the UTF-8 bytes of this string (jose: new TextEncoder().encode(secret))' }),
  ),
});
export type CreatedTokenKeyView = Static<typeof CreatedTokenKey>;

export const TokenKeyList = Type.Object({ user_token_keys: Type.Array(TokenKey) });
