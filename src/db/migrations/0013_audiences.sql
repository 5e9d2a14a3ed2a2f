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

-- A JSON attribute as an instant, or null when it is not a date: "YYYY-MM-DD" (midnight UTC) or
-- an RFC 3339 date-time "YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM)". Attributes are free-form,
-- so "2024-02-30" or "soon" must give null rather than fail the whole audience query: the shape is
-- checked first (digits mapped to 9 by translate(), compared with the accepted shapes: about twice
-- as fast as a regular expression over a million rows), then every field's range, and only then
-- the cast (nested CASE: evaluated in that order). No exception handler: that would open a
-- subtransaction per row.
create function mh_instant(value text) returns timestamptz
language sql stable parallel safe
as $$
  select case
    when translate(value, '0123456789+', '9999999999-') = any ('{9999-99-99,9999-99-99T99:99:99Z,9999-99-99T99:99:99-99:99,9999-99-99T99:99:99.9Z,9999-99-99T99:99:99.9-99:99,9999-99-99T99:99:99.99Z,9999-99-99T99:99:99.99-99:99,9999-99-99T99:99:99.999Z,9999-99-99T99:99:99.999-99:99,9999-99-99T99:99:99.9999Z,9999-99-99T99:99:99.9999-99:99,9999-99-99T99:99:99.99999Z,9999-99-99T99:99:99.99999-99:99,9999-99-99T99:99:99.999999Z,9999-99-99T99:99:99.999999-99:99}'::text[])
    then case
      when substr(value, 1, 4) <> '0000'
       and substr(value, 6, 2) between '01' and '12'
       and substr(value, 9, 2) between '01' and (case substr(value, 6, 2)
             when '02' then (case when substr(value, 1, 4)::int % 4 = 0
                                   and (substr(value, 1, 4)::int % 100 <> 0 or substr(value, 1, 4)::int % 400 = 0)
                                  then '29' else '28' end)
             when '04' then '30' when '06' then '30' when '09' then '30' when '11' then '30'
             else '31' end)
       and (length(value) = 10
            or (substr(value, 12, 2) <= '23' and substr(value, 15, 2) <= '59' and substr(value, 18, 2) <= '59'
                and (right(value, 1) = 'Z' or (substr(value, length(value) - 4, 2) <= '15' and right(value, 2) <= '59'))))
      then (case when length(value) = 10 then value || 'T00:00:00Z' else value end)::timestamptz
    end
  end
$$;
