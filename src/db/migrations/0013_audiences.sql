-- Audiences (issue 5): who a campaign is for. TAG and SEGMENT audiences are rules evaluated over
-- the customer table as SQL; LIST audiences are static user ids in audience_member.

create table audience (
  tenant_id text not null,
  audience_id text not null,
  product_code text not null,
  audience_name text not null,
  audience_type text not null check (audience_type in ('TAG', 'SEGMENT', 'LIST')),
  description text,
  -- TAG: {tags_any?, tags_all?, tags_none?}; SEGMENT: the rule tree; LIST: null. Validated on save.
  rule jsonb,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  version integer not null default 1,
  primary key (tenant_id, audience_id),
  foreign key (tenant_id, product_code) references app (tenant_id, product_code)
);
create index audience_list on audience (tenant_id, created_at desc);

create table audience_member (
  tenant_id text not null,
  audience_id text not null,
  user_id text not null,
  added_at timestamptz not null,
  primary key (tenant_id, audience_id, user_id),
  foreign key (tenant_id, audience_id) references audience (tenant_id, audience_id) on delete cascade
);
-- Erasing a customer removes them from every list.
create index audience_member_user on audience_member (tenant_id, user_id);
