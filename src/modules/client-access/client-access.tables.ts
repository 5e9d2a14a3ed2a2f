/** A publishable key of one app (0050_client_access.sql); only the key's SHA-256 is kept. */
export interface PublishableKeyTable {
  tenant_id: string;
  key_id: string;
  product_code: string;
  name: string | null;
  key_hash: string;
  allowed_origins: string[];
  created_at: Date;
  revoked_at: Date | null;
}

/** A key that verifies an app's end-user tokens, chosen by the token's `kid`. */
export interface UserTokenKeyTable {
  tenant_id: string;
  product_code: string;
  kid: string;
  alg: 'HS256' | 'EdDSA';
  /** HS256: the generated secret, sealed (platform/secret-box.ts). */
  secret_sealed: string | null;
  /** EdDSA: the tenant's Ed25519 public key, SPKI PEM. */
  public_key: string | null;
  created_at: Date;
  revoked_at: Date | null;
}

export interface ClientAccessTables {
  publishable_key: PublishableKeyTable;
  user_token_key: UserTokenKeyTable;
}
