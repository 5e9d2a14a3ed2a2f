-- Payments: each tenant's WeChat Pay merchant credentials, the serials of the WeChat
-- Pay platform certificates / public keys each tenant registered (callbacks name one in
-- Wechatpay-Serial: the indexed lookup picks the tenant whose credentials verify it), and the
-- sandbox provider's generated keys, kept so every API process and every restart verifies the
-- same sandbox callbacks. Secrets are sealed with the service's key (src/platform/secret-box.ts).
create table payment_merchant (
  tenant_id text not null primary key,
  mchid text not null,
  appid text not null,
  serial_no text not null,
  -- [{serial_no, public_key_pem}]: public material, kept in clear.
  platform_certificates jsonb not null,
  base_url text,
  -- {private_key_pem, apiv3_key}, sealed.
  secret_sealed text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null
);

create table payment_platform_serial (
  serial_no text not null,
  tenant_id text not null references payment_merchant (tenant_id) on delete cascade,
  primary key (serial_no, tenant_id)
);

create index payment_platform_serial_tenant on payment_platform_serial (tenant_id);

create table payment_sandbox_key (
  name text not null primary key,
  keys_sealed text not null,
  created_at timestamptz not null
);

-- The referral settings name the WeChat app (AppID) the page signs in with (null: the tenant's only app).
alter table referral_campaign add column wechat_app_id text;
