-- WeChat apps (mini-programs) of a tenant for WeChat sign-in: the AppSecret is sealed with the
-- service's secret key (src/platform/secret-box.ts) and never answered by the API.
create table wechat_app (
  tenant_id text not null,
  app_id text not null,
  name text,
  secret_sealed text not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, app_id)
);
