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

-- A JSON attribute as an instant, or null when it is not an RFC 3339 / ISO 8601 date(-time).
-- Attributes are free-form, so a value like "2024-02-30" or "soon" must give null rather than
-- fail the whole audience query; the checks run before the cast (nested CASE: evaluated in
-- order), and no exception handler is used (that would open a subtransaction per row).
create function mh_instant(value text) returns timestamptz
language sql stable parallel safe
as $$
  select case
    when value ~ '^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?)?([Zz]|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?$'
    then case
      when substr(value, 9, 2)::int <= extract(day from (make_date(substr(value, 1, 4)::int, substr(value, 6, 2)::int, 1) + interval '1 month - 1 day'))
      then value::timestamptz
    end
  end
$$;
