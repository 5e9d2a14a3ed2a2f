-- Client-side access (browsers, apps, mini-programs): publishable keys per app and the keys that
-- verify the tenant's end-user tokens. A publishable key is not a secret (it ships in page source),
-- but only its SHA-256 is stored, as for API keys: the digest finds the row.
create table publishable_key (
  tenant_id text not null,
  key_id text not null,
  product_code text not null,
  name text,
  key_hash text not null,
  -- Exact origins (scheme://host[:port]) a browser may call from with this key.
  allowed_origins text[] not null,
  created_at timestamptz not null,
  revoked_at timestamptz,
  primary key (tenant_id, key_id),
  foreign key (tenant_id, product_code) references app (tenant_id, product_code)
);
create unique index publishable_key_hash on publishable_key (key_hash);
create index publishable_key_app on publishable_key (tenant_id, product_code, created_at);

-- Keys that verify end-user JWTs of one app, chosen by the token's `kid`. HS256: a generated secret,
-- sealed with the service's secret key (src/platform/secret-box.ts), shown once. EdDSA: the tenant's
-- Ed25519 public key (SPKI PEM).
create table user_token_key (
  tenant_id text not null,
  product_code text not null,
  kid text not null,
  alg text not null check (alg in ('HS256', 'EdDSA')),
  secret_sealed text,
  public_key text,
  created_at timestamptz not null,
  revoked_at timestamptz,
  primary key (tenant_id, product_code, kid),
  foreign key (tenant_id, product_code) references app (tenant_id, product_code),
  check ((alg = 'HS256' and secret_sealed is not null and public_key is null) or (alg = 'EdDSA' and public_key is not null and secret_sealed is null))
);
