-- Tenant types and channel code-generation quotas.
-- A tenant is a PLATFORM (the default, every existing tenant) or a CHANNEL (a channel partner,
-- the product document's 渠道商, which creates campaigns with their codes in one request).
alter table tenant add column tenant_type text not null default 'PLATFORM'
  check (tenant_type in ('PLATFORM', 'CHANNEL'));

-- How many redeem codes a tenant may generate, per local day and in all (set by the master key;
-- null = no limit of that kind). One row per tenant with a quota; no row = no limit.
-- used_today counts the day `day` (YYYY-MM-DD in time_zone); the charging UPDATE restarts it
-- when the day moved on. Codes of batches later voided stay counted.
create table tenant_code_quota (
  tenant_id text primary key references tenant (tenant_id),
  daily_limit bigint check (daily_limit >= 0),
  total_limit bigint check (total_limit >= 0),
  time_zone text not null,
  day text not null,
  used_today bigint not null default 0 check (used_today >= 0),
  used_total bigint not null default 0 check (used_total >= 0),
  created_at timestamptz not null,
  updated_at timestamptz not null
);
