-- Operator accounts of the admin console, their sign-in sessions, and the audit log.
-- An operator belongs to one tenant, or to none (tenant_id null): a platform operator, who acts
-- with the master key's rights. Roles: admin / operator / viewer (the API roles admin / service /
-- readonly). password_hash is an argon2id PHC string; the password itself is never stored.
create table operator (
  operator_id text primary key,
  tenant_id text references tenant (tenant_id),
  email text not null,
  name text not null,
  role text not null check (role in ('admin', 'operator', 'viewer')),
  password_hash text not null,
  disabled boolean not null default false,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  password_changed_at timestamptz not null
);
-- One account per e-mail address (case-insensitive) per tenant, and one among platform operators.
-- Tenant ids never are the empty string (they start with a letter or digit).
create unique index operator_email_unique on operator (coalesce(tenant_id, ''), lower(email));
create index operator_tenant on operator (tenant_id, created_at);

-- A signed-in browser. Only the SHA-256 of the cookie value is stored: a copy of this table signs
-- nobody in. Idle expiry is last_seen_at + the configured idle time; expires_at is absolute.
create table operator_session (
  session_hash text primary key,
  operator_id text not null references operator (operator_id) on delete cascade,
  created_at timestamptz not null,
  last_seen_at timestamptz not null,
  expires_at timestamptz not null
);
create index operator_session_operator on operator_session (operator_id);

-- Who changed what: every non-GET request answered below 400 by an operator session, an API key
-- (except the high-volume end-user routes, docs/console.md) or the master key.
create table audit_log (
  audit_id text primary key,
  tenant_id text,
  actor_kind text not null check (actor_kind in ('operator', 'api_key', 'master')),
  operator_id text,
  key_id text,
  method text not null,
  route text not null,
  entity_id text,
  status integer not null,
  request_id text not null,
  at timestamptz not null
);
create index audit_log_tenant_at on audit_log (tenant_id, at desc, audit_id desc);
create index audit_log_at on audit_log (at desc, audit_id desc);
