-- Customer profiles (issue 5): what audiences select on. One row per (tenant, user_id), the
-- caller's own id of the user, so a profile needs no registration step: PUT, a tag change or an
-- import creates it.

create table customer (
  tenant_id text not null references tenant (tenant_id),
  user_id text not null,
  -- A set (kept sorted and distinct by every writer), so tag changes are one array expression.
  tags text[] not null default '{}',
  -- Free-form JSON object; PUT merges top-level keys into it.
  attributes jsonb not null default '{}',
  -- The date-valued attributes as instants: {"registered_at": 1734652800000, "trial.ends": ...}
  -- (attribute path -> epoch milliseconds), parsed once when written, so a segment on a date
  -- attribute compares numbers instead of validating and parsing strings per row.
  attribute_dates jsonb not null default '{}',
  -- Per channel: {"sms": {"status": "opt_in", "updated_at": "..."}, "email": ..., "push": ...}.
  consent jsonb not null default '{}',
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (tenant_id, user_id),
  -- The cap holds under any number of parallel tag additions: the array update is checked here.
  constraint customer_tag_limit check (cardinality(tags) <= 256)
);

-- Audience SQL uses `tags @> array[...]` (all), `tags && array[...]` (any) and
-- `attributes @> '{"k": v}'` (eq / contains): GIN answers all three. jsonb_ops (not
-- jsonb_path_ops) so that key existence (`?`) can use it too.
create index customer_tags on customer using gin (tags);
create index customer_attributes on customer using gin (attributes);
-- Relative-date segments on the profile's own first-seen time ("registered in the last 30 days").
create index customer_created on customer (tenant_id, created_at);
