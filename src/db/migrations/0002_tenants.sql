-- Tenants, their API keys, and their apps (the seed's product lines, keyed by product_code).

create table tenant (
  tenant_id text primary key,
  name text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null
);

create table api_key (
  tenant_id text not null references tenant (tenant_id),
  key_id text not null,
  name text not null,
  role text not null check (role in ('admin', 'service', 'readonly')),
  -- The visible start of the secret (`mhk_XXXXXXXX`), used to find the row; the secret itself
  -- is only stored as a SHA-256 digest.
  prefix text not null,
  secret_hash text not null,
  product_codes text[],
  created_at timestamptz not null,
  last_used_at timestamptz,
  revoked_at timestamptz,
  primary key (tenant_id, key_id)
);

create unique index api_key_prefix on api_key (prefix);

create table app (
  tenant_id text not null references tenant (tenant_id),
  product_code text not null,
  name text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, product_code)
);
